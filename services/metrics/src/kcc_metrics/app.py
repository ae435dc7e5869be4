"""Composition root of the metrics service."""

from fastapi import FastAPI
from opentelemetry.sdk.trace.export import SpanExporter

from kcc_shared.runtime import Infrastructure, create_service_app

from kcc_metrics import api, erasure, subscribers
from kcc_metrics.repository import FactRepository
from kcc_metrics.service import MetricsService
from kcc_metrics.settings import MetricsSettings


def create_app(settings: MetricsSettings, *, span_exporter: SpanExporter | None = None) -> FastAPI:
    infra = Infrastructure.build(settings, span_exporter=span_exporter)
    repository = FactRepository(infra.db["facts"])
    metrics = MetricsService(repository=repository, timezone=settings.timezone, norms=settings.norms)
    subscribers.register(infra, metrics)
    erasure.register(infra, infra.db["facts"])
    app = create_service_app(
        infra=infra,
        title="Contact.STAD metrics",
        description="Service norms per channel, live and historical.",
        routers=[api.router],
        on_startup=repository.ensure_indexes,
    )
    app.state.metrics = metrics
    return app
