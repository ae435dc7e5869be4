"""Routing on the real Kafka broker and the real store."""

import asyncio
import json
from datetime import UTC, datetime, timedelta

import pytest

from kcc_routing.app import create_app
from kcc_routing.settings import RoutingSettings
from kcc_shared.contracts import (
    AGENT_STATUS,
    CALLBACK_REQUESTED,
    CONTACT_RECEIVED,
    CONTACT_RESOLVED,
    CONTACT_ROUTED,
    Channel,
    CitizenPseudonyms,
    ContactReceived,
    ContactReceivedData,
    department_topic,
)
from kcc_shared.pseudonyms import Pseudonymiser
from kcc_shared.testing import running, unique

PSEUDONYMS = Pseudonymiser("test-secret")

pytestmark = pytest.mark.integration


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def received(text: str, *, channel: Channel, phone: str | None = None, at: datetime) -> ContactReceived:
    contact_id = unique("c")
    return ContactReceived.create(
        source="/tests",
        subject=contact_id,
        time=at,
        data=ContactReceivedData(
            contact_id=contact_id, channel=channel, received_at=at, text=text, citizen=CitizenPseudonyms(phone=PSEUDONYMS.pseudonym("phone", phone) if phone else None)
        ),
    )


async def until_consuming(app, *, timeout: float = 60.0) -> None:
    """Publish probe contacts until routing decided one: its fresh consumer group (reading from
    the latest offset, not the shared topic's whole history) is then assigned and live."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    probes: list[str] = []
    while loop.time() < deadline:
        probe = received("probe", channel=Channel.WEB, at=datetime.now(UTC))
        probes.append(probe.data.contact_id)
        await app.state.infra.publisher.publish(probe, topic=CONTACT_RECEIVED)
        for _ in range(10):
            if await app.state.infra.db["decisions"].find_one({"contact_id": {"$in": probes}}):
                return
            await asyncio.sleep(0.2)
    raise AssertionError("routing did not start consuming")


class Webhook:
    """A tiny real HTTP endpoint that records what is POSTed to it."""

    def __init__(self) -> None:
        self.received: list[dict] = []

    async def start(self) -> str:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        return f"http://127.0.0.1:{self._server.sockets[0].getsockname()[1]}/hook"

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = (await reader.readuntil(b"\r\n\r\n")).decode()
        length = next(int(line.split(":")[1]) for line in head.split("\r\n") if line.lower().startswith("content-length"))
        self.received.append(json.loads(await reader.readexactly(length)))
        writer.write(b"HTTP/1.1 204 No Content\r\ncontent-length: 0\r\n\r\n")
        await writer.drain()
        writer.close()

    async def stop(self) -> None:
        self._server.close()


def of(contact_id: str, **expected):
    """Records about one contact; `expected` picks ours where other routing processes on the
    shared broker (other branches' tests) decide about the same contact too."""

    def match(record) -> bool:
        data = json.loads(record.value)["data"]
        return data["contact_id"] == contact_id and all(data.get(k) == v for k, v in expected.items())

    return match


async def test_two_agents_claiming_at_once_exactly_one_wins_and_an_expired_lease_requeues(service_env, topic_reader):
    service_env("routing")
    clock = Clock(datetime(2026, 11, 23, 9, 0, tzinfo=UTC))
    app = create_app(RoutingSettings(lease_s=60), clock=clock)
    async with running(app) as client:
        resolved_reader = await topic_reader(CONTACT_RESOLVED.name)
        event = received("Mijn paspoort is verlopen, hoe vraag ik een nieuw paspoort aan?", channel=Channel.EMAIL, at=clock.now)
        outcome = await app.state.routing.route(event)  # stored in the real store, queued for the KCC
        contact_id = event.data.contact_id
        assert outcome.routed.data.decision == "answer_in_kcc"

        queue = (await client.get("/v1/queues", params={"channel": "email", "skill": "burgerzaken"})).json()
        assert contact_id in [item["contact_id"] for item in queue["items"]]

        # Many agents at once, on the real store: exactly one claim wins, the others get 409.
        agents = [f"agent-{i}" for i in range(6)]
        responses = await asyncio.gather(
            *(client.post(f"/v1/queues/items/{contact_id}/claim", json={"agent_id": a}) for a in agents)
        )
        codes = sorted(r.status_code for r in responses)
        assert codes == [200] + [409] * 5, [r.text for r in responses]
        winner = next(r.json()["claimed_by"] for r in responses if r.status_code == 200)
        loser = next(a for a in agents if a != winner)
        assert responses[agents.index(loser)].json()["detail"]["field"] == "contact_id"
        queue = (await client.get("/v1/queues", params={"channel": "email"})).json()
        assert contact_id not in [item["contact_id"] for item in queue["items"]]

        # The lease runs out: the contact is back in the queue and another agent may take it.
        clock.now += timedelta(seconds=61)
        queue = (await client.get("/v1/queues", params={"channel": "email"})).json()
        assert contact_id in [item["contact_id"] for item in queue["items"]]
        late = await client.post(f"/v1/queues/items/{contact_id}/resolve", json={"agent_id": winner, "outcome": "answered_in_kcc", "handle_time_s": 30})
        assert late.status_code == 409
        taken = await client.post(f"/v1/queues/items/{contact_id}/claim", json={"agent_id": loser})
        assert taken.status_code == 200

        done = await client.post(
            f"/v1/queues/items/{contact_id}/resolve", json={"agent_id": loser, "outcome": "answered_in_kcc", "handle_time_s": 245.0}
        )
        assert done.status_code == 200, done.text
        records = await resolved_reader.read(count=1, match=of(contact_id))
        assert len(records) == 1
        data = json.loads(records[0].value)["data"]
        assert (data["outcome"], data["resolved_by"], data["handle_time_s"]) == ("answered_in_kcc", loser, 245.0)
        assert data["upl_uri"] == "http://standaarden.overheid.nl/owms/terms/paspoort"
        again = await client.post(f"/v1/queues/items/{contact_id}/claim", json={"agent_id": winner})
        assert again.status_code == 409
        missing = await client.post("/v1/queues/items/nope/claim", json={"agent_id": winner})
        assert missing.status_code == 404
        bad = await client.post(f"/v1/queues/items/{contact_id}/resolve", json={"agent_id": loser, "outcome": "lost", "handle_time_s": -1})
        assert bad.status_code == 422
        assert {tuple(e["loc"]) for e in bad.json()["detail"]} == {("body", "outcome"), ("body", "handle_time_s")}


async def test_a_department_added_at_runtime_receives_its_next_contact_on_its_own_topic(service_env, topic_reader, monkeypatch):
    service_env("routing")
    monkeypatch.setenv("KCC_CONSUMER_AUTO_OFFSET_RESET", "latest")
    app = create_app(RoutingSettings())
    department_id = unique("dept")
    webhook = Webhook()
    webhook_url = await webhook.start()
    async with running(app) as client:
        await until_consuming(app)
        routed_reader = await topic_reader(CONTACT_ROUTED.name)
        added = await client.put(
            f"/v1/organisation/departments/{department_id}",
            json={
                "id": department_id,
                "name": "Dierenzaken (test)",
                "joins_kcc_on": "2099-01-01",
                "opening_hours": {"mon": [{"opens": "09:00", "closes": "12:00"}]},
                "products": ["hondenbelasting"],
                "webhook_url": webhook_url,
            },
        )
        assert added.status_code == 200, added.text
        assert added.json()["topic"] == f"kcc.dept.{department_id}.contacts.v1"
        assert added.json()["owned_products"] == [{"name": "hondenbelasting", "uri": "http://standaarden.overheid.nl/owms/terms/hondenbelasting"}]
        # Its topic exists now: a reader can attach before any contact arrives.
        department_reader = await topic_reader(department_topic(department_id).name)

        event = received("Onze hond is overleden, hoe meld ik hem af voor de hondenbelasting?", channel=Channel.EMAIL, at=datetime.now(UTC))
        await app.state.infra.publisher.publish(event, topic=CONTACT_RECEIVED)

        records = await department_reader.read(count=1, match=of(event.data.contact_id), timeout=60)
        assert len(records) == 1
        work = json.loads(records[0].value)
        assert work["type"] == "nl.contactstad.department.contact-assigned"
        assert work["data"]["department_id"] == department_id
        assert work["data"]["decision"] == "forward_to_department"
        assert work["data"]["text"].startswith("Onze hond")
        # The department's webhook got the same event (same id, to de-duplicate on).
        for _ in range(50):
            if any(hook["data"]["contact_id"] == event.data.contact_id for hook in webhook.received):
                break
            await asyncio.sleep(0.1)
        assert [hook["id"] for hook in webhook.received if hook["data"]["contact_id"] == event.data.contact_id] == [work["id"]]

        routed = await routed_reader.read(count=1, match=of(event.data.contact_id, department_id=department_id), timeout=30)
        assert len(routed) == 1
        decision = json.loads(routed[0].value)["data"]
        assert decision["department_id"] == department_id
        assert decision["upl_uri"] == "http://standaarden.overheid.nl/owms/terms/hondenbelasting"
        assert decision["reason"] and decision["contact_id"] == event.data.contact_id

        # Moving the join date to the past: the KCC answers the next one first.
        moved = await client.put(f"/v1/organisation/departments/{department_id}/join-date", json={"joins_kcc_on": "2012-07-01"})
        assert moved.status_code == 200 and moved.json()["joined"] is True
        follow_up = received("Wij hebben een puppy, moet ik hondenbelasting betalen?", channel=Channel.EMAIL, at=datetime.now(UTC))
        await app.state.infra.publisher.publish(follow_up, topic=CONTACT_RECEIVED)
        routed = await routed_reader.read(count=1, match=of(follow_up.data.contact_id, department_id=department_id), timeout=60)
        assert len(routed) == 1
        assert json.loads(routed[0].value)["data"]["decision"] == "answer_in_kcc"
    await webhook.stop()


async def test_an_unreachable_department_gets_a_callback_request_on_the_broker(service_env, topic_reader):
    service_env("routing")
    sunday = datetime(2012, 9, 30, 11, 0, tzinfo=UTC)  # before SOZAWE joins, and closed
    app = create_app(RoutingSettings(), clock=Clock(sunday))
    async with running(app) as client:
        callbacks = await topic_reader(CALLBACK_REQUESTED.name)
        sozawe = await topic_reader(department_topic("sozawe").name)
        event = received("Ik wil bijstand aanvragen, ik heb geen inkomen", channel=Channel.TELEPHONE, phone="+31612345678", at=sunday)
        outcome = await app.state.routing.route(event)
        await app.state.outcomes.publish(outcome)
        [record] = await callbacks.read(count=1, match=of(event.data.contact_id, department_id="sozawe"))
        request = json.loads(record.value)["data"]
        assert (request["department_id"], request["phone_key"]) == ("sozawe", PSEUDONYMS.pseudonym("phone", "+31612345678"))
        assert "outside its opening hours" in request["reason"]
        assert len(await sozawe.read(count=1, match=of(event.data.contact_id, decision="callback"))) == 1
        decision = (await client.get(f"/v1/decisions/{event.data.contact_id}")).json()
        assert decision["decision"] == "callback" and decision["upl_uri"].endswith("/bijstand")


async def test_classify_knowledge_and_presence_over_http(service_env):
    service_env("routing")
    app = create_app(RoutingSettings())
    async with running(app) as client:
        response = await client.post("/v1/classify", json={"text": "De vuilnis is niet opgehaald, de kliko staat nog vol", "channel": "social"})
        assert response.status_code == 200
        body = response.json()
        assert body["products"][0]["name"] == "huishoudelijk afvalinzameling"
        assert body["products"][0]["uri"] == "http://standaarden.overheid.nl/owms/terms/huishoudelijk_afvalinzameling"
        assert 0 < body["products"][-1]["score"] <= body["products"][0]["score"] <= 1
        assert body["department"] == {"id": "milieudienst", "name": "Milieudienst"}
        ivr = (await client.post("/v1/classify", json={"channel": "telephone", "service_line": "afval"})).json()
        assert ivr["products"][0]["name"] == "huishoudelijk afvalinzameling"
        empty = await client.post("/v1/classify", json={"text": " ", "channel": "web"})
        assert empty.status_code == 422 and empty.json()["detail"]["field"] == "text"

        hits = (await client.get("/v1/knowledge/search", params={"q": "wanner word mijn grofvuii opgehaald"})).json()["items"]
        assert hits[0]["upl_name"] == "afvalinzameling grofvuil"
        assert (await client.get("/v1/knowledge/search")).status_code == 422

        organisation = (await client.get("/v1/organisation")).json()
        phases = {d["id"]: (d["phase"], d["joins_kcc_on"]) for d in organisation["departments"]}
        assert phases["burgerzaken"] == (1, "2012-07-01") and phases["sozawe"][0] == 2

        assert (await client.put("/v1/presence/sozawe", json={"agents": ["anna", "bert"]})).status_code == 200
        assert (await client.get("/v1/presence/sozawe")).json()["agents"] == ["anna", "bert"]
        assert (await client.put("/v1/presence/nope", json={"agents": []})).status_code == 404
        unknown = await client.put("/v1/organisation/departments/x-y", json={"id": "x-y", "name": "X", "joins_kcc_on": "2013-01-01", "products": ["geen product"]})
        assert unknown.status_code == 422 and unknown.json()["detail"]["field"] == "products"


async def test_agents_transfer_over_http_warm_while_reachable_and_never_a_third_time(service_env, topic_reader):
    service_env("routing")
    tuesday = datetime(2013, 2, 5, 9, 30, tzinfo=UTC)  # SOZAWE has joined and is open
    app = create_app(RoutingSettings(), clock=Clock(tuesday))
    async with running(app) as client:
        sozawe = await topic_reader(department_topic("sozawe").name)
        event = received("Mijn bijstandsuitkering is niet gestort", channel=Channel.TELEPHONE, phone="+31612345678", at=tuesday)
        assert (await app.state.routing.route(event)).routed.data.decision == "answer_in_kcc"
        contact_id = event.data.contact_id
        assert (await client.put("/v1/presence/sozawe", json={"agents": ["sanne"]})).status_code == 200

        decisions = []
        for _ in range(3):
            response = await client.post(f"/v1/contacts/{contact_id}/transfers", json={})
            assert response.status_code == 200, response.text
            decisions.append(response.json())
        assert [d["decision"] for d in decisions] == ["warm_transfer", "warm_transfer", "callback"]
        assert "transfer refused" in decisions[2]["reason"]
        assert all(d["department_id"] == "sozawe" and d["upl_uri"].endswith("/bijstand") for d in decisions)
        assert (await client.get(f"/v1/decisions/{contact_id}")).json()["decision"] == "callback"
        assert len(await sozawe.read(count=3, match=of(contact_id))) == 3

        assert (await client.post("/v1/contacts/nope/transfers", json={})).status_code == 404
        unknown = await client.post(f"/v1/contacts/{contact_id}/transfers", json={"department_id": "nope-x"})
        assert unknown.status_code == 404 and unknown.json()["detail"]["field"] == "department_id"


async def test_a_presence_report_lapses_after_its_ttl_and_warm_transfers_stop(service_env):
    service_env("routing")
    clock = Clock(datetime(2013, 2, 5, 9, 30, tzinfo=UTC))  # a Tuesday: SOZAWE has joined and is open
    app = create_app(RoutingSettings(presence_ttl_s=600), clock=clock)
    async with running(app) as client:

        async def transfer() -> dict:
            event = received("Mijn bijstandsuitkering is niet gestort", channel=Channel.TELEPHONE, phone="+31612345678", at=clock.now)
            assert (await app.state.routing.route(event)).routed.data.decision == "answer_in_kcc"
            response = await client.post(f"/v1/contacts/{event.data.contact_id}/transfers", json={})
            assert response.status_code == 200, response.text
            return response.json()

        reported = await client.put("/v1/presence/sozawe", json={"agents": ["sanne"]})
        assert reported.status_code == 200 and reported.json()["expired"] is False
        assert reported.json()["expires_at"] == "2013-02-05T09:40:00Z"

        clock.now += timedelta(seconds=599)
        assert (await transfer())["decision"] == "warm_transfer"

        clock.now += timedelta(seconds=1)  # ten minutes without a fresh report: nobody counts as present
        shown = (await client.get("/v1/presence/sozawe")).json()
        assert shown["agents"] == ["sanne"] and shown["expired"] is True
        lapsed = await transfer()
        assert lapsed["decision"] == "callback" and "nobody present" in lapsed["reason"], lapsed

        assert (await client.put("/v1/presence/sozawe", json={"agents": ["sanne"]})).json()["expired"] is False
        assert (await transfer())["decision"] == "warm_transfer"


async def test_an_agent_s_status_is_published_for_metrics(service_env, topic_reader):
    service_env("routing")
    clock = Clock(datetime(2026, 12, 1, 8, 0, tzinfo=UTC))
    app = create_app(RoutingSettings(), clock=clock)
    async with running(app) as client:
        statuses = await topic_reader(AGENT_STATUS.name)
        agent = unique("kcc-agent")
        reported = await client.put(f"/v1/agents/{agent}/status", json={"status": "available", "skills": ["burgerzaken", "burgerzaken"]})
        assert reported.status_code == 200, reported.text
        assert reported.json() == {"agent_id": agent, "status": "available", "at": "2026-12-01T08:00:00Z", "skills": ["burgerzaken"]}
        [record] = await statuses.read(count=1, match=lambda r: json.loads(r.value)["data"]["agent_id"] == agent, timeout=30)
        assert record.key == agent.encode() and json.loads(record.value)["data"]["status"] == "available"

        wrong = await client.put(f"/v1/agents/{agent}/status", json={"status": "asleep"})
        assert wrong.status_code == 422 and wrong.json()["detail"][0]["loc"] == ["body", "status"]
