"""Metrics' Kafka handlers."""

from kcc_shared.contracts import (
    CALL_EVENTS,
    CALLBACK_COMPLETED,
    CALLBACK_FAILED,
    CALLBACK_SCHEDULED,
    CONTACT_RECEIVED,
    CONTACT_RESOLVED,
    CONTACT_ROUTED,
    COUNTER_EVENTS,
    CounterVisit,
)
from kcc_shared.runtime import Infrastructure

from kcc_metrics.service import MetricsService


def register(infra: Infrastructure, metrics: MetricsService) -> None:
    infra.subscribe(CONTACT_RECEIVED, metrics.contact_received)
    infra.subscribe(CONTACT_ROUTED, metrics.contact_routed)
    infra.subscribe(CONTACT_RESOLVED, metrics.contact_resolved)
    infra.subscribe(CALL_EVENTS, metrics.call_event)
    infra.subscribe(COUNTER_EVENTS, metrics.counter_visit, handles=(CounterVisit,))
    for topic in (CALLBACK_SCHEDULED, CALLBACK_COMPLETED, CALLBACK_FAILED):
        infra.subscribe(topic, metrics.callback_event)
