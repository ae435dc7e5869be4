"""Kafka glue: the broker every service uses, explicit topic creation, event publishing."""

import asyncio
import logging
from collections.abc import Iterable, Sequence
from typing import Any

import aiokafka
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import (
    InvalidProducerEpoch,
    KafkaTimeoutError,
    OutOfOrderSequenceNumber,
    ProducerFenced,
    UnknownProducerId,
)
from faststream.kafka import KafkaBroker
from faststream.kafka.publisher.state import RealProducer
from faststream.kafka.opentelemetry.provider import BatchKafkaTelemetrySettingsProvider, KafkaTelemetrySettingsProvider
from faststream.kafka.response import KafkaPublishCommand
from faststream.opentelemetry.middleware import TelemetryMiddleware
from faststream.kafka.prometheus import KafkaPrometheusMiddleware
from opentelemetry.sdk.trace import TracerProvider
from prometheus_client import CollectorRegistry

from kcc_shared.contracts import CONTENT_TYPE, CloudEvent, TopicSpec
from kcc_shared.settings import KafkaSettings
from kcc_shared.tasks import bounded
from kcc_shared.telemetry import event_attributes_from_bytes

log = logging.getLogger(__name__)

_TOPIC_ALREADY_EXISTS = 36
# Errors after which an idempotent producer's sequence state is wrong for good: aiokafka keeps
# retrying (aiokafka issue 1017; librdkafka treats the same state as fatal), so only a new
# producer, with a new producer id, gets records through again.
FATAL_PRODUCER_ERRORS = (OutOfOrderSequenceNumber, UnknownProducerId, InvalidProducerEpoch, ProducerFenced)


def make_broker(
    *,
    settings: KafkaSettings,
    service_name: str,
    tracer_provider: TracerProvider,
    registry: CollectorRegistry,
) -> KafkaBroker:
    """A broker whose producer waits for all in-sync replicas and never writes a duplicate."""
    return KafkaBroker(
        settings.bootstrap,
        client_id=f"{settings.client_id}-{service_name}",
        acks="all",
        enable_idempotence=True,
        request_timeout_ms=settings.request_timeout_ms,
        middlewares=(
            EventTelemetryMiddleware(tracer_provider=tracer_provider),
            KafkaPrometheusMiddleware(registry=registry, app_name=service_name, metrics_prefix="kcc"),
        ),
        logger=logging.getLogger(f"kcc.{service_name}.broker"),
    )


class _EventTelemetry(KafkaTelemetrySettingsProvider):
    """FastStream's Kafka span attributes plus the event's searchable `kcc.*` ids.

    The key is recorded as text (an id: contact, call, call-back); the payload never is."""

    def get_publish_attrs_from_cmd(self, cmd: KafkaPublishCommand) -> dict[str, Any]:
        attrs = _key_as_text(super().get_publish_attrs_from_cmd(cmd))
        attrs.update(event_attributes_from_bytes(cmd.body))
        return attrs

    def get_consume_attrs_from_message(self, msg: Any) -> dict[str, Any]:
        attrs = _key_as_text(super().get_consume_attrs_from_message(msg))
        attrs.update(event_attributes_from_bytes(msg.body))
        return attrs


def _key_as_text(attrs: dict[str, Any]) -> dict[str, Any]:
    key = attrs.get("messaging.kafka.message.key")
    if isinstance(key, bytes):
        attrs["messaging.kafka.message.key"] = key.decode(errors="replace")
    return attrs


def _event_telemetry(msg: Any) -> KafkaTelemetrySettingsProvider | BatchKafkaTelemetrySettingsProvider:
    if isinstance(msg, Sequence):
        return BatchKafkaTelemetrySettingsProvider()
    return _EventTelemetry()


class EventTelemetryMiddleware(TelemetryMiddleware[KafkaPublishCommand]):
    """FastStream's Kafka tracing (trace context in the `traceparent` header) with `kcc.*` attributes."""

    def __init__(self, *, tracer_provider: TracerProvider) -> None:
        super().__init__(
            settings_provider_factory=_event_telemetry, tracer_provider=tracer_provider, include_messages_counters=True
        )


async def ensure_topics(*, settings: KafkaSettings, topics: Iterable[TopicSpec]) -> list[str]:
    """Create missing topics with the catalogue's partitions and retention; returns those created."""
    wanted = list(topics)
    admin = AIOKafkaAdminClient(
        bootstrap_servers=settings.bootstrap,
        client_id=f"{settings.client_id}-admin",
        request_timeout_ms=settings.request_timeout_ms,
    )
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [spec for spec in wanted if spec.name not in existing]
        if not missing:
            return []
        response = await admin.create_topics(
            [
                NewTopic(
                    name=spec.name,
                    num_partitions=spec.partitions,
                    replication_factor=settings.replication_factor,
                    topic_configs=spec.config,
                )
                for spec in missing
            ]
        )
        created = []
        for topic, code, *rest in response.topic_errors:
            if code == 0:
                created.append(topic)
            elif code != _TOPIC_ALREADY_EXISTS:  # another service won the race: fine
                raise RuntimeError(f"could not create topic {topic}: error {code} {rest}")
        if created:
            log.info("created topics", extra={"topics": created})
        return created
    finally:
        await admin.close()


