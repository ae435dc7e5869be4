"""Routing's outbox and its back-office delivery queue, on a real broker and the real store.

- An agent's resolve and transfer while Kafka is down are saved with their events; once the
  broker is back, the outbox job publishes each event exactly once, with nobody retrying.
- A transfer retried with the same Idempotency-Key is one transfer and one event.
- A slow back-office delays only its own deliveries; a failing one is tried again after the
  back-off and delivered once."""

import asyncio
import json
from datetime import UTC, datetime, timedelta

from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry
from pymongo import AsyncMongoClient

import kcc_routing
from kcc_routing.app import create_app
from kcc_routing.deliveries import DeliveryRepository, DeliveryWorker, WebhookPoster, backoff, delivery
from kcc_routing.settings import RoutingSettings
from kcc_shared.contracts import (
    CALL_EVENTS,
    CALLBACK_OVERDUE,
    CALLBACK_REMINDER,
    CALLBACK_REQUESTED,
    CONTACT_RESOLVED,
    CONTACT_ROUTED,
    CallbackOverdue,
    CallbackOverdueData,
    CallbackReminder,
    CallbackReminderData,
    CallCallbackRequested,
    CallCallbackRequestedData,
    Channel,
    department_topic,
)
from kcc_shared.testing import WebhookReceiver, running, unique

from .test_routing_on_the_real_stack import PSEUDONYMS, of, received

pytestmark = pytest.mark.integration


async def eventually(check, *, timeout: float = 30.0):
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        value = await check()
        if value or asyncio.get_running_loop().time() > deadline:
            return value
        await asyncio.sleep(0.2)


async def test_a_resolve_and_a_transfer_made_while_kafka_is_down_are_published_once_after_it_returns(
    service_env, private_kafka, topic_reader, monkeypatch
):
    service_env("routing", bootstrap=private_kafka.bootstrap)
    monkeypatch.setenv("KCC_ROUTING_OUTBOX_INTERVAL_S", "1")
    monkeypatch.setenv("KCC_ROUTING_OUTBOX_GRACE_S", "1")
    app = create_app(RoutingSettings())
    async with running(app) as client:
        contacts = [received("Ik wil een nieuwe afvalpas", channel=Channel.WEB, at=datetime.now(UTC)) for _ in range(2)]
        for event in contacts:  # decided as the consumer would, without waiting for its group to form
            await app.state.outcomes.publish(await app.state.routing.route(event))
        work = app.state.infra.db["work"]
        ids = [event.data.contact_id for event in contacts]
        assert await work.count_documents({"_id": {"$in": ids}}) == 2
        for contact_id in ids:
            claimed = await client.post(f"/v1/queues/items/{contact_id}/claim", json={"agent_id": "anna"})
            assert claimed.status_code == 200, claimed.text
        resolved_id, transferred_id = ids
        resolved = await topic_reader(CONTACT_RESOLVED.name, bootstrap=private_kafka.bootstrap)
        routed = await topic_reader(CONTACT_ROUTED.name, bootstrap=private_kafka.bootstrap)

        await asyncio.to_thread(private_kafka.stop)
        resolve = await client.post(
            f"/v1/queues/items/{resolved_id}/resolve", json={"agent_id": "anna", "outcome": "answered_in_kcc", "handle_time_s": 90}
        )
        assert resolve.status_code == 200, resolve.text  # saved with its event: the outbox publishes it later
        first = await client.post(f"/v1/contacts/{transferred_id}/transfers", json={"department_id": "belastingen"}, headers={"Idempotency-Key": "t-1"})
        again = await client.post(f"/v1/contacts/{transferred_id}/transfers", json={"department_id": "belastingen"}, headers={"Idempotency-Key": "t-1"})
        assert first.status_code == again.status_code == 200, (first.text, again.text)
        assert first.json() == again.json()
        assert (await work.find_one({"_id": transferred_id}))["transfers"] <= 1
        assert len((await work.find_one({"_id": resolved_id}))["outbox"]) == 1
        pending = await app.state.infra.db["decisions"].count_documents({"contact_id": transferred_id, "outbox.0": {"$exists": True}})
        assert pending == 1

        back = asyncio.get_running_loop().time()
        await asyncio.to_thread(private_kafka.start)
        [record, *_] = await resolved.read(count=1, match=of(resolved_id), timeout=30)
        assert json.loads(record.value)["data"]["outcome"] == "answered_in_kcc"
        [decision, *_] = await routed.read(count=1, match=of(transferred_id), timeout=30)
        assert json.loads(decision.value)["data"] == first.json()
        assert asyncio.get_running_loop().time() - back < 60
        # One event each: the retried transfer added none. A send that timed out while the broker
        # was away may still be delivered by the producer beside the outbox's: at least once, under
        # the same event id, which consumers de-duplicate on.
        later = await routed.read(count=3, match=of(transferred_id), timeout=3) + await resolved.read(count=3, match=of(resolved_id), timeout=1)
        assert {json.loads(r.value)["id"] for r in [decision, *later, record]} == {json.loads(decision.value)["id"], json.loads(record.value)["id"]}
        # The record read may be the stuck producer's late delivery; the outbox empties on its next round.
        async def resolve_sent() -> bool:
            return (await work.find_one({"_id": resolved_id}))["outbox"] == []

        assert await eventually(resolve_sent, timeout=15)


