"""OpenTelemetry tracing: one TracerProvider per service, OTLP export when configured."""

from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor, SpanExporter

from kcc_shared.settings import TelemetrySettings


def make_tracer_provider(
    *, service_name: str, settings: TelemetrySettings, extra_exporter: SpanExporter | None = None
) -> TracerProvider:
    """A provider for one service; `extra_exporter` lets tests collect spans in memory."""
    provider = TracerProvider(resource=Resource.create({"service.name": service_name}))
    if settings.otel_exporter_otlp_endpoint:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        endpoint = settings.otel_exporter_otlp_endpoint.rstrip("/") + "/v1/traces"
        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=endpoint)))
    if extra_exporter is not None:
        provider.add_span_processor(SimpleSpanProcessor(extra_exporter))
    return provider
