"""Composition root of the intake service."""

import asyncio
from datetime import timedelta

from fastapi import FastAPI
from opentelemetry.sdk.trace.export import SpanExporter

from kcc_shared.access import MISSING
from kcc_shared.contracts import (
    CALL_EVENTS, CONTACT_ACKNOWLEDGED, CONTACT_ANSWERED, CONTACT_RECEIVED, CONTACT_ROUTED, COUNTER_EVENTS, ERASURE_COMPLETED,
    ERASURE_REQUESTED, ContactRouted,
)
from kcc_shared.erasure import take_part_in_erasure
from kcc_shared.leases import Lease, holder_name
from kcc_shared.periodic import PeriodicJob
from kcc_shared.pseudonyms import Pseudonymiser
from kcc_shared.runtime import Infrastructure, create_service_app
from kcc_shared.tasks import bounded
from kcc_shared.webhooks import MongoSeenSignatures, WebhookVerifier

from kcc_intake import api, privacy_api, replies_api
from kcc_intake.attachments import AttachmentStore, Limits
from kcc_intake.delivery import DeliveryRepository, DeliveryWorker, Senders
from kcc_intake.limits import add_request_limits
from kcc_intake.groupcommit import GroupCommit
from kcc_intake.mail import EmailIntake, start_smtp
from kcc_intake.outbox import OutboxRelay
from kcc_intake.privacy import PrivacyRepository, PrivacyService
from kcc_intake.replies import ReplyService
from kcc_intake.repository import AccessLogRepository, ContactRepository, OutboxRepository, PendingStore, ReplyRepository
from kcc_intake.service import IntakeService
from kcc_intake.settings import IntakeSettings