async def test_a_transfer_retried_with_the_same_key_is_one_transfer_and_one_event(service_env, topic_reader):
    service_env("routing")
    app = create_app(RoutingSettings())
    async with running(app) as client:
        event = received("Mijn aanslag onroerendezaakbelasting klopt niet", channel=Channel.TELEPHONE, at=datetime.now(UTC))
        await app.state.routing.route(event)
        contact_id = event.data.contact_id
        feed = await topic_reader(department_topic("belastingen").name)
        answers = [
            await client.post(f"/v1/contacts/{contact_id}/transfers", json={"department_id": "belastingen"}, headers={"Idempotency-Key": "k-1"})
            for _ in range(3)
        ]
        assert {r.status_code for r in answers} == {200}
        assert len({json.dumps(r.json(), sort_keys=True) for r in answers}) == 1
        assert (await app.state.infra.db["work"].find_one({"_id": contact_id}))["transfers"] == (1 if answers[0].json()["decision"] == "warm_transfer" else 0)
        records = await feed.read(count=2, match=of(contact_id), timeout=5)
        assert len(records) == 1 and len(await app.state.infra.db["decisions"].distinct("_id", {"contact_id": contact_id})) == 2
        other = await client.post(f"/v1/contacts/{contact_id}/transfers", json={"department_id": "belastingen"}, headers={"Idempotency-Key": "k-2"})
        assert other.status_code == 200 and len(await app.state.infra.db["decisions"].distinct("_id", {"contact_id": contact_id})) == 3


class SlowReceiver(WebhookReceiver):
    """A back-office that takes `delay` seconds per request."""

    def __init__(self, delay: float) -> None:
        super().__init__()
        self.delay = delay

    async def _handle(self, reader, writer) -> None:
        await asyncio.sleep(self.delay)
        await super()._handle(reader, writer)


async def test_a_slow_back_office_delays_only_its_own_deliveries_and_a_failing_one_is_retried_after_the_back_off(real_stack):
    client = AsyncMongoClient(real_stack["mongo"], tz_aware=True)
    repository = DeliveryRepository(client[unique("test_deliveries").replace("-", "_")]["deliveries"])
    await repository.ensure_indexes()
    slow, fast, flaky = SlowReceiver(delay=4.0), WebhookReceiver(), WebhookReceiver(status=503)
    urls = {"slow": await slow.start(), "fast": await fast.start(), "flaky": await flaky.start()}
    from opentelemetry.sdk.trace import TracerProvider

    worker = DeliveryWorker(
        repository, post=WebhookPoster(TracerProvider()).post, give_up=lambda item, reason: asyncio.sleep(0), lease=None,
        registry=CollectorRegistry(), tries=7, backoff_s=0.5, timeout_s=10, poll_s=0.1,
    )
    now = datetime.now(UTC)
    for n in range(3):
        for department, url in urls.items():
            body = json.dumps({"id": f"{department}-{n}", "data": {"contact_id": f"c-{department}-{n}"}}).encode()
            await repository.enqueue(delivery(event_id=f"{department}-{n}", department_id=department, url=url, body=body, key=f"c-{department}-{n}", now=now))
    started = asyncio.get_running_loop().time()
    await worker.start()
    try:
        # The fast department's three are in within a second, while the slow one's first still waits.
        assert await eventually(lambda: asyncio.sleep(0, len(fast.received) == 3), timeout=10)
        fast_done = asyncio.get_running_loop().time() - started
        assert fast_done < 3.0 and len(slow.received) == 0, (fast_done, len(slow.received))
        # The failing back-office: every attempt answered 503, then retried 0.5 s later (25 s in production).
        assert await eventually(lambda: repository.get("flaky:flaky-0"), timeout=5)
        first_failure = await eventually(lambda: _attempted(repository, "flaky:flaky-0"), timeout=5)
        assert first_failure["status"] == "pending" and first_failure["last_error"] == "HTTP 503"
        flaky.status = 204
        delivered = await eventually(lambda: _delivered(repository, "flaky:flaky-0"), timeout=10)
        assert delivered["attempts"] >= 2 and len([b for _, b in flaky.received if b["id"] == "flaky-0"]) == 1
        assert await eventually(lambda: asyncio.sleep(0, len(slow.received) == 3), timeout=20)
        headers = fast.received[0][0]
        assert headers["ce-id"] == "fast-0" and headers["content-type"].startswith("application/cloudevents+json")
    finally:
        await worker.stop()
        for receiver in (slow, fast, flaky):
            await receiver.stop()
        await client.close()
    assert [backoff(n, base_s=25).total_seconds() for n in range(1, 8)] == [25, 100, 400, 1600, 6400, 25600, 102400]


