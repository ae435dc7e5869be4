"""Metrics' Kafka handlers: which topic feeds which fact recorder (the rebuild replays the same table)."""

from kcc_shared.contracts import (
    AGENT_STATUS,
    CALL_EVENTS,
    CALLBACK_CANCELLED,
    CALLBACK_COMPLETED,
    CALLBACK_FAILED,
    CALLBACK_SCHEDULED,
    CONTACT_ACKNOWLEDGED,
    CONTACT_ANSWERED,
    CONTACT_RECEIVED,
    CONTACT_RESOLVED,
    CONTACT_ROUTED,
    COUNTER_EVENTS,
    SURVEY_ANSWERED,
    CloudEvent,
    TopicSpec,
)
from kcc_shared.consumer import DeadLetterSink, EventProcessor
from kcc_shared.runtime import Infrastructure

from kcc_metrics.batches import register_batches
from kcc_metrics.repository import FactRepository
from kcc_metrics.service import MetricsService

# (topic, MetricsService method, the event types it records; empty = all the topic carries)
SUBSCRIPTIONS: tuple[tuple[TopicSpec, str, tuple[type[CloudEvent], ...]], ...] = (
    (CONTACT_RECEIVED, "contact_received", ()),
    (CONTACT_ROUTED, "contact_routed", ()),
    (CONTACT_RESOLVED, "contact_resolved", ()),
    (CONTACT_ACKNOWLEDGED, "contact_acknowledged", ()),
    (CONTACT_ANSWERED, "contact_answered", ()),
    (CALL_EVENTS, "call_event", ()),
    (COUNTER_EVENTS, "counter_event", ()),
    (CALLBACK_SCHEDULED, "callback_event", ()),
    (CALLBACK_COMPLETED, "callback_event", ()),
    (CALLBACK_FAILED, "callback_event", ()),
    (CALLBACK_CANCELLED, "callback_event", ()),
    (SURVEY_ANSWERED, "survey_answered", ()),
    (AGENT_STATUS, "agent_status", ()),
)


class FactsAreTheInbox:
    """The inbox of the metrics consumers is the facts themselves: every fact's `_id` is its
    event's id, inserted once into its kind's collection, so a redelivered event is a duplicate
    key; the read model's documents keep each event under its id too, so writing it again
    changes nothing. A separate inbox would add a read and an insert per event, and the store
    sets the pace (benchmarks/metrics_consumer.py)."""

    async def seen(self, *, consumer: str, event_id: str) -> bool:
        return False

    async def record(self, *, consumer: str, event_id: str) -> None:
        return None


def register(infra: Infrastructure, metrics: MetricsService, *, repository: FactRepository) -> None:
    """Each topic is consumed in batches (`batches.py`): the fast path collects the facts the
    ordinary handlers make and inserts them at once; the shared `EventProcessor` (retries,
    dead letters) handles what the fast path cannot.

    One consumer group per topic (`<group_id>.<topic>`), as `Infrastructure.subscribe` has
    (`kcc_shared.consumer.kafka_group`): with eleven topics in one group every member joining or
    leaving stopped all eleven for a rebalance (about 3 s each, so ~35 s to start); per-topic groups
    rebalance alone and scale out per topic. Facts are idempotent per event id, so a new group
    re-reading is harmless."""
    settings = infra.settings
    for topic, method, handles in SUBSCRIPTIONS:
        infra.produces(topic)
        processor = EventProcessor(
            topic=topic, group=f"{settings.group_id}.{topic.name}", handler=getattr(metrics, method),
            handles=handles or topic.events, inbox=FactsAreTheInbox(),  # type: ignore[arg-type]
            dead_letters=DeadLetterSink(infra.broker, timeout_s=settings.kafka.publish_timeout_s),
            settings=settings.consumer, metrics=infra.consumer_metrics,
        )
        register_batches(
            infra.broker, processor, method=method, repository=repository,
            make_service=metrics.with_repository, tracer=infra.tracer_provider.get_tracer("kcc_metrics.batches"),
            auto_offset_reset=settings.consumer.auto_offset_reset,
        )
