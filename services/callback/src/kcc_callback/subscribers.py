"""Callback's Kafka handlers."""

from kcc_shared.contracts import (
    CALLBACK_ASSIGNED, CALLBACK_ATTEMPTED, CALLBACK_CANCELLED, CALLBACK_COMPLETED, CALLBACK_FAILED,
    CALLBACK_OVERDUE, CALLBACK_REMINDER, CALLBACK_REQUESTED, CALLBACK_SCHEDULED,
)
from kcc_shared.runtime import Infrastructure

from kcc_callback.service import CallbackService


def register(infra: Infrastructure, callbacks: CallbackService) -> None:
    infra.produces(
        CALLBACK_SCHEDULED, CALLBACK_ASSIGNED, CALLBACK_ATTEMPTED, CALLBACK_COMPLETED, CALLBACK_FAILED,
        CALLBACK_CANCELLED, CALLBACK_REMINDER, CALLBACK_OVERDUE,
    )
    infra.subscribe(CALLBACK_REQUESTED, callbacks.request)