def create_app(settings: IntakeSettings, *, span_exporter: SpanExporter | None = None) -> FastAPI:
    infra = Infrastructure.build(settings, span_exporter=span_exporter)
    infra.produces(CONTACT_RECEIVED, CALL_EVENTS, COUNTER_EVENTS, CONTACT_ACKNOWLEDGED, CONTACT_ANSWERED, ERASURE_REQUESTED)
    contacts, outbox, pending = ContactRepository(infra.db), OutboxRepository(infra.db), PendingStore(infra.db)
    access_log = AccessLogRepository(infra.db, keep_days=settings.access_log_days)
    attachments, replies_store, deliveries = AttachmentStore(infra.db), ReplyRepository(infra.db), DeliveryRepository(infra.db)
    limits = Limits(per_attachment=settings.max_attachment_bytes, per_contact=settings.max_contact_attachment_bytes)
    relay = OutboxRelay(
        store=pending, broker=infra.broker, registry=infra.registry, ack_timeout_s=settings.outbox_ack_timeout_s
    )
    infra.checks["outbox"] = relay.readiness
    pseudonyms = Pseudonymiser(settings.privacy.pseudonym_secret.get_secret_value())
    privacy_store = PrivacyRepository(infra.db)
    privacy = PrivacyService(
        repository=privacy_store, pseudonyms=pseudonyms, retention_months=settings.retention_months,
        erasure_services=settings.erasure_services, source=infra.source,
        record=lambda event, *, topic: intake.record(event, topic=topic),  # erasure requests go through the outbox
    )
    commit = GroupCommit(
        contacts=contacts, outbox=outbox, registry=privacy_store, batches=pending, relay=relay,
        tracer_provider=infra.tracer_provider,
        metrics=infra.registry, linger_s=settings.commit_linger_s, max_batch=settings.commit_max_batch,
    )
    intake = IntakeService(
        contacts=contacts, commit=commit, relay=relay, source=infra.source, accept_wait_s=settings.accept_wait_s,
        number_map=settings.number_map, timezone=settings.timezone, pseudonyms=pseudonyms,
        registry=privacy.registry_entries, access_log=access_log, attachments=attachments, limits=limits,
    )
    social_secret = settings.webhooks.secrets.get("social")
    worker = DeliveryWorker(
        repository=deliveries, settings=settings.delivery, bounce_mailbox=settings.smtp.bounce_mailbox,
        senders=Senders(
            smtp=settings.smtp, social_secret=social_secret.get_secret_value() if social_secret else None,
            timeout_s=settings.delivery.timeout_s,
        ),
        announce=lambda job: replies.announce(job), load_attachments=lambda job: replies.load_attachments(job),
    )
    replies = ReplyService(
        contacts=contacts, replies=replies_store, attachments=attachments, deliveries=deliveries, worker=worker,
        record=intake.record, acknowledged=intake.acknowledged, source=infra.source, smtp=settings.smtp,
        social=settings.social, letters=settings.letters, limits=limits, timezone=settings.timezone,
    )

    async def contact_routed(event: ContactRouted) -> None:
        await contacts.set_department(event.data.contact_id, department_id=event.data.department_id, upl_uri=event.data.upl_uri)

    # Routing names the owning department: its back-office may then see the contact's files and answer it.
    infra.subscribe(CONTACT_ROUTED, contact_routed)

    async def contact_department(request, params) -> object:
        contact = await contacts.get(params["contact_id"])
        return MISSING if contact is None else contact.get("department_id")
    take_part_in_erasure(infra, erase=privacy.erase)
    infra.subscribe(ERASURE_COMPLETED, privacy.erasure_completed)
    retention = PeriodicJob(
        "retention", privacy.purge_expired, interval_s=settings.retention_interval_s,
        lease=Lease(infra.db["leases"], name="retention", holder=holder_name("intake"),
                    ttl=timedelta(seconds=settings.retention_interval_s * 1.5 + 60)),
    )
    privacy.erase_also(attachments=attachments.erase, replies=replies_store.erase, deliveries=deliveries.erase)
    privacy.purge_also(attachments=attachments.purge, replies=replies_store.purge)  # outgoing messages expire by TTL
    mail = EmailIntake(intake=intake, replies=replies, settings=settings.smtp)
    smtp: list[asyncio.Server] = []
    # Signatures older than twice the accepted age fail the timestamp check anyway.
    seen = MongoSeenSignatures(infra.db["webhook_signatures"], keep=2 * timedelta(seconds=settings.webhooks.max_age_s))
    webhooks = WebhookVerifier(settings.webhooks, seen)

    async def prepare() -> None:
        await contacts.ensure_indexes()
        await access_log.ensure_indexes()
        await outbox.ensure_indexes()
        await pending.ensure_indexes()
        await privacy_store.ensure_indexes()
        await seen.ensure_indexes()
        await attachments.ensure_indexes()
        await replies_store.ensure_indexes()
        await deliveries.ensure_indexes()

    async def started() -> None:
        commit.start()
        relay.start()
        retention.start()
        worker.start()
        if settings.smtp.enabled:
            # A message carries its attachments base64-encoded (4/3 of their size) plus its text.
            max_bytes = settings.max_contact_attachment_bytes * 4 // 3 + settings.max_body_bytes
            smtp.append(await start_smtp(mail, settings.smtp, max_bytes=max_bytes))

    async def stopping() -> None:
        await retention.stop()
        await worker.stop()
        for server in smtp:
            server.close()
            # A client still connected must not hold the shutdown (wait_closed waits for every connection).
            await bounded(server.wait_closed(), within_s=5, step="SMTP server: open sessions")
        await commit.stop()
        await relay.stop()

    app = create_service_app(
        infra=infra,
        title="Contact.STAD intake",
        description="Channel adapters that turn every citizen contact into one ContactReceived event.",
        routers=[api.router, privacy_api.router, replies_api.router],
        on_startup=prepare,
        on_started=started,
        on_shutdown=stopping,
        webhooks=webhooks,
        rate_limit=settings.rate_limit,
        resources={"contact": contact_department},
    )
    add_request_limits(app, max_body_bytes=settings.max_body_bytes)
    app.state.intake, app.state.mail, app.state.smtp = intake, mail, smtp
    app.state.privacy, app.state.retention = privacy, retention
    app.state.max_attachment_bytes = settings.max_attachment_bytes
    app.state.replies, app.state.attachments, app.state.deliveries = replies, attachments, worker
    return app
