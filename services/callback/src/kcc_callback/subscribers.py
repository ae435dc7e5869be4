"""Callback's Kafka handlers."""

from kcc_shared.contracts import CALLBACK_REQUESTED, CALLBACK_SCHEDULED
from kcc_shared.runtime import Infrastructure

from kcc_callback.service import CallbackService


def register(infra: Infrastructure, callbacks: CallbackService) -> None:
    infra.produces(CALLBACK_SCHEDULED)
    infra.subscribe(CALLBACK_REQUESTED, callbacks.request)
