"""OpenTelemetry tracing: one TracerProvider per service, OTLP export when configured.

Spans are for operators, so they carry ids to search on (`kcc.contact_id`, `kcc.channel`,
`kcc.department`, `kcc.upl_uri`, ...) and never personal data. Three guards keep it that way:
the sources record no payloads (Mongo commands without their documents, HTTP URLs without
query values, Kafka spans with an allow-list of event fields), and every exporter sits behind
`RedactingSpanExporter`, which masks anything that still looks like an e-mail address, a phone
number or a BSN before a span leaves the process.
"""

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import parse_qsl, urlsplit, urlunsplit

import httpx
from opentelemetry import propagate, trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import Event, ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.trace import Span, SpanKind, Status, StatusCode

from kcc_shared.settings import TelemetrySettings

# Event fields an operator may search on, and the span attribute each becomes. An allow-list:
# a field that is not here (citizen identifiers, subject, text) never reaches a span.
EVENT_ATTRIBUTES: dict[str, str] = {
    "contact_id": "kcc.contact_id",
    "channel": "kcc.channel",
    "department_id": "kcc.department",
    "upl_uri": "kcc.upl_uri",
    "decision": "kcc.decision",
    "callback_id": "kcc.callback_id",
    "call_id": "kcc.call_id",
    "appointment_id": "kcc.appointment_id",
}
REDACTED = "[REDACTED]"


def make_tracer_provider(
    *, service_name: str, settings: TelemetrySettings, extra_exporter: SpanExporter | None = None
) -> TracerProvider:
    """A provider for one service; `extra_exporter` lets tests collect spans in memory.

    Every exporter gets the spans through `RedactingSpanExporter`."""
    provider = TracerProvider(resource=Resource.create({"service.name": service_name}))
    if settings.otel_exporter_otlp_endpoint:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        endpoint = settings.otel_exporter_otlp_endpoint.rstrip("/") + "/v1/traces"
        provider.add_span_processor(BatchSpanProcessor(RedactingSpanExporter(OTLPSpanExporter(endpoint=endpoint))))
    if extra_exporter is not None:
        provider.add_span_processor(SimpleSpanProcessor(RedactingSpanExporter(extra_exporter)))
    return provider


# --- searchable attributes ------------------------------------------------------------------


def event_attributes(event: Mapping[str, Any]) -> dict[str, str]:
    """The searchable attributes of a CloudEvent (as a dict): its id, type and allow-listed ids."""
    attributes: dict[str, str] = {}
    if isinstance(event.get("id"), str):
        attributes["kcc.event_id"] = event["id"]
    if isinstance(event.get("type"), str):
        attributes["kcc.event_type"] = event["type"]
    data = event.get("data")
    if isinstance(data, Mapping):
        for field, name in EVENT_ATTRIBUTES.items():
            value = data.get(field)
            if isinstance(value, str) and value:
                attributes[name] = value
    return attributes


def event_attributes_from_bytes(body: Any) -> dict[str, str]:
    """`event_attributes` of a message body; nothing for a body that is not a JSON event."""
    if not isinstance(body, bytes | bytearray | str) or not body:
        return {}
    try:
        parsed = json.loads(body)
    except ValueError:
        return {}
    return event_attributes(parsed) if isinstance(parsed, dict) else {}


def annotate(**values: str | None) -> None:
    """Add searchable `kcc.*` attributes (allow-listed names only) to the current span."""
    span = trace.get_current_span()
    for field, value in values.items():
        name = EVENT_ATTRIBUTES.get(field)
        if name is None:
            raise ValueError(f"{field} is not a searchable span attribute")
        if value:
            span.set_attribute(name, value)


# --- no personal data -----------------------------------------------------------------------

_EMAIL = re.compile(r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9.\-]+\.[A-Za-z]{2,}")
_E164 = re.compile(r"\+[1-9]\d{6,14}(?!\d)")
_DUTCH_PHONE = re.compile(r"(?<![\w.+])0[1-9](?:[ \-]?\d){8}(?![\w])")
_NINE_DIGITS = re.compile(r"(?<![\w.+\-])\d{9}(?![\w])")
# Client addresses are personal data too (AVG): not exported.
_DROPPED = frozenset({"net.peer.ip", "net.sock.peer.addr", "client.address", "http.client_ip", "net.peer.port", "client.port"})
_URL_ATTRIBUTES = frozenset({"http.url", "url.full", "http.target"})


