"""EventProcessor with hand-written fakes: retries, back-off, dead letters, duplicates."""

import json
from datetime import UTC, datetime

import pytest
from prometheus_client import CollectorRegistry

from kcc_shared.consumer import ConsumerMetrics, Delivery, EventProcessor
from kcc_shared.contracts import CONTACT_RECEIVED, Channel, ContactReceived, ContactReceivedData
from kcc_shared.settings import ConsumerSettings


class FakeInbox:
    def __init__(self) -> None:
        self.done: set[str] = set()

    async def seen(self, *, consumer: str, event_id: str) -> bool:
        return f"{consumer}:{event_id}" in self.done

    async def record(self, *, consumer: str, event_id: str) -> None:
        self.done.add(f"{consumer}:{event_id}")


class FakeDeadLetters:
    def __init__(self) -> None:
        self.sent: list[tuple[Delivery, str, int]] = []

    async def send(self, delivery: Delivery, *, group: str, error: str, attempts: int) -> None:
        self.sent.append((delivery, error, attempts))


def delivery(event: ContactReceived | bytes, offset: int = 7) -> Delivery:
    value = event if isinstance(event, bytes) else event.model_dump_json().encode()
    return Delivery(value=value, topic=CONTACT_RECEIVED.name, partition=0, offset=offset, headers={})


def event(text: str = "vraag") -> ContactReceived:
    return ContactReceived.create(
        source="/tests",
        data=ContactReceivedData(contact_id="c-1", channel=Channel.WEB, received_at=datetime.now(UTC), text=text),
    )


@pytest.fixture
def make(monkeypatch):
    sleeps: list[float] = []

    async def no_sleep(seconds: float) -> None:
        sleeps.append(seconds)

    monkeypatch.setattr("kcc_shared.consumer.asyncio.sleep", no_sleep)

    def build(handler, **settings):
        inbox, dead = FakeInbox(), FakeDeadLetters()
        processor = EventProcessor(
            topic=CONTACT_RECEIVED,
            group="g",
            handler=handler,
            handles=CONTACT_RECEIVED.events,
            inbox=inbox,
            dead_letters=dead,
            settings=ConsumerSettings(**settings),
            metrics=ConsumerMetrics(CollectorRegistry()),
        )
        return processor, inbox, dead, sleeps

    return build


async def test_success_is_recorded_and_a_redelivery_is_skipped(make):
    calls = []

    async def handler(e):
        calls.append(e.id)

    processor, inbox, dead, _ = make(handler)
    e = event()
    await processor.process(delivery(e))
    await processor.process(delivery(e, offset=8))
    assert calls == [e.id]
    assert inbox.done == {f"g/{CONTACT_RECEIVED.name}:{e.id}"}
    assert dead.sent == []


async def test_failures_are_retried_with_capped_exponential_backoff_then_dead_lettered(make):
    calls = []

    async def handler(e):
        calls.append(e.id)
        raise ValueError("store said no")

    processor, inbox, dead, sleeps = make(handler, max_attempts=5, backoff_initial_s=0.5, backoff_max_s=2.0)
    await processor.process(delivery(event()))
    assert len(calls) == 5
    assert sleeps == [0.5, 1.0, 2.0, 2.0]
    assert [(error, attempts) for _, error, attempts in dead.sent] == [("ValueError: store said no", 5)]
    assert inbox.done == set()


async def test_a_transient_failure_recovers_without_dead_letter(make):
    calls = []

    async def handler(e):
        calls.append(e.id)
        if len(calls) == 1:
            raise ConnectionError("blip")

    processor, inbox, dead, sleeps = make(handler)
    await processor.process(delivery(event()))
    assert len(calls) == 2 and dead.sent == [] and len(inbox.done) == 1 and sleeps == [0.2]


async def test_unparseable_and_invalid_messages_are_dead_lettered_at_once(make):
    async def handler(e):
        raise AssertionError("must not be called")

    processor, _, dead, sleeps = make(handler)
    await processor.process(delivery(b"\x00garbage"))
    broken = json.loads(event().model_dump_json())
    broken["data"]["channel"] = "carrier pigeon"
    await processor.process(delivery(json.dumps(broken).encode()))
    errors = [error for _, error, _ in dead.sent]
    assert errors[0].startswith("invalid event: <root>: Invalid JSON")
    assert errors[1].startswith("invalid event: data.channel: Input should be")
    assert [attempts for *_, attempts in dead.sent] == [1, 1]
    assert sleeps == []
