"""Reliable consumption: parse, skip duplicates, retry with back-off, dead-letter, then commit.

FastStream's own NACK_ON_ERROR redelivers a failing message immediately and forever. Here a
handler gets a bounded number of attempts with exponential back-off; after the last one the
message goes to the dead-letter topic with the reason, and the offset is committed so the
partition moves on. Only when even the dead-letter publish fails is the message left
uncommitted (nacked) to be redelivered: nothing is ever dropped.
"""

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from faststream import AckPolicy
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage
from prometheus_client import CollectorRegistry, Counter
from pydantic import ValidationError

from kcc_shared.contracts import DEAD_LETTER, CloudEvent, TopicSpec
from kcc_shared.inbox import Inbox
from kcc_shared.kafka import publish_acknowledged
from kcc_shared.settings import ConsumerSettings

log = logging.getLogger(__name__)

Handler = Callable[[Any], Awaitable[None]]

DLQ_HEADER_PREFIX = "kcc-dlq-"
# A dead letter replayed to its original topic carries these (see kcc_shared.deadletters); only
# the consumer group it failed in processes it again, the other groups on the topic ignore it.
REPLAY_HEADER_PREFIX = "kcc-replay-"
REPLAY_GROUP_HEADER = f"{REPLAY_HEADER_PREFIX}group"


@dataclass(frozen=True)
class Delivery:
    """One Kafka record as the processor sees it, free of transport types."""

    value: bytes
    topic: str
    partition: int
    offset: int
    headers: dict[str, str]
    key: bytes | None = None


class ConsumerMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.events = Counter(
            "kcc_consumer_events",
            "Events handled by outcome: processed, duplicate, ignored, dead_lettered",
            ["topic", "group", "outcome"],
            registry=registry,
        )
        self.retries = Counter("kcc_consumer_retries", "Handler attempts that failed and were retried", ["topic", "group"], registry=registry)


class DeadLetterSink:
    """Publishes what could not be processed to the dead-letter topic, with the reason."""

    def __init__(self, broker: KafkaBroker, *, timeout_s: float) -> None:
        self._broker, self._timeout_s = broker, timeout_s

    async def send(self, delivery: Delivery, *, group: str, error: str, attempts: int) -> None:
        headers = {
            **delivery.headers,
            f"{DLQ_HEADER_PREFIX}original-topic": delivery.topic,
            f"{DLQ_HEADER_PREFIX}original-partition": str(delivery.partition),
            f"{DLQ_HEADER_PREFIX}original-offset": str(delivery.offset),
            f"{DLQ_HEADER_PREFIX}consumer-group": group,
            f"{DLQ_HEADER_PREFIX}error": error[:2000],
            f"{DLQ_HEADER_PREFIX}attempts": str(attempts),
            f"{DLQ_HEADER_PREFIX}failed-at": datetime.now(UTC).isoformat(),
        }
        # The original key goes along, so a replay lands on the key's partition, in order.
        await publish_acknowledged(
            self._broker, delivery.value, timeout_s=self._timeout_s, topic=DEAD_LETTER.name, headers=headers,
            key=delivery.key,
        )


class EventProcessor:
    """Runs one handler over one topic's events with the delivery guarantees above."""

    def __init__(
        self,
        *,
        topic: TopicSpec,
        group: str,
        handler: Handler,
        handles: tuple[type[CloudEvent], ...],
        inbox: Inbox,
        dead_letters: DeadLetterSink,
        settings: ConsumerSettings,
        metrics: ConsumerMetrics,
    ) -> None:
        self.topic, self.group, self.handler, self.handles = topic, group, handler, handles
        self.inbox, self.dead_letters, self.settings, self.metrics = inbox, dead_letters, settings, metrics
        self.consumer = f"{group}/{topic.name}"

    async def process(self, delivery: Delivery) -> None:
        replayed_for = delivery.headers.get(REPLAY_GROUP_HEADER)
        if replayed_for is not None and replayed_for != self.group:
            self._count("ignored")  # a replay for another group, which failed where we did not
            return
        try:
            event = self.topic.adapter.validate_json(delivery.value)
        except ValidationError as exc:
            # A malformed message cannot get better by retrying: dead-letter it at once.
            await self._dead_letter(delivery, f"invalid event: {_summary(exc)}", attempts=1)
            return
        if not isinstance(event, self.handles):
            self._count("ignored")
            return
        if await self.inbox.seen(consumer=self.consumer, event_id=event.id):
            log.info("duplicate event skipped", extra={"event_id": event.id, "topic": delivery.topic})
            self._count("duplicate")
            return
        for attempt in range(1, self.settings.max_attempts + 1):
            try:
                await self.handler(event)
            except Exception as exc:  # noqa: BLE001 - any handler failure is retried, then dead-lettered
                if attempt == self.settings.max_attempts:
                    await self._dead_letter(delivery, f"{type(exc).__name__}: {exc}", attempts=attempt)
                    return
                self.metrics.retries.labels(delivery.topic, self.group).inc()
                log.warning(
                    "handler failed, retrying",
                    extra={"event_id": event.id, "attempt": attempt, "error": repr(exc)},
                )
                await asyncio.sleep(self.backoff(attempt))
            else:
                await self.inbox.record(consumer=self.consumer, event_id=event.id)
                self._count("processed")
                return

    def backoff(self, attempt: int) -> float:
        return min(self.settings.backoff_initial_s * 2 ** (attempt - 1), self.settings.backoff_max_s)

    async def _dead_letter(self, delivery: Delivery, error: str, *, attempts: int) -> None:
        log.error(
            "event dead-lettered",
            extra={"topic": delivery.topic, "partition": delivery.partition, "offset": delivery.offset, "error": error},
        )
        try:
            await self.dead_letters.send(delivery, group=self.group, error=error, attempts=attempts)
        except Exception:
            # Keep the message: leave it uncommitted, and pause so this is no hot loop.
            await asyncio.sleep(self.settings.backoff_max_s)
            raise
        self._count("dead_lettered")

    def _count(self, outcome: str) -> None:
        self.metrics.events.labels(self.topic.name, self.group, outcome).inc()


def _summary(exc: ValidationError) -> str:
    return "; ".join(f"{'.'.join(map(str, e['loc'])) or '<root>'}: {e['msg']}" for e in exc.errors()[:5])


def kafka_group(group: str, topic: str) -> str:
    """The Kafka consumer group of a service's consumer of `topic`: one group per topic.

    In one group per service, each replica is a member per subscribed topic (routing: 6), and any
    member joining or leaving stops every topic for the rebalance; `make chaos` saw routing stall
    for minutes as replicas were killed and restarted. Per topic, a rebalance stops one topic and
    a group has as many members as replicas. Inbox, dead letters and metrics keep the service's
    `group` (a replay names it; de-duplication does not change with the group)."""
    return f"{group}.{topic}"


def register(broker: KafkaBroker, processor: EventProcessor, *, auto_offset_reset: str) -> None:
    """Subscribe the processor in its topic's group; the offset is committed only after `process` returned."""

    @broker.subscriber(
        processor.topic.name,
        group_id=kafka_group(processor.group, processor.topic.name),
        ack_policy=AckPolicy.NACK_ON_ERROR,
        auto_offset_reset=auto_offset_reset,
        title=f"{processor.group}:{processor.topic.name}",
    )
    async def consume(message: KafkaMessage) -> None:
        record = message.raw_message
        await processor.process(
            Delivery(
                value=record.value or b"",
                topic=record.topic,
                partition=record.partition,
                offset=record.offset,
                headers={key: value.decode(errors="replace") for key, value in record.headers or ()},
                key=record.key,
            )
        )