def _is_bsn(digits: str) -> bool:
    """The 11-proef: a 9-digit number that passes it may be a BSN."""
    total = sum(int(d) * w for d, w in zip(digits, (9, 8, 7, 6, 5, 4, 3, 2, -1)))
    return total % 11 == 0 and total != 0


def redact_text(text: str) -> str:
    """Mask what looks like an e-mail address, a phone number or a BSN."""
    text = _EMAIL.sub(REDACTED, text)
    text = _E164.sub(REDACTED, text)
    text = _DUTCH_PHONE.sub(REDACTED, text)
    return _NINE_DIGITS.sub(lambda m: REDACTED if _is_bsn(m.group()) else m.group(), text)


def redact_query(url: str) -> str:
    """A URL or target with the value of every query parameter masked (names stay)."""
    if "?" not in url:
        return url
    parts = urlsplit(url)
    query = "&".join(f"{name}={REDACTED}" for name, _ in parse_qsl(parts.query, keep_blank_values=True))
    return urlunsplit(parts._replace(query=query))


def redact_attributes(attributes: Mapping[str, Any] | None) -> dict[str, Any]:
    cleaned: dict[str, Any] = {}
    for key, value in (attributes or {}).items():
        if key in _DROPPED:
            continue
        if key == "url.query" and isinstance(value, str):
            value = redact_query("?" + value)[1:]
        elif key in _URL_ATTRIBUTES and isinstance(value, str):
            value = redact_query(value)
        if isinstance(value, str):
            value = redact_text(value)
        elif isinstance(value, Sequence) and not isinstance(value, bytes | bytearray):
            value = tuple(redact_text(v) if isinstance(v, str) else v for v in value)
        cleaned[key] = value
    return cleaned


def redact_span(span: ReadableSpan) -> ReadableSpan:
    status = span.status
    if status.description:
        status = Status(status.status_code, redact_text(status.description))
    return ReadableSpan(
        name=redact_text(span.name),
        context=span.context,
        parent=span.parent,
        resource=span.resource,
        attributes=redact_attributes(span.attributes),
        events=[Event(e.name, redact_attributes(e.attributes), e.timestamp) for e in span.events],
        links=span.links,
        kind=span.kind,
        status=status,
        start_time=span.start_time,
        end_time=span.end_time,
        instrumentation_scope=span.instrumentation_scope,
    )


class RedactingSpanExporter(SpanExporter):
    """Masks personal data in every span before the wrapped exporter sends it anywhere."""

    def __init__(self, inner: SpanExporter) -> None:
        self.inner = inner

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        return self.inner.export([redact_span(s) for s in spans])

    def shutdown(self) -> None:
        self.inner.shutdown()

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        return self.inner.force_flush(timeout_millis)


def scrub_server_span(span: Span, scope: dict[str, Any]) -> None:
    """FastAPI server request hook: the URL attributes keep query parameter names, not values
    (`/v1/citizens/timeline?bsn=...` must not put a BSN in a trace)."""
    if not scope.get("query_string") or not span.is_recording():
        return
    recorded = getattr(span, "attributes", None) or {}
    for key in _URL_ATTRIBUTES:
        value = recorded.get(key)
        if isinstance(value, str):
            span.set_attribute(key, redact_query(value))
    if isinstance(recorded.get("url.query"), str):
        span.set_attribute("url.query", redact_query("?" + recorded["url.query"])[1:])


# --- outgoing HTTP --------------------------------------------------------------------------


class TracingTransport(httpx.AsyncBaseTransport):
    """An httpx transport that makes each outgoing request a client span of the current
    trace and passes the trace on in `traceparent`; the URL is recorded without its query."""

    def __init__(self, tracer_provider: TracerProvider, inner: httpx.AsyncBaseTransport | None = None) -> None:
        self._tracer = tracer_provider.get_tracer("kcc_shared.http")
        self._inner = inner or httpx.AsyncHTTPTransport()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url.copy_with(query=None, fragment=None)
        attributes = {
            "http.request.method": request.method,
            "url.full": str(url),
            "server.address": request.url.host,
            "server.port": request.url.port or (443 if request.url.scheme == "https" else 80),
        }
        with self._tracer.start_as_current_span(request.method, kind=SpanKind.CLIENT, attributes=attributes) as span:
            carrier: dict[str, str] = {}
            propagate.inject(carrier)
            request.headers.update(carrier)
            response = await self._inner.handle_async_request(request)
            span.set_attribute("http.response.status_code", response.status_code)
            if response.status_code >= 500:
                span.set_status(Status(StatusCode.ERROR))
            return response

    async def aclose(self) -> None:
        await self._inner.aclose()