async def _attempted(repository: DeliveryRepository, delivery_id: str):
    doc = await repository.get(delivery_id)
    return doc if doc and doc["attempts"] >= 1 else None


async def _delivered(repository: DeliveryRepository, delivery_id: str):
    doc = await repository.get(delivery_id)
    return doc if doc and doc["status"] == "delivered" else None


async def test_the_phone_menu_s_call_me_back_books_one_call_back_and_the_caller_leaves_the_queue(service_env, topic_reader):
    service_env("routing")
    app = create_app(RoutingSettings())
    async with running(app) as client:
        requests = await topic_reader(CALLBACK_REQUESTED.name)
        call_id = unique("call")
        at = datetime.now(UTC)
        contact = received("", channel=Channel.TELEPHONE, phone="+31612345678", at=at)
        contact = contact.model_copy(update={"data": contact.data.model_copy(update={"channel_message_id": call_id, "service_line": "algemeen", "text": None})})
        outcome = await app.state.routing.route(contact)
        await app.state.outcomes.publish(outcome)
        contact_id = contact.data.contact_id
        assert outcome.routed.data.decision == "answer_in_kcc"
        assert contact_id in [i["contact_id"] for i in (await client.get("/v1/queues", params={"channel": "telephone", "limit": 200})).json()["items"]]

        menu = CallCallbackRequested.create(
            source="/tests", subject=call_id,
            data=CallCallbackRequestedData(call_id=call_id, phone_key=PSEUDONYMS.pseudonym("phone", "+31612345678"), requested_at=at + timedelta(seconds=40)),
        )
        for _ in range(2):  # a redelivery books nothing more
            await app.state.infra.publisher.publish(menu, topic=CALL_EVENTS)
        [record, *more] = await requests.read(count=2, match=of(contact_id), timeout=30)
        request = json.loads(record.value)
        assert request["data"]["department_id"] == "kcc" and request["data"]["phone_key"] == PSEUDONYMS.pseudonym("phone", "+31612345678")
        assert "keuzemenu" in request["data"]["reason"]
        assert {json.loads(r.value)["id"] for r in more} <= {request["id"]}  # at most the same event again
        queue = (await client.get("/v1/queues", params={"channel": "telephone", "limit": 200})).json()["items"]
        assert contact_id not in [i["contact_id"] for i in queue]
        claim = await client.post(f"/v1/queues/items/{contact_id}/claim", json={"agent_id": "anna"})
        assert claim.status_code == 409 and "call-back in the phone menu" in claim.json()["detail"]["reason"]
        item = await app.state.infra.db["work"].find_one({"_id": contact_id})
        assert item["outbox"] == [] and item["requests"] == [menu.id]


