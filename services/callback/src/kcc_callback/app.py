"""Composition root of the callback service."""

from fastapi import FastAPI
from opentelemetry.sdk.trace.export import SpanExporter

from kcc_shared.runtime import Infrastructure, create_service_app

from kcc_callback import api, subscribers
from kcc_callback.repository import CallbackRepository
from kcc_callback.service import CallbackService
from kcc_callback.settings import CallbackSettings


def create_app(settings: CallbackSettings, *, span_exporter: SpanExporter | None = None) -> FastAPI:
    infra = Infrastructure.build(settings, span_exporter=span_exporter)
    callbacks = CallbackService(repository=CallbackRepository(infra.db["callbacks"]))
    subscribers.register(infra, callbacks)
    app = create_service_app(
        infra=infra,
        title="Contact.STAD callback",
        description="Call-back appointments as a bookable, tracked promise.",
        routers=[api.router],
    )
    app.state.callbacks = callbacks
    return app
