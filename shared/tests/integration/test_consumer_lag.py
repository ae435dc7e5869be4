"""Consumer lag on the real broker: events published while the consumer is stuck show up in
`kcc_consumer_lag` on the service's /metrics, and the lag returns to 0 once they are processed."""

import asyncio
from datetime import UTC, datetime

import pytest
from prometheus_client.parser import text_string_to_metric_families
from pydantic_settings import SettingsConfigDict

from kcc_shared.consumer import kafka_group
from kcc_shared.contracts import Channel, ContactReceived, ContactReceivedData, TopicSpec
from kcc_shared.runtime import Infrastructure, create_service_app
from kcc_shared.settings import ServiceSettings
from kcc_shared.testing import running, unique

pytestmark = pytest.mark.integration


class LagProbeSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="KCC_PROBE_", extra="ignore")
    service_name: str = "probe"
    port: int = 8999
    mongo_database: str = "kcc_probe"
    group_id: str = "kcc-probe"


def contact(text: str) -> ContactReceived:
    contact_id = unique("c")
    return ContactReceived.create(
        source="/tests", subject=contact_id,
        data=ContactReceivedData(contact_id=contact_id, channel=Channel.WEB, received_at=datetime.now(UTC), text=text),
    )


async def lag_of(client, *, group: str, topic: str) -> dict[str, float]:
    text = (await client.get("/metrics")).text
    return {
        sample.labels["partition"]: sample.value
        for family in text_string_to_metric_families(text)
        if family.name == "kcc_consumer_lag"
        for sample in family.samples
        if sample.labels["group"] == group and sample.labels["topic"] == topic
    }


async def eventually(fetch, expected, timeout: float = 20.0):
    deadline = asyncio.get_running_loop().time() + timeout
    value = await fetch()
    while value != expected and asyncio.get_running_loop().time() < deadline:
        await asyncio.sleep(0.2)
        value = await fetch()
    return value


async def test_lag_counts_unprocessed_events_and_returns_to_zero(service_env, monkeypatch):
    service_env("probe")
    monkeypatch.setenv("KCC_CONSUMER_LAG_INTERVAL_S", "0.2")
    topic = TopicSpec(name=unique("kcc.test.lag") + ".v1", description="test", events=(ContactReceived,), key="contact_id", partitions=1)
    infra = Infrastructure.build(LagProbeSettings())
    group = kafka_group(infra.settings.group_id, topic.name)  # one group per topic
    effects = infra.db["effects"]
    gate = asyncio.Event()
    gate.set()

    async def handle(event: ContactReceived) -> None:
        await gate.wait()  # a slow consumer: stuck until the test opens the gate
        await effects.insert_one({"_id": event.data.contact_id})

    infra.subscribe(topic, handle)
    app = create_service_app(infra=infra, title="probe", description="lag probe")
    async with running(app) as client:
        warm_up = contact("eerste vraag")
        await infra.publisher.publish(warm_up, topic=topic)
        assert await eventually(lambda: effects.count_documents({}), 1) == 1
        assert await eventually(lambda: lag_of(client, group=group, topic=topic.name), {"0": 0.0}) == {"0": 0.0}

        gate.clear()
        backlog = [contact(f"vraag {i}") for i in range(5)]
        for event in backlog:
            await infra.publisher.publish(event, topic=topic)
        assert await eventually(lambda: lag_of(client, group=group, topic=topic.name), {"0": 5.0}) == {"0": 5.0}

        gate.set()
        assert await eventually(lambda: lag_of(client, group=group, topic=topic.name), {"0": 0.0}) == {"0": 0.0}
        assert await effects.count_documents({}) == 6
