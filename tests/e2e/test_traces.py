"""One trace per contact, end to end on the real stack, and no personal data in any span.

A citizen calls the social-services line of a department that has not joined the KCC yet and
has nobody in its back-office: routing books a call-back. The call's HTTP request at intake,
routing's consume, store writes, publishes and webhook call, the callback service's booking
and metrics' counting of the booked call-back share one trace id, with `kcc.*` attributes to
find it by. The same citizen also posts a web form with BSN, e-mail address and phone number,
and looks up their timeline by all three: no span attribute of any span holds one of them,
neither as recorded nor as exported.
"""

import asyncio
import json
from contextlib import AsyncExitStack
from datetime import UTC, datetime
from typing import Any

import pytest
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from kcc_callback.app import create_app as callback_app
from kcc_callback.settings import CallbackSettings
from kcc_intake.app import create_app as intake_app
from kcc_intake.settings import IntakeSettings
from kcc_metrics.app import create_app as metrics_app
from kcc_metrics.settings import MetricsSettings
from kcc_routing.app import create_app as routing_app
from kcc_routing.settings import RoutingSettings
from kcc_shared.contracts import CALLBACK_REQUESTED
from kcc_shared.testing import running, unique

pytestmark = pytest.mark.e2e

BSN = "111222333"  # passes the 11-proef
PHONE_E164, PHONE_AS_DIALLED = "+31623456781", "06-23456781"
EMAIL = "m.devries@example.nl"
PERSONAL = (BSN, PHONE_E164, PHONE_AS_DIALLED, "0623456781", "623456781", "%2B31623456781", EMAIL, "m.devries%40example.nl")
SOCIAL_LINE = "0503679000"


async def poll(fetch, done, *, timeout: float = 30.0):
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        value = await fetch()
        if done(value) or asyncio.get_running_loop().time() > deadline:
            return value
        await asyncio.sleep(0.2)


def texts(span) -> list[str]:
    """Every string an operator could read in a span: name, status, attributes, event attributes."""
    found = [span.name, span.status.description or ""]
    for attributes in (span.attributes, *(e.attributes for e in span.events)):
        for key, value in (attributes or {}).items():
            values = value if isinstance(value, tuple | list) else (value,)
            found.extend(f"{key}={v}" for v in values)
    return found


