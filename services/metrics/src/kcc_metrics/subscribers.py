"""Metrics' Kafka handlers: which topic feeds which fact recorder (the rebuild replays the same table)."""

from kcc_shared.contracts import (
    CALL_EVENTS,
    CALLBACK_CANCELLED,
    CALLBACK_COMPLETED,
    CALLBACK_FAILED,
    CALLBACK_SCHEDULED,
    CONTACT_ACKNOWLEDGED,
    CONTACT_RECEIVED,
    CONTACT_RESOLVED,
    CONTACT_ROUTED,
    COUNTER_EVENTS,
    SURVEY_ANSWERED,
    CloudEvent,
    CounterVisit,
    TopicSpec,
)
from kcc_shared.runtime import Infrastructure

from kcc_metrics.service import MetricsService

# (topic, MetricsService method, the event types it records; empty = all the topic carries)
SUBSCRIPTIONS: tuple[tuple[TopicSpec, str, tuple[type[CloudEvent], ...]], ...] = (
    (CONTACT_RECEIVED, "contact_received", ()),
    (CONTACT_ROUTED, "contact_routed", ()),
    (CONTACT_RESOLVED, "contact_resolved", ()),
    (CONTACT_ACKNOWLEDGED, "contact_acknowledged", ()),
    (CALL_EVENTS, "call_event", ()),
    (COUNTER_EVENTS, "counter_visit", (CounterVisit,)),
    (CALLBACK_SCHEDULED, "callback_event", ()),
    (CALLBACK_COMPLETED, "callback_event", ()),
    (CALLBACK_FAILED, "callback_event", ()),
    (CALLBACK_CANCELLED, "callback_event", ()),
    (SURVEY_ANSWERED, "survey_answered", ()),
)


def register(infra: Infrastructure, metrics: MetricsService) -> None:
    for topic, method, handles in SUBSCRIPTIONS:
        infra.subscribe(topic, getattr(metrics, method), handles=handles)
