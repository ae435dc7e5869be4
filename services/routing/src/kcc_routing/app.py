"""Composition root of the routing service."""

from fastapi import FastAPI
from opentelemetry.sdk.trace.export import SpanExporter

from kcc_shared.runtime import Infrastructure, create_service_app

from kcc_routing import api, subscribers
from kcc_routing.repository import DecisionRepository
from kcc_routing.service import RoutingService
from kcc_routing.settings import RoutingSettings


def create_app(settings: RoutingSettings, *, span_exporter: SpanExporter | None = None) -> FastAPI:
    infra = Infrastructure.build(settings, span_exporter=span_exporter)
    routing = RoutingService(repository=DecisionRepository(infra.db["decisions"]), source=infra.source)
    subscribers.register(infra, routing)
    app = create_service_app(
        infra=infra,
        title="Contact.STAD routing",
        description="Answer in the KCC first time right, hand over warm, or book a call-back.",
        routers=[api.router],
    )
    app.state.routing = routing
    return app