async def test_a_call_back_contact_is_one_trace_without_personal_data(service_env, topic_reader, webhook_receiver):
    for service in ("intake", "routing", "callback", "metrics"):
        service_env(service)
    exported, recorded = InMemorySpanExporter(), InMemorySpanExporter()
    apps = {
        "intake": intake_app(IntakeSettings(number_map={SOCIAL_LINE: "werk-inkomen"}), span_exporter=exported),
        "routing": routing_app(RoutingSettings(), span_exporter=exported),
        "callback": callback_app(CallbackSettings(), span_exporter=exported),
        "metrics": metrics_app(MetricsSettings(), span_exporter=exported),
    }
    for app in apps.values():  # the spans as the sources record them, before any redaction
        app.state.infra.tracer_provider.add_span_processor(SimpleSpanProcessor(recorded))
    hook_url = await webhook_receiver.start()
    department = unique("werk")

    async with AsyncExitStack() as stack:
        clients = {name: await stack.enter_async_context(running(app)) for name, app in apps.items()}
        # Social services as a department that joins later, reachable through its webhook.
        added = await clients["routing"].put(
            f"/v1/organisation/departments/{department}",
            json={
                "id": department, "name": "Werk en inkomen (test)", "joins_kcc_on": "2099-01-01",
                "opening_hours": {d: [{"opens": "08:00", "closes": "17:00"}] for d in ("mon", "tue", "wed", "thu", "fri")},
                "products": ["bijstand"], "webhook_url": hook_url,
            },
        )
        assert added.status_code == 200, added.text
        requests = await topic_reader(CALLBACK_REQUESTED.name)

        call = await clients["intake"].post(
            "/v1/channels/telephone/events",
            json={
                "event": "offered", "call_id": unique("call"), "at": datetime.now(UTC).isoformat(),
                "dialled_number": SOCIAL_LINE, "caller_number": PHONE_AS_DIALLED,
            },
        )
        assert call.status_code == 202, call.text
        contact_id = call.json()["contact_id"]

        [request] = await requests.read(count=1, match=lambda r: json.loads(r.value)["data"]["contact_id"] == contact_id, timeout=30)
        callback_id = json.loads(request.value)["data"]["callback_id"]
        booked = await poll(
            lambda: clients["callback"].get(f"/v1/callbacks/{callback_id}"),
            lambda r: r.status_code == 200 and r.json()["status"] == "scheduled",
        )
        assert booked.json()["status"] == "scheduled"
        decision = (await clients["routing"].get(f"/v1/decisions/{contact_id}")).json()
        assert (decision["decision"], decision["department_id"]) == ("callback", department)

        # The same citizen writes in with every identifier, and looks up their contacts by them.
        form = await clients["intake"].post(
            "/v1/channels/web/submissions",
            json={
                "form_id": "contactformulier", "submission_id": unique("form"), "subject": "Bijstand aanvragen",
                "message": f"Ik wil bijstand aanvragen. Mijn BSN is {BSN}, bel me op {PHONE_AS_DIALLED}.",
                "bsn": BSN, "email": EMAIL.upper(), "phone": PHONE_AS_DIALLED,
            },
        )
        assert form.status_code == 202, form.text
        timeline = await clients["intake"].get("/v1/citizens/timeline", params={"bsn": BSN, "phone": PHONE_E164, "email": EMAIL, "reason": "trace test"})
        assert timeline.status_code == 200 and timeline.json()["total"] >= 2

        root = await poll(
            lambda: _root(exported, "POST /v1/channels/telephone/events", contact_id), lambda span: span is not None
        )
        assert root is not None
        trace_id = root.context.trace_id

        def services_done(_: Any) -> bool:
            spans = [s for s in exported.get_finished_spans() if s.context.trace_id == trace_id]
            return any(
                s.resource.attributes["service.name"] == "metrics" and s.name == "kcc.callback.scheduled.v1 process"
                for s in spans
            )

        await poll(lambda: _noop(), services_done)
        await poll(lambda: _noop(), lambda _: _has_hook(webhook_receiver, contact_id, 1) and _form_routed(exported))

    trace = [s for s in exported.get_finished_spans() if s.context.trace_id == trace_id]
    by_service: dict[str, list] = {}
    for span in trace:
        by_service.setdefault(span.resource.attributes["service.name"], []).append(span)
    names = {service: {s.name for s in spans} for service, spans in by_service.items()}
    assert set(names) == {"intake", "routing", "callback", "metrics"}, names

    # intake: the HTTP request, the store write, the publish.
    assert root.attributes["kcc.contact_id"] == contact_id and root.attributes["kcc.channel"] == "telephone"
    assert "kcc.contact.received.v1 publish" in names["intake"]
    assert any(n.endswith(".insert") for n in names["intake"]), names["intake"]
    # routing: consume, store, publishes, and the webhook call to the department.
    assert {"kcc.contact.received.v1 process", "kcc.contact.routed.v1 publish", "kcc.callback.requested.v1 publish"} <= names["routing"]
    assert any(n.startswith(apps["routing"].state.infra.settings.mongo_database) for n in names["routing"])
    [hook_call] = [s for s in by_service["routing"] if s.name == "POST" and s.attributes.get("url.full") == hook_url]
    assert hook_call.attributes["http.response.status_code"] == 204
    [(hook_headers, hook_body)] = [(h, b) for h, b in webhook_receiver.received if b["data"]["contact_id"] == contact_id]
    assert hook_headers["traceparent"].split("-")[1] == format(trace_id, "032x")
    # callback: consume, the booking in its store, the publish of the booking.
    assert {"kcc.callback.requested.v1 process", "kcc.callback.scheduled.v1 publish"} <= names["callback"]
    assert any(n.endswith(".insert") for n in names["callback"]), names["callback"]
    # metrics: counts the contact, the decision and the booked call-back.
    assert {"kcc.contact.received.v1 process", "kcc.contact.routed.v1 process", "kcc.callback.scheduled.v1 process"} <= names["metrics"]

    # Searchable: the contact id finds spans in every service; the decision carries the rest.
    for service, spans in by_service.items():
        assert any(s.attributes.get("kcc.contact_id") == contact_id for s in spans), service
    [routed] = [s for s in by_service["routing"] if s.name == "kcc.contact.routed.v1 publish"]
    assert {k: routed.attributes[k] for k in ("kcc.channel", "kcc.department", "kcc.decision")} == {
        "kcc.channel": "telephone", "kcc.department": department, "kcc.decision": "callback",
    }
    assert routed.attributes["kcc.upl_uri"] == "http://standaarden.overheid.nl/owms/terms/bijstand"
    [booking] = [s for s in by_service["callback"] if s.name == "kcc.callback.requested.v1 process"]
    assert (booking.attributes["kcc.callback_id"], booking.attributes["kcc.department"]) == (callback_id, department)

    # No personal data in any span of any trace of this test, recorded or exported.
    for collected in (recorded, exported):
        spans = collected.get_finished_spans()
        assert len(spans) >= len(trace)
        leaks = [(s.resource.attributes["service.name"], text) for s in spans for text in texts(s) if any(p in text for p in PERSONAL)]
        assert leaks == []
    # The lookup's span keeps which parameters were asked, not their values.
    [lookup] = [s for s in recorded.get_finished_spans() if s.name == "GET /v1/citizens/timeline" and s.parent is None]
    assert lookup.attributes["http.url"] == "http://service/v1/citizens/timeline?bsn=[REDACTED]&phone=[REDACTED]&email=[REDACTED]&reason=[REDACTED]"


async def _root(exported: InMemorySpanExporter, name: str, contact_id: str):
    for span in exported.get_finished_spans():
        if span.name == name and span.parent is None and span.attributes.get("kcc.contact_id") == contact_id:
            return span
    return None


def _has_hook(receiver, contact_id: str, count: int) -> bool:
    return sum(1 for _, body in receiver.received if body["data"]["contact_id"] == contact_id) >= count


def _form_routed(exported: InMemorySpanExporter) -> bool:
    return any(
        s.name == "kcc.contact.routed.v1 publish" and s.attributes.get("kcc.channel") == "web" and s.attributes.get("kcc.decision") == "forward_to_department"
        for s in exported.get_finished_spans()
    )


async def _noop() -> None:
    return None
