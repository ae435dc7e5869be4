"""Composition root of the intake service."""

import asyncio
import contextlib
from datetime import UTC, datetime

from fastapi import FastAPI
from opentelemetry.sdk.trace.export import SpanExporter

from kcc_shared.contracts import CALL_EVENTS, CONTACT_RECEIVED, COUNTER_EVENTS
from kcc_shared.pseudonyms import Pseudonymiser
from kcc_shared.runtime import Infrastructure, create_service_app
from kcc_shared.webhooks import MongoSeenSignatures, WebhookVerifier

from kcc_intake import api
from kcc_intake.limits import add_request_limits
from kcc_intake.mail import EmailIntake, start_smtp
from kcc_intake.outbox import OutboxRelay
from kcc_intake.repository import ContactRepository, OutboxRepository, PendingStore
from kcc_intake.service import IntakeService
from kcc_intake.settings import IntakeSettings


def create_app(settings: IntakeSettings, *, span_exporter: SpanExporter | None = None) -> FastAPI:
    infra = Infrastructure.build(settings, span_exporter=span_exporter)
    infra.produces(CONTACT_RECEIVED, CALL_EVENTS, COUNTER_EVENTS)
    contacts, outbox = ContactRepository(infra.db), OutboxRepository(infra.db)
    relay = OutboxRelay(store=PendingStore(infra.db), broker=infra.broker, registry=infra.registry)
    intake = IntakeService(
        contacts=contacts, outbox=outbox, relay=relay, source=infra.source, accept_wait_s=settings.accept_wait_s,
        number_map=settings.number_map, timezone=settings.timezone,
        pseudonyms=Pseudonymiser(settings.privacy.pseudonym_secret.get_secret_value()),
    )
    mail = EmailIntake(intake=intake, contacts=contacts, settings=settings.smtp)
    smtp: list[asyncio.Server] = []
    seen = MongoSeenSignatures(infra.db["webhook_signatures"])
    webhooks = WebhookVerifier(settings.webhooks, seen)
    background: list[asyncio.Task] = []

    async def forget_old_signatures() -> None:
        # Signatures older than the accepted age fail the timestamp check anyway.
        while True:
            await asyncio.sleep(600)
            with contextlib.suppress(Exception):
                await seen.forget_before(datetime.now(UTC) - 2 * webhooks.max_age)

    async def prepare() -> None:
        await contacts.ensure_indexes()
        await outbox.ensure_indexes()

    async def started() -> None:
        relay.start()
        background.append(asyncio.create_task(forget_old_signatures(), name="intake-webhook-signatures"))
        if settings.smtp.enabled:
            smtp.append(await start_smtp(mail, settings.smtp, max_bytes=settings.max_attachment_bytes))

    async def stopping() -> None:
        for task in background:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        for server in smtp:
            server.close()
            await server.wait_closed()
        await relay.stop()

    app = create_service_app(
        infra=infra,
        title="Contact.STAD intake",
        description="Channel adapters that turn every citizen contact into one ContactReceived event.",
        routers=[api.router],
        on_startup=prepare,
        on_started=started,
        on_shutdown=stopping,
        webhooks=webhooks,
        rate_limit=settings.rate_limit,
    )
    add_request_limits(app, max_body_bytes=settings.max_body_bytes)
    app.state.intake, app.state.mail, app.state.smtp = intake, mail, smtp
    app.state.max_attachment_bytes = settings.max_attachment_bytes
    return app