async def publish_acknowledged(broker: KafkaBroker, body: bytes, *, timeout_s: float, **kwargs: Any) -> None:
    """Publish and wait for the acknowledgement, at most `timeout_s`.

    aiokafka keeps retrying a send while the broker is down and its future never fails, so
    without this bound a caller would hang. On timeout the record may still be delivered
    later: at least once, which the event id lets consumers de-duplicate.
    """
    try:
        await asyncio.wait_for(broker.publish(body, **kwargs), timeout_s)
    except TimeoutError as exc:
        raise KafkaTimeoutError(f"no acknowledgement from the broker within {timeout_s:g}s") from exc


class EventPublisher:
    """Publishes contract events and returns only once the broker acknowledged (`acks=all`)."""

    def __init__(self, broker: KafkaBroker, *, timeout_s: float) -> None:
        self._broker, self._timeout_s = broker, timeout_s

    async def publish(self, event: CloudEvent, *, topic: TopicSpec) -> None:
        """Publish once acknowledged; a producer stuck while Kafka answers is replaced and the publish retried once."""
        if type(event) not in topic.events:
            raise TypeError(f"{type(event).__name__} does not belong on {topic.name}")
        key = getattr(event.data, topic.key) if topic.key else event.subject
        kwargs = {
            "topic": topic.name,
            "key": key.encode() if key else None,
            "headers": {"content-type": CONTENT_TYPE, "ce_type": event.type, "ce_id": event.id},
            "correlation_id": event.id,
        }
        body = event.model_dump_json().encode()
        producer = current_producer(self._broker)
        try:
            await publish_acknowledged(self._broker, body, timeout_s=self._timeout_s, **kwargs)
        except (KafkaTimeoutError, *FATAL_PRODUCER_ERRORS) as exc:
            stuck = isinstance(exc, FATAL_PRODUCER_ERRORS) or await kafka_reachable(self._broker)
            if not (stuck and await replace_producer(self._broker, failed=producer)):
                raise  # Kafka is away: the caller retries (a consumer redelivers, a request answers 503)
            await publish_acknowledged(self._broker, body, timeout_s=self._timeout_s, **kwargs)



_replacing: dict[int, asyncio.Lock] = {}


def current_producer(broker: KafkaBroker) -> aiokafka.AIOKafkaProducer | None:
    """The aiokafka producer the broker publishes with now (None before it connected)."""
    state = broker.config.producer._producer  # noqa: SLF001
    return state.producer if state else None


async def replace_producer(
    broker: KafkaBroker, *, failed: aiokafka.AIOKafkaProducer | None = None, close_within_s: float = 5.0
) -> bool:
    """Give the broker a new producer (same settings) and close the old one; False if Kafka is unreachable.

    The new producer connects first, so during an outage nothing changes and the old producer
    keeps its queued records. Records the old one still held are dropped with it: callers
    re-send what was not acknowledged (at least once; consumers de-duplicate on the event id).
    FastStream has no public way to swap a producer, so this sets the one its publisher holds.
    With `failed`, a producer another caller already replaced is not replaced again.
    """
    async with _replacing.setdefault(id(broker), asyncio.Lock()):
        if failed is not None and current_producer(broker) is not failed:
            return True
        return await _replace(broker, close_within_s=close_within_s)


async def _replace(broker: KafkaBroker, *, close_within_s: float) -> bool:
    fast_producer = broker.config.producer
    fresh = aiokafka.AIOKafkaProducer(**broker._connection_kwargs)  # noqa: SLF001 - the broker's own settings
    try:
        await asyncio.wait_for(fresh.start(), close_within_s * 2)
    except Exception as exc:  # noqa: BLE001 - unreachable or refused: keep what we have
        log.warning("could not start a new Kafka producer", extra={"error": repr(exc)})
        await _close_quietly(fresh, within_s=close_within_s)
        return False
    old = fast_producer._producer  # noqa: SLF001
    fast_producer._producer = RealProducer(fresh)  # noqa: SLF001
    if old:
        await _close_quietly(old.producer, within_s=close_within_s)
    log.warning("replaced the Kafka producer: its sequence state was stale or it stopped acknowledging")
    return True


async def kafka_reachable(broker: KafkaBroker, *, within_s: float = 10.0) -> bool:
    """True when a new client with the broker's settings can connect (metadata answered)."""
    probe = aiokafka.AIOKafkaProducer(**broker._connection_kwargs)  # noqa: SLF001 - the broker's own settings
    try:
        await asyncio.wait_for(probe.start(), within_s)
        return True
    except Exception:  # noqa: BLE001 - any failure: not reachable now
        return False
    finally:
        await _close_quietly(probe, within_s=within_s)


async def _close_quietly(producer: aiokafka.AIOKafkaProducer, *, within_s: float) -> None:
    try:
        await bounded(producer.stop(), within_s=within_s, step="closing a Kafka producer")
    except Exception as exc:  # noqa: BLE001 - a stuck flush must not block recovery
        log.warning("gave up closing a Kafka producer", extra={"error": repr(exc)})
