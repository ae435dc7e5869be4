"""Kafka glue: the broker every service uses, explicit topic creation, event publishing."""

import asyncio
import logging
from collections.abc import Iterable, Sequence
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaTimeoutError
from faststream.kafka import KafkaBroker
from faststream.kafka.opentelemetry.provider import BatchKafkaTelemetrySettingsProvider, KafkaTelemetrySettingsProvider
from faststream.kafka.response import KafkaPublishCommand
from faststream.opentelemetry.middleware import TelemetryMiddleware
from faststream.kafka.prometheus import KafkaPrometheusMiddleware
from opentelemetry.sdk.trace import TracerProvider
from prometheus_client import CollectorRegistry

from kcc_shared.contracts import CONTENT_TYPE, CloudEvent, TopicSpec
from kcc_shared.settings import KafkaSettings
from kcc_shared.telemetry import event_attributes_from_bytes

log = logging.getLogger(__name__)

_TOPIC_ALREADY_EXISTS = 36


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
        if type(event) not in topic.events:
            raise TypeError(f"{type(event).__name__} does not belong on {topic.name}")
        key = getattr(event.data, topic.key) if topic.key else event.subject
        await publish_acknowledged(
            self._broker,
            event.model_dump_json().encode(),
            timeout_s=self._timeout_s,
            topic=topic.name,
            key=key.encode() if key else None,
            headers={"content-type": CONTENT_TYPE, "ce_type": event.type, "ce_id": event.id},
            correlation_id=event.id,
        )
