"""A web-form contact travels intake → Kafka → routing → Kafka → metrics on the real stack,
in one trace; the callback service consumes call-back requests and books them."""

import asyncio
import json
from contextlib import AsyncExitStack
from datetime import UTC, datetime

import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from kcc_callback.app import create_app as callback_app
from kcc_callback.settings import CallbackSettings
from kcc_intake.app import create_app as intake_app
from kcc_intake.settings import IntakeSettings
from kcc_metrics.app import create_app as metrics_app
from kcc_metrics.repository import FactRepository
from kcc_metrics.settings import MetricsSettings
from kcc_routing.app import create_app as routing_app
from kcc_routing.settings import RoutingSettings
from kcc_shared.contracts import CALLBACK_REQUESTED, CONTACT_ROUTED, CallbackRequested, CallbackRequestedData
from kcc_shared.testing import running, unique, unique_past_day

pytestmark = pytest.mark.e2e


async def _poll(fetch, done, *, timeout: float = 10.0):
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        value = await fetch()
        if done(value) or asyncio.get_running_loop().time() > deadline:
            return value
        await asyncio.sleep(0.1)


async def test_web_contact_is_routed_and_counted_in_one_trace(service_env, topic_reader):
    for service in ("intake", "routing", "callback", "metrics"):
        service_env(service)
    spans = InMemorySpanExporter()
    apps = {
        "intake": intake_app(IntakeSettings(), span_exporter=spans),
        "routing": routing_app(RoutingSettings(), span_exporter=spans),
        "callback": callback_app(CallbackSettings(), span_exporter=spans),
        "metrics": metrics_app(MetricsSettings(), span_exporter=spans),
    }
    async with AsyncExitStack() as stack:
        clients = {name: await stack.enter_async_context(running(app)) for name, app in apps.items()}
        routed_reader = await topic_reader(CONTACT_ROUTED.name)
        # Fresh consumer groups replay the topics' history, so count on a day of our own.
        day = unique_past_day()
        facts = FactRepository(apps["metrics"].state.infra.db["facts"])

        response = await clients["intake"].post(
            "/v1/channels/web/submissions",
            json={
                "form_id": "contactformulier",
                "submission_id": unique("form"),
                "subject": "Verhuizing doorgeven",
                "message": "Wij verhuizen per 1 januari naar de Oosterstraat 12. Hoe geef ik dat door?",
                "email": "J.Jansen@Example.NL",
                "submitted_at": f"{day.isoformat()}T10:00:00+01:00",
            },
        )
        assert response.status_code == 202, response.text
        contact_id = response.json()["contact_id"]

        # Routing decided and published the decision for exactly this contact.
        routed = await routed_reader.read(count=1, match=lambda r: json.loads(r.value)["subject"] == contact_id)
        assert len(routed) == 1
        decision = json.loads(routed[0].value)["data"]
        assert decision["contact_id"] == contact_id
        assert decision["decision"] == "answer_in_kcc"
        assert decision["channel"] == "web"

        # Metrics counted the contact on its day, and its routing decision once.
        after = await _poll(
            lambda: _json(clients["metrics"].get("/v1/counts/daily", params={"day": day.isoformat()})),
            lambda body: body["received"] != {},
        )
        assert after == {"day": day.isoformat(), "received": {"web": 1}, "routed": {}}
        async def of_contact() -> list[dict]:
            return [
                *await facts.where_in(kind="received", field="contact_id", values=[contact_id]),
                *await facts.where_in(kind="routed", field="contact_id", values=[contact_id]),
            ]

        counted = await _poll(of_contact, lambda found: len(found) == 2, timeout=10)
        assert len(counted) == 2
        routed_fact = next(f for f in counted if f["kind"] == "routed")
        assert routed_fact["decision"] == "answer_in_kcc"

        # The contact reads back from intake naming the citizen by pseudonym; the registry gives
        # the e-mail address, lower-cased.
        contact = (await clients["intake"].get(f"/v1/contacts/{contact_id}")).json()
        registry = await clients["intake"].get(f"/v1/registry/pseudonyms/{contact['citizen']['email']}")
        assert registry.json()["value"] == "j.jansen@example.nl"

        # The callback service consumes call-back requests.
        callback_id = unique("cb")
        request = CallbackRequested.create(
            source="/tests",
            subject=callback_id,
            data=CallbackRequestedData(
                callback_id=callback_id,
                contact_id=contact_id,
                department_id="sozawe",
                phone_key="phone:" + "1" * 32,  # a pseudonym the registry does not know: no number stored
                requested_at=datetime.now(UTC),
            ),
        )
        await apps["intake"].state.infra.publisher.publish(request, topic=CALLBACK_REQUESTED)
        callback = await _poll(
            lambda: clients["callback"].get(f"/v1/callbacks/{callback_id}"),
            lambda r: r.status_code == 200 and r.json()["status"] == "scheduled",
        )
        assert callback.status_code == 200
        assert callback.json()["status"] == "scheduled"
        assert callback.json()["gevraagde_handeling"] == "Terugbellen"
        assert callback.json()["interne_taak_status"] == "te_verwerken"
        assert "phone" not in callback.json()

    # One trace: the HTTP request, the publish, each consume and the store writes.
    finished = spans.get_finished_spans()
    post = next(s for s in finished if s.name.startswith("POST /v1/channels/web/submissions") and s.parent is None)
    trace = [s for s in finished if s.context.trace_id == post.context.trace_id]
    by_service = {}
    for span in trace:
        by_service.setdefault(span.resource.attributes["service.name"], []).append(span)
    names = {service: {s.name for s in group} for service, group in by_service.items()}
    assert any(n.endswith(" publish") and "contact.received" in n for n in names["intake"]), names["intake"]
    assert any(n.startswith("test_intake") and "insert" in n for n in names["intake"]), names["intake"]
    assert any("contact.received" in n and n.endswith(" process") for n in names["routing"]), names["routing"]
    # Routing stores its decision (an insert keyed by the event id) and its work item in the same trace.
    assert any(n.startswith("test_routing") and n.endswith(".insert") for n in names["routing"]), names["routing"]
    assert any(n.startswith("test_routing") and n.endswith(".update") for n in names["routing"]), names["routing"]
    assert any("contact.routed" in n and n.endswith(" publish") for n in names["routing"]), names["routing"]
    metrics_consumes = {n for n in names["metrics"] if n.endswith(" process")}
    assert any("contact.received" in n for n in metrics_consumes), names["metrics"]
    assert any("contact.routed" in n for n in metrics_consumes), names["metrics"]
    assert any(n.endswith(".insert") for n in names["metrics"]), names["metrics"]


async def _json(response_awaitable):
    return (await response_awaitable).json()
