"""A producer whose sequence state went stale is replaced, and the publish goes through once."""

import asyncio
import json

import pytest
from aiokafka.errors import OutOfOrderSequenceNumber

from kcc_shared.contracts import ContactReceived, TopicSpec
from kcc_shared.kafka import EventPublisher, current_producer, ensure_topics
from kcc_shared.runtime import Infrastructure
from kcc_shared.testing import unique

from .test_delivery import ProbeSettings, contact

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("failure", ["out_of_order", "silent"])
async def test_a_publish_on_a_stuck_producer_replaces_it_and_is_acknowledged_once(service_env, topic_reader, monkeypatch, failure):
    service_env("probe")
    topic = TopicSpec(name=unique("kcc.test.recovery") + ".v1", description="test", events=(ContactReceived,), key="contact_id", partitions=1)
    infra = Infrastructure.build(ProbeSettings())
    await infra.wait_for_dependencies()
    await infra.broker.start()
    try:
        await ensure_topics(settings=infra.settings.kafka, topics=[topic])
        reader = await topic_reader(topic.name)
        broken = current_producer(infra.broker)

        async def send(*args, **kwargs):
            future = asyncio.get_running_loop().create_future()
            if failure == "out_of_order":
                future.set_exception(OutOfOrderSequenceNumber())
            return future  # "silent": aiokafka retrying for ever

        monkeypatch.setattr(broken, "send", send)
        event = contact("na de herstart")
        await EventPublisher(infra.broker, timeout_s=2).publish(event, topic=topic)
        records = await reader.read(count=2, timeout=5)
        now_publishing_with = current_producer(infra.broker)
    finally:
        await infra.close()
    assert now_publishing_with is not None and now_publishing_with is not broken
    assert [json.loads(r.value)["id"] for r in records] == [event.id]
