"""Dead letters through a service's ops API on the real broker and store: a message a handler
rejects (its department is not configured yet) is listed with its reason, and after the
configuration is fixed a replay is processed once; a second replay is refused; the topic's
other consumer group ignores the replay."""

import asyncio
from datetime import UTC, datetime

import pytest
from pydantic_settings import SettingsConfigDict

from kcc_shared.contracts import Channel, ContactRouted, ContactRoutedData, TopicSpec
from kcc_shared.runtime import Infrastructure, create_service_app
from kcc_shared.settings import ServiceSettings
from kcc_shared.testing import running, unique

pytestmark = pytest.mark.integration


class DeptProbeSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="KCC_PROBE_", extra="ignore")
    service_name: str = "probe"
    port: int = 8999
    mongo_database: str = "kcc_probe"
    group_id: str = "kcc-probe"


def routed(department_id: str) -> ContactRouted:
    contact_id = unique("c")
    return ContactRouted.create(
        source="/tests", subject=contact_id,
        data=ContactRoutedData(
            contact_id=contact_id, channel=Channel.EMAIL, decision="forward_to_department", reason="test",
            department_id=department_id, routed_at=datetime.now(UTC),
        ),
    )


async def eventually(fetch, done, timeout: float = 20.0):
    deadline = asyncio.get_running_loop().time() + timeout
    value = await fetch()
    while not done(value) and asyncio.get_running_loop().time() < deadline:
        await asyncio.sleep(0.2)
        value = await fetch()
    return value


def probe(topic: TopicSpec, departments: set[str]) -> Infrastructure:
    infra = Infrastructure.build(DeptProbeSettings())
    inbox_of = infra.db["work"]

    async def handle(event: ContactRouted) -> None:
        department = event.data.department_id
        if department not in departments:
            raise LookupError(f"unknown department {department!r}: add it to the configuration")
        await inbox_of.insert_one({"_id": event.data.contact_id, "department": department, "group": infra.settings.group_id})

    infra.subscribe(topic, handle)
    return infra


async def test_a_rejected_event_is_listed_and_replayed_once_after_the_fix(service_env, monkeypatch):
    topic = TopicSpec(name=unique("kcc.test.routed") + ".v1", description="test", events=(ContactRouted,), key="contact_id", partitions=2)
    service_env("probe")
    departments: set[str] = {"sozawe"}
    owner = probe(topic, departments)
    monkeypatch.setenv("KCC_PROBE_GROUP_ID", unique("test-other"))
    monkeypatch.setenv("KCC_PROBE_MONGO_DATABASE", unique("test_other").replace("-", "_"))
    other = probe(topic, {"sozawe", "wijkteams"})  # another group on the topic, already configured
    group = owner.settings.group_id
    async with running(create_service_app(infra=owner, title="probe", description="")) as api, \
            running(create_service_app(infra=other, title="other", description="")):
        event = routed("wijkteams")
        await owner.publisher.publish(event, topic=topic)

        listed = await eventually(
            lambda: _json(api.get("/v1/ops/dead-letters", params={"topic": topic.name})), lambda body: body["count"] >= 1
        )
        assert listed["group"] == group and listed["count"] == 1
        [letter] = listed["items"]
        assert letter["error"] == "LookupError: unknown department 'wijkteams': add it to the configuration"
        assert (letter["event_id"], letter["event_type"]) == (event.id, "nl.contactstad.contact.routed")
        assert (letter["original_topic"], letter["attempts"], letter["replayed"]) == (topic.name, 4, False)
        assert await owner.db["work"].find_one({"_id": event.data.contact_id}) is None
        assert await _processed(other, event.data.contact_id)

        details = (await api.get(f"/v1/ops/dead-letters/{letter['id']}")).json()
        assert details["headers"]["kcc-dlq-consumer-group"] == group and "payload" not in details
        assert (await api.get("/v1/ops/dead-letters/9-999999")).status_code == 404

        departments.add("wijkteams")  # the fix: the department is configured
        replay = await api.post(f"/v1/ops/dead-letters/{letter['id']}/replay")
        assert replay.status_code == 200, replay.text
        receipt = replay.json()
        assert (receipt["topic"], receipt["event_id"], receipt["group"]) == (topic.name, event.id, group)
        assert receipt["partition"] == letter["original_partition"]  # by key, like the original

        work = await eventually(lambda: owner.db["work"].find_one({"_id": event.data.contact_id}), lambda doc: doc is not None)
        assert work == {"_id": event.data.contact_id, "department": "wijkteams", "group": group}

        again = await api.post(f"/v1/ops/dead-letters/{letter['id']}/replay")
        assert again.status_code == 409 and "already replayed" in again.json()["detail"]
        after = (await api.get("/v1/ops/dead-letters", params={"topic": topic.name})).json()
        assert [item["replayed"] for item in after["items"]] == [True]
        assert (await api.get("/v1/ops/dead-letters", params={"topic": topic.name, "pending": "true"})).json()["count"] == 0

        # The other group saw the replay and left it alone: it had processed the event already.
        ignored = other.consumer_metrics.events.labels(topic.name, other.settings.group_id, "ignored")
        assert await eventually(lambda: _value(ignored), lambda n: n == 1) == 1
        assert await owner.db["work"].count_documents({}) == 1


async def _processed(infra: Infrastructure, contact_id: str) -> bool:
    found = await eventually(lambda: infra.db["work"].find_one({"_id": contact_id}), lambda doc: doc is not None)
    return found is not None


async def _value(counter) -> float:
    return counter._value.get()  # noqa: SLF001


async def _json(response_awaitable):
    return (await response_awaitable).json()


async def test_replay_all_sends_each_pending_dead_letter_of_the_group_once(service_env):
    topic = TopicSpec(name=unique("kcc.test.routed") + ".v1", description="test", events=(ContactRouted,), key="contact_id", partitions=3)
    service_env("probe")
    departments: set[str] = set()
    infra = probe(topic, departments)
    async with running(create_service_app(infra=infra, title="probe", description="")) as api:
        events = [routed("jeugdzorg"), routed("jeugdzorg"), routed("wijkteams")]
        for event in events:
            await infra.publisher.publish(event, topic=topic)
        listed = await eventually(
            lambda: _json(api.get("/v1/ops/dead-letters", params={"topic": topic.name})), lambda body: body["count"] >= 3
        )
        assert sorted(item["event_id"] for item in listed["items"]) == sorted(e.id for e in events)

        departments.update({"jeugdzorg", "wijkteams"})
        replayed = (await api.post("/v1/ops/dead-letters/replay", params={"topic": topic.name})).json()
        assert replayed["count"] == 3
        assert sorted(r["event_id"] for r in replayed["replayed"]) == sorted(e.id for e in events)
        done = await eventually(lambda: infra.db["work"].count_documents({}), lambda n: n == 3)
        assert done == 3
        again = (await api.post("/v1/ops/dead-letters/replay", params={"topic": topic.name})).json()
        assert again == {"count": 0, "replayed": []}
