"""Event contracts: the envelope, the event models and the topic catalogue."""

from kcc_shared.contracts.catalogue import (
    CALL_EVENTS,
    CALLBACK_ASSIGNED,
    CALLBACK_ATTEMPTED,
    CALLBACK_CANCELLED,
    CALLBACK_COMPLETED,
    CALLBACK_FAILED,
    CALLBACK_OVERDUE,
    CALLBACK_REMINDER,
    CALLBACK_REQUESTED,
    CALLBACK_SCHEDULED,
    CONTACT_RECEIVED,
    CONTACT_RESOLVED,
    CONTACT_ROUTED,
    DEAD_LETTER,
    EVENT_TYPES,
    TOPICS,
    TopicSpec,
    department_topic,
)
from kcc_shared.contracts.envelope import CONTENT_TYPE, CloudEvent, derived_id
from kcc_shared.contracts.events import *  # noqa: F403  (the models are the public API)

__all__ = [
    "CALL_EVENTS",
    "CALLBACK_ASSIGNED",
    "CALLBACK_ATTEMPTED",
    "CALLBACK_CANCELLED",
    "CALLBACK_COMPLETED",
    "CALLBACK_FAILED",
    "CALLBACK_OVERDUE",
    "CALLBACK_REMINDER",
    "CALLBACK_REQUESTED",
    "CALLBACK_SCHEDULED",
    "CONTACT_RECEIVED",
    "CONTACT_RESOLVED",
    "CONTACT_ROUTED",
    "CONTENT_TYPE",
    "DEAD_LETTER",
    "EVENT_TYPES",
    "TOPICS",
    "CloudEvent",
    "TopicSpec",
    "department_topic",
    "derived_id",
]