async def test_call_back_reminders_and_overdue_notices_reach_the_department_and_overdue_ones_escalate(
    service_env, topic_reader, webhook_receiver
):
    service_env("routing")
    app = create_app(RoutingSettings())
    hook = await webhook_receiver.start()
    department, leads = unique("vergunning"), unique("teamleiders")
    spec = {"joins_kcc_on": "2012-07-01", "opening_hours": {"mon": [{"opens": "08:00", "closes": "17:00"}]}}
    async with running(app) as client:
        for body in (
            {**spec, "id": leads, "name": "Teamleiders KCC (test)", "webhook_url": hook},
            {**spec, "id": department, "name": "Vergunningen (test)", "webhook_url": hook, "escalate_overdue_to": leads},
        ):
            assert (await client.put(f"/v1/organisation/departments/{body['id']}", json=body)).status_code == 200
        bad = await client.put(f"/v1/organisation/departments/{department}", json={**spec, "id": department, "name": "x", "escalate_overdue_to": "nope-x"})
        assert bad.status_code == 422
        own, escalated = await topic_reader(department_topic(department).name), await topic_reader(department_topic(leads).name)
        now = datetime.now(UTC)
        callback_id = unique("cb")
        reminder = CallbackReminder.create(source="/tests", subject=callback_id, data=CallbackReminderData(
            callback_id=callback_id, department_id=department, slot_start=now + timedelta(minutes=15),
            slot_end=now + timedelta(minutes=30), remind_at=now,
        ))
        overdue = CallbackOverdue.create(source="/tests", subject=callback_id, data=CallbackOverdueData(
            callback_id=callback_id, contact_id=unique("c"), department_id=department, deadline=now, status="scheduled",
            attempts=1, escalate_to=f"coordinator-{department}",
        ))
        await app.state.infra.publisher.publish(reminder, topic=CALLBACK_REMINDER)
        await app.state.infra.publisher.publish(overdue, topic=CALLBACK_OVERDUE)

        def ours(record) -> bool:
            return json.loads(record.value)["data"]["callback_id"] == callback_id

        # Two topics, two consumers (and Kafka groups): their order on the department's topic is not promised.
        assert sorted(json.loads(r.value)["id"] for r in await own.read(count=2, match=ours, timeout=60)) == sorted([reminder.id, overdue.id])
        assert [json.loads(r.value)["id"] for r in await escalated.read(count=2, match=ours, timeout=5)] == [overdue.id]
        posted = await eventually(lambda: asyncio.sleep(0, sorted(
            (b["type"].rsplit(".", 1)[1], h["ce-id"]) for h, b in webhook_receiver.received if b["data"].get("callback_id") == callback_id
        ) if len([1 for _, b in webhook_receiver.received if b["data"].get("callback_id") == callback_id]) >= 3 else None), timeout=15)
        # The department's webhook gets both; the leads' webhook the overdue one.
        assert posted == sorted([("overdue", overdue.id), ("overdue", overdue.id), ("reminder", reminder.id)])
        ids = sorted([d["_id"] async for d in app.state.infra.db["deliveries"].find({"event_id": {"$in": [reminder.id, overdue.id]}})])
        assert ids == sorted([f"{department}:{reminder.id}", f"{department}:{overdue.id}", f"{leads}:{overdue.id}"])


async def test_an_organisation_reload_asked_of_one_replica_reaches_the_others(service_env, monkeypatch, tmp_path):
    service_env("routing")
    shipped = json.loads((Path(kcc_routing.__file__).parent / "data" / "organisation.json").read_text(encoding="utf-8"))
    organisation = tmp_path / "organisation.json"
    organisation.write_text(json.dumps(shipped), encoding="utf-8")
    monkeypatch.setenv("KCC_ROUTING_ORGANISATION_FILE", str(organisation))
    monkeypatch.setenv("KCC_ROUTING_ORGANISATION_REFRESH_S", "0.5")
    first, second = create_app(RoutingSettings()), create_app(RoutingSettings())  # two replicas, one store
    async with running(first) as one, running(second) as other:
        assert (await other.get("/v1/organisation")).json()["max_transfers"] == shipped.get("max_transfers", 2)
        organisation.write_text(json.dumps({**shipped, "max_transfers": 5}), encoding="utf-8")
        reloaded = await one.post("/v1/organisation/reload")
        assert reloaded.status_code == 200 and reloaded.json()["max_transfers"] == 5
        seen = await eventually(lambda: _max_transfers(other, 5), timeout=10)
        assert seen == 5
        # A broken file is refused where it is asked and changes nothing anywhere.
        organisation.write_text("{not json", encoding="utf-8")
        refused = await one.post("/v1/organisation/reload")
        assert refused.status_code == 422 and refused.json()["detail"]["field"] == "organisation_file"
        await asyncio.sleep(1.5)
        assert (await other.get("/v1/organisation")).json()["max_transfers"] == 5


async def _max_transfers(client, expected: int):
    value = (await client.get("/v1/organisation")).json()["max_transfers"]
    return value if value == expected else None
