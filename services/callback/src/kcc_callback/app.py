"""Composition root of the callback service."""

import asyncio
from datetime import timedelta

import httpx

from fastapi import FastAPI
from opentelemetry.sdk.trace.export import SpanExporter

from kcc_shared.erasure import take_part_in_erasure
from kcc_shared.leases import Lease, holder_name
from kcc_shared.periodic import PeriodicJob
from kcc_shared.registry import RegistryClient, RegistrySettings
from kcc_shared.access import MISSING
from kcc_shared.runtime import Infrastructure, create_service_app
from kcc_shared.tasks import stop_tasks

from kcc_callback import api, subscribers
from kcc_callback.calendar import Clock, WorkingCalendar, system_clock
from kcc_callback.privacy import CallbackPrivacy
from kcc_callback.repository import CallbackRepository
from kcc_callback.scheduler import TimerScheduler
from kcc_callback.service import CallbackService
from kcc_callback.settings import CallbackSettings


def create_app(
    settings: CallbackSettings, *, span_exporter: SpanExporter | None = None, clock: Clock = system_clock,
    registry_transport: httpx.AsyncBaseTransport | None = None,
) -> FastAPI:
    """`registry_transport` reaches intake's registry another way than `registry_url` (an
    in-process intake app in tests)."""
    infra = Infrastructure.build(settings, span_exporter=span_exporter)
    repository = CallbackRepository(infra.db, expire_after_s=settings.keep_finished_days * 86_400)
    callbacks = CallbackService(
        repository=repository, publisher=infra.publisher, settings=settings,
        calendar=WorkingCalendar(timezone=settings.timezone), clock=clock, source=infra.source,
        registry=RegistryClient(
            RegistrySettings(url=settings.registry_url, token=settings.registry_token), transport=registry_transport
        ),
    )
    scheduler = TimerScheduler(
        repository=repository, callbacks=callbacks, publisher=infra.publisher, settings=settings,
        clock=clock, source=infra.source,
    )
    subscribers.register(infra, callbacks)
    privacy = CallbackPrivacy(infra.db, retention_months=settings.retention_months, clock=clock)
    take_part_in_erasure(infra, erase=privacy.erase)
    retention = PeriodicJob(
        "retention", privacy.purge_expired, interval_s=settings.retention_interval_s,
        lease=Lease(infra.db["leases"], name="retention", holder=holder_name("callback"),
                    ttl=timedelta(seconds=settings.retention_interval_s * 1.5 + 60)),
    )
    background: list[asyncio.Task] = []

    async def callback_department(_request, params) -> object:
        """The department owning a call-back, for department-scoped tokens."""
        callback = await callbacks.get(params["callback_id"])
        return MISSING if callback is None else callback.department_id

    async def start() -> None:
        # After the broker started: the timers publish.
        background.append(asyncio.create_task(scheduler.run_forever(), name="callback-timers"))
        retention.start()

    async def stop() -> None:
        await retention.stop()
        await stop_tasks(background)

    app = create_service_app(
        infra=infra,
        title="Contact.STAD callback",
        description="Call-back appointments as a bookable, tracked promise.",
        routers=[api.router],
        on_startup=repository.ensure_indexes,
        on_started=start,
        on_shutdown=stop,
        resources={"callback": callback_department},
    )
    api.add_error_handlers(app)
    app.state.callbacks = callbacks
    app.state.scheduler = scheduler
    app.state.repository = repository
    app.state.privacy, app.state.retention = privacy, retention
    return app
