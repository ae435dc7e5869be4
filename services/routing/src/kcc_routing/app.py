"""Composition root of the routing service."""

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from fastapi import FastAPI
from prometheus_client import Gauge
from opentelemetry.sdk.trace.export import SpanExporter

from kcc_shared.contracts import department_topic
from kcc_shared.erasure import take_part_in_erasure
from kcc_shared.leases import Lease, holder_name
from kcc_shared.periodic import PeriodicJob
from kcc_shared.access import MISSING
from kcc_shared.runtime import Infrastructure, create_service_app

from kcc_routing import api, subscribers
from kcc_routing.classify import default_classifier
from kcc_routing.deliveries import DeliveryRepository, DeliveryWorker, WebhookPoster
from kcc_routing.directory import Directory
from kcc_routing.knowledge import load_knowledge
from kcc_routing.organisation import OrganisationConfig, load_default_config, parse_config
from kcc_routing.privacy import RoutingPrivacy
from kcc_routing.queues import WorkQueues
from kcc_routing.repository import repositories
from kcc_routing.service import RoutingService
from kcc_routing.settings import RoutingSettings
from kcc_routing.taxonomy import load_taxonomy


def _utc_now() -> datetime:
    return datetime.now(UTC)


def create_app(
    settings: RoutingSettings,
    *,
    span_exporter: SpanExporter | None = None,
    clock: Callable[[], datetime] = _utc_now,
) -> FastAPI:
    infra = Infrastructure.build(settings, span_exporter=span_exporter)
    decisions, work, presence, changes = repositories(infra.db, presence_ttl=timedelta(seconds=settings.presence_ttl_s))

    def load_config() -> OrganisationConfig:
        if settings.organisation_file is None:
            return load_default_config()
        return parse_config(settings.organisation_file.read_text(encoding="utf-8"))

    directory = Directory(
        load_config=load_config, taxonomy=load_taxonomy(), changes=changes, refresh_s=settings.organisation_refresh_s
    )
    queues = WorkQueues(
        store=work, lease=timedelta(seconds=settings.lease_s), ageing_per_minute=settings.ageing_per_minute, source=infra.source
    )
    routing = RoutingService(
        decisions=decisions,
        queues=queues,
        presence=presence,
        directory=directory,
        classifier=default_classifier(),
        source=infra.source,
        clock=clock,
    )
    deliveries = DeliveryRepository(infra.db["deliveries"])
    outcomes = subscribers.OutcomePublisher(infra, decisions=infra.db["decisions"], work=infra.db["work"], deliveries=deliveries, clock=clock)
    work_outbox = outcomes.work_outbox
    subscribers.register(infra, routing, outcomes)

    oldest_unsent = Gauge(
        "kcc_routing_outbox_oldest_pending_seconds", "Age of the oldest decision or resolve event not yet acknowledged by Kafka",
        registry=infra.registry,
    )

    async def flush_outboxes() -> int:
        before = clock() - timedelta(seconds=settings.outbox_grace_s)
        sent = await outcomes.outbox.flush(queued_before=before) + await work_outbox.flush(queued_before=before)
        queued = [at for at in (await outcomes.outbox.oldest(), await work_outbox.oldest()) if at is not None]
        oldest_unsent.set(max((clock() - min(queued)).total_seconds(), 0.0) if queued else 0.0)
        return sent

    outbox_job = PeriodicJob(
        "outbox", flush_outboxes, interval_s=settings.outbox_interval_s, first_delay_s=settings.outbox_interval_s,
        lease=Lease(infra.db["leases"], name="outbox", holder=holder_name("routing"),
                    ttl=timedelta(seconds=settings.outbox_interval_s * 3 + 10)),
    )
    webhook = WebhookPoster(infra.tracer_provider)
    delivery_worker = DeliveryWorker(
        deliveries, post=webhook.post, give_up=outcomes.dead_letter, registry=infra.registry,
        lease=Lease(infra.db["leases"], name="webhook-deliveries", holder=holder_name("routing"),
                    ttl=timedelta(seconds=settings.delivery_poll_s * 3 + settings.delivery_timeout_s)),
        tries=settings.delivery_tries, backoff_s=settings.delivery_backoff_s, timeout_s=settings.delivery_timeout_s,
        poll_s=settings.delivery_poll_s, clock=clock,
    )
    privacy = RoutingPrivacy(infra.db, retention_months=settings.retention_months, clock=clock)
    take_part_in_erasure(infra, erase=privacy.erase)
    retention = PeriodicJob(
        "retention", privacy.purge_expired, interval_s=settings.retention_interval_s,
        lease=Lease(infra.db["leases"], name="retention", holder=holder_name("routing"),
                    ttl=timedelta(seconds=settings.retention_interval_s * 1.5 + 60)),
    )
    # The configured departments' topics are created at start-up with the others.
    infra.produces(*(department_topic(d.id) for d in load_config().departments))

    async def decision_department(_request, params) -> object:
        """The department a contact was routed to, for department-scoped tokens."""
        decision = await routing.decision_for(params["contact_id"])
        return MISSING if decision is None else decision.department_id

    async def on_startup() -> None:
        await decisions.ensure_indexes()
        await work.ensure_indexes()
        await outcomes.outbox.ensure_indexes()
        await work_outbox.ensure_indexes()
        await deliveries.ensure_indexes()

    async def on_started() -> None:
        await retention.start_async()
        await outbox_job.start_async()
        await delivery_worker.start()

    async def on_shutdown() -> None:
        await delivery_worker.stop()
        await outbox_job.stop()
        await retention.stop()

    app = create_service_app(
        infra=infra,
        title="Contact.STAD routing",
        description="Answer in the KCC first time right, hand over warm, or book a call-back.",
        routers=[api.router],
        on_startup=on_startup,
        on_started=on_started,
        on_shutdown=on_shutdown,
        resources={"decision": decision_department},
    )
    app.state.routing = routing
    app.state.privacy, app.state.retention = privacy, retention
    app.state.outcomes = outcomes
    app.state.work_outbox, app.state.outbox_job = work_outbox, outbox_job
    app.state.deliveries, app.state.delivery_worker = deliveries, delivery_worker
    app.state.knowledge = load_knowledge()
    app.state.presence = presence
    return app
