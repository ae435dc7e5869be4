"""Delivery semantics on the real broker and store: de-duplication, retries, dead letters."""

import asyncio
import json
from datetime import UTC, datetime

import pytest
from pydantic_settings import SettingsConfigDict

from kcc_shared.contracts import DEAD_LETTER, Channel, ContactReceived, ContactReceivedData, TopicSpec
from kcc_shared.runtime import Infrastructure
from kcc_shared.settings import ServiceSettings
from kcc_shared.testing import unique

pytestmark = pytest.mark.integration


class ProbeSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="KCC_PROBE_", extra="ignore")
    service_name: str = "probe"
    port: int = 8999
    mongo_database: str = "kcc_probe"
    group_id: str = "kcc-probe"


def contact(text: str, *, event_id: str | None = None) -> ContactReceived:
    contact_id = unique("c")
    return ContactReceived.create(
        source="/tests",
        subject=contact_id,
        event_id=event_id,
        data=ContactReceivedData(contact_id=contact_id, channel=Channel.EMAIL, received_at=datetime.now(UTC), text=text),
    )


@pytest.fixture
async def probe(service_env):
    """A minimal service on a topic of its own whose handler counts effects in the store,
    and fails for texts starting with 'poison'."""
    service_env("probe")
    topic = TopicSpec(name=unique("kcc.test.contacts") + ".v1", description="test", events=(ContactReceived,), key="contact_id", partitions=1)
    infra = Infrastructure.build(ProbeSettings())
    effects = infra.db["effects"]
    attempts: dict[str, int] = {}

    async def handle(event: ContactReceived) -> None:
        attempts[event.id] = attempts.get(event.id, 0) + 1
        if (event.data.text or "").startswith("poison"):
            raise RuntimeError(f"cannot handle {event.data.text}")
        await effects.update_one({"_id": event.data.contact_id}, {"$inc": {"times": 1}}, upsert=True)

    infra.subscribe(topic, handle)
    await infra.wait_for_dependencies()
    await infra.broker.start()
    await infra.wait_until_ready()
    yield infra, topic, effects, attempts
    await infra.close()


async def wait_for(predicate, timeout: float = 20.0) -> bool:
    deadline = asyncio.get_running_loop().time() + timeout
    while asyncio.get_running_loop().time() < deadline:
        if await predicate():
            return True
        await asyncio.sleep(0.1)
    return False


async def test_redelivered_event_has_no_second_effect(probe):
    infra, topic, effects, attempts = probe
    first = contact("Wanneer wordt het grofvuil opgehaald?")
    await infra.publisher.publish(first, topic=topic)
    await infra.publisher.publish(first, topic=topic)  # the same event, delivered again
    marker = contact("Een tweede vraag, na de herhaling")
    await infra.publisher.publish(marker, topic=topic)

    assert await wait_for(lambda: _exists(effects, marker.data.contact_id))
    assert (await effects.find_one({"_id": first.data.contact_id}))["times"] == 1
    assert attempts[first.id] == 1  # the handler never even saw the duplicate
    duplicates = infra.consumer_metrics.events.labels(topic.name, infra.settings.group_id, "duplicate")
    assert duplicates._value.get() == 1


async def test_poison_messages_go_to_the_dead_letter_topic_and_consumption_goes_on(probe, topic_reader):
    infra, topic, effects, attempts = probe
    dead_letters = await topic_reader(DEAD_LETTER.name)
    await infra.broker.publish(b"{not json", topic=topic.name)
    failing = contact("poison: this handler always fails")
    await infra.publisher.publish(failing, topic=topic)
    after = contact("Ik wil graag een parkeervergunning aanvragen")
    await infra.publisher.publish(after, topic=topic)

    assert await wait_for(lambda: _exists(effects, after.data.contact_id)), "consumer stopped after poison"
    records = await dead_letters.read(
        count=2, match=lambda r: dict(r.headers).get("kcc-dlq-original-topic") == topic.name.encode()
    )
    assert len(records) == 2
    unparseable, failed = sorted(records, key=lambda r: int(dict(r.headers)["kcc-dlq-original-offset"]))
    h1, h2 = ({k: v.decode() for k, v in r.headers} for r in (unparseable, failed))

    assert unparseable.value == b"{not json"
    assert h1["kcc-dlq-error"].startswith("invalid event:")
    assert h1["kcc-dlq-attempts"] == "1"
    assert h1["kcc-dlq-original-partition"] == "0"
    assert h1["kcc-dlq-consumer-group"] == infra.settings.group_id

    assert json.loads(failed.value)["id"] == failing.id
    assert h2["kcc-dlq-error"] == "RuntimeError: cannot handle poison: this handler always fails"
    assert h2["kcc-dlq-attempts"] == str(infra.settings.consumer.max_attempts)
    assert int(h2["kcc-dlq-original-offset"]) == int(h1["kcc-dlq-original-offset"]) + 1
    assert attempts[failing.id] == infra.settings.consumer.max_attempts
    assert await effects.find_one({"_id": failing.data.contact_id}) is None


async def _exists(collection, key) -> bool:
    return await collection.find_one({"_id": key}) is not None


async def test_a_replica_without_partitions_is_ready(service_env):
    """Two replicas in one group on a one-partition topic: one consumes, both answer ready."""
    service_env("probe")
    topic = TopicSpec(name=unique("kcc.test.replicas") + ".v1", description="test", events=(ContactReceived,), key="contact_id", partitions=1)
    replicas = [Infrastructure.build(ProbeSettings()) for _ in range(2)]

    async def ignore(event: ContactReceived) -> None:
        pass

    try:
        for infra in replicas:
            infra.subscribe(topic, ignore)
            await infra.wait_for_dependencies()
            await infra.broker.start()

        async def assigned() -> bool:
            return sum(len(i.broker.subscribers[0].consumer.assignment()) for i in replicas) == 1

        assert await wait_for(assigned, timeout=30)
        idle = next(i for i in replicas if not i.broker.subscribers[0].consumer.assignment())
        assert await idle.readiness() == {"kafka": "ok", "store": "ok", "consumers": "ok"}
    finally:
        for infra in replicas:
            await infra.close()
