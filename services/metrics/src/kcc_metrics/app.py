"""Composition root of the metrics service."""

import asyncio
from datetime import timedelta

from fastapi import FastAPI
from opentelemetry.sdk.trace.export import SpanExporter
from prometheus_client import Counter, Gauge

from kcc_shared.leases import Lease, holder_name
from kcc_shared.periodic import PeriodicJob
from kcc_shared.runtime import Infrastructure, create_service_app
from kcc_shared.tasks import stop_tasks

from kcc_metrics import api, erasure, subscribers
from kcc_metrics.realtime import RealtimeGauges, refresh_forever
from kcc_metrics.reports import Reports
from kcc_metrics.repository import FactRepository
from kcc_metrics.service import MetricsService
from kcc_metrics.settings import MetricsSettings
from kcc_metrics.surveys import Surveys


def create_app(settings: MetricsSettings, *, span_exporter: SpanExporter | None = None) -> FastAPI:
    infra = Infrastructure.build(settings, span_exporter=span_exporter)
    repository = FactRepository(infra.db["facts"], timezone=settings.timezone, norms=settings.norms)
    metrics = MetricsService(repository=repository, timezone=settings.timezone, norms=settings.norms)
    reports = Reports(repository=repository, timezone=settings.timezone, realtime_days=settings.realtime_days, metrics=metrics)
    gauges = RealtimeGauges(infra.registry)
    subscribers.register(infra, metrics, repository=repository)
    erasure.register(infra, infra.db["facts"])
    tasks: list[asyncio.Task[None]] = []
    # One replica at a time keeps the day sheets ready for the reports (a request still computes
    # whatever is not ready, so a lapsed lease costs time, never figures).
    unsettled = Gauge(
        "kcc_metrics_sheet_days_pending", "Local days whose sheets a batch changed and settling has not recomputed yet",
        registry=infra.registry,
    )

    settled = Counter("kcc_metrics_settle_runs", "Rounds of settling the changed days' sheets completed", registry=infra.registry)

    async def settle_once() -> int:
        looked_at = await metrics.settle(quiet_s=settings.settle_interval_s)
        unsettled.set(len(await repository.changed_days()))
        settled.inc()
        return looked_at

    settle = PeriodicJob(
        "settle-sheets", settle_once, interval_s=settings.settle_interval_s,
        first_delay_s=settings.settle_interval_s,
        lease=Lease(infra.db["leases"], name="settle-sheets", holder=holder_name("metrics"),
                    ttl=timedelta(seconds=settings.settle_interval_s * 4 + 60)),
    )

    async def started() -> None:
        tasks.append(asyncio.create_task(refresh_forever(reports.realtime, gauges, every_s=settings.realtime_refresh_s)))
        settle.start()

    async def stopping() -> None:
        await settle.stop()
        await stop_tasks(tasks)

    app = create_service_app(
        infra=infra,
        title="Contact.STAD metrics",
        description="Service norms per channel, live and historical.",
        routers=[api.router],
        on_startup=repository.ensure_indexes,
        on_started=started,
        on_shutdown=stopping,
    )
    app.state.metrics, app.state.reports = metrics, reports
    app.state.surveys = Surveys(publisher=infra.publisher, source=infra.source)
    return app
