"""Spans carry searchable ids and never personal data: what the redacting exporter and the
attribute helpers do with the values an operator must and must not see."""

import httpx
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from kcc_shared.settings import TelemetrySettings
from kcc_shared.telemetry import (
    REDACTED,
    TracingTransport,
    event_attributes_from_bytes,
    make_tracer_provider,
    redact_query,
    redact_text,
)


def test_event_attributes_are_the_allow_listed_ids_only():
    body = (
        b'{"id":"e-1","type":"nl.contactstad.contact.routed","data":{"contact_id":"c-1","channel":"telephone",'
        b'"department_id":"sozawe","upl_uri":"http://standaarden.overheid.nl/owms/terms/bijstand","decision":"callback",'
        b'"phone":"+31612345678","citizen":{"bsn":"111222333","email":"a@b.nl"},"text":"mijn bsn is 111222333"}}'
    )
    assert event_attributes_from_bytes(body) == {
        "kcc.event_id": "e-1",
        "kcc.event_type": "nl.contactstad.contact.routed",
        "kcc.contact_id": "c-1",
        "kcc.channel": "telephone",
        "kcc.department": "sozawe",
        "kcc.upl_uri": "http://standaarden.overheid.nl/owms/terms/bijstand",
        "kcc.decision": "callback",
    }
    assert event_attributes_from_bytes(b"{not json") == {}
    assert event_attributes_from_bytes(b"[1]") == {}


def test_redact_text_masks_e_mail_phone_and_bsn_but_not_ids():
    text = "bel +31612345678 of 06-12345678, mail j.jansen@example.nl, bsn 111222333"
    assert redact_text(text) == f"bel {REDACTED} of {REDACTED}, mail {REDACTED}, bsn {REDACTED}"
    # 123456789 fails the 11-proef; uuids, offsets and timestamps stay readable.
    kept = "offset 123456789 contact 0f8fad5b-d9cb-469f-a165-70867728950e at 2026-11-29T10:00:00+01:00"
    assert redact_text(kept) == kept


def test_query_values_are_masked_and_names_kept():
    assert redact_query("/v1/citizens/timeline?bsn=111222333&page=2") == f"/v1/citizens/timeline?bsn={REDACTED}&page={REDACTED}"
    assert redact_query("/v1/contacts/c-1") == "/v1/contacts/c-1"


def test_the_exporter_gets_spans_without_personal_data():
    spans = InMemorySpanExporter()
    provider = make_tracer_provider(service_name="intake", settings=TelemetrySettings(), extra_exporter=spans)
    with provider.get_tracer("t").start_as_current_span("GET /v1/citizens/timeline") as span:
        span.set_attribute("http.target", "/v1/citizens/timeline?email=a%40b.nl&phone=%2B31612345678")
        span.set_attribute("net.peer.ip", "192.0.2.7")
        span.set_attribute("kcc.contact_id", "c-1")
        span.add_event("exception", {"exception.message": "no contact for 111222333 / a@b.nl"})
    [exported] = spans.get_finished_spans()
    assert exported.attributes["http.target"] == f"/v1/citizens/timeline?email={REDACTED}&phone={REDACTED}"
    assert "net.peer.ip" not in exported.attributes
    assert exported.attributes["kcc.contact_id"] == "c-1"
    assert exported.events[0].attributes["exception.message"] == f"no contact for {REDACTED} / {REDACTED}"


async def test_outgoing_calls_are_client_spans_that_pass_the_trace_on():
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(202)

    raw = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(raw))
    transport = TracingTransport(provider, inner=httpx.MockTransport(answer))
    with provider.get_tracer("t").start_as_current_span("routing process") as parent:
        async with httpx.AsyncClient(transport=transport) as http:
            await http.post("https://backoffice.example/hook?token=s3cret", content=b"{}")
    [client] = [s for s in raw.get_finished_spans() if s.name == "POST"]
    assert client.parent.span_id == parent.get_span_context().span_id
    assert client.attributes["url.full"] == "https://backoffice.example/hook"
    assert client.attributes["http.response.status_code"] == 202
    trace_id = format(parent.get_span_context().trace_id, "032x")
    assert seen[0].headers["traceparent"].split("-")[1] == trace_id
