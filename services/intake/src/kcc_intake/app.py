"""Composition root of the intake service."""

from fastapi import FastAPI
from opentelemetry.sdk.trace.export import SpanExporter

from kcc_shared.contracts import CALL_EVENTS, CONTACT_RECEIVED
from kcc_shared.runtime import Infrastructure, create_service_app

from kcc_intake import api
from kcc_intake.repository import ContactRepository
from kcc_intake.service import IntakeService
from kcc_intake.settings import IntakeSettings


def create_app(settings: IntakeSettings, *, span_exporter: SpanExporter | None = None) -> FastAPI:
    infra = Infrastructure.build(settings, span_exporter=span_exporter)
    infra.produces(CONTACT_RECEIVED, CALL_EVENTS)
    repository = ContactRepository(infra.db["contacts"])
    app = create_service_app(
        infra=infra,
        title="Contact.STAD intake",
        description="Channel adapters that turn every citizen contact into one ContactReceived event.",
        routers=[api.router],
        on_startup=repository.ensure_indexes,
    )
    app.state.intake = IntakeService(repository=repository, publisher=infra.publisher, source=infra.source)
    return app
