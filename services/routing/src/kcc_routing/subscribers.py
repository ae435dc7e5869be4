"""Routing's Kafka handlers: thin, one service call and its publishes each."""

import httpx

from kcc_shared.contracts import (
    AGENT_STATUS,
    CALL_EVENTS,
    CALLBACK_REQUESTED,
    CONTACT_ANSWERED,
    CONTACT_RECEIVED,
    CONTACT_RESOLVED,
    CONTACT_ROUTED,
    CONTENT_TYPE,
    COUNTER_EVENTS,
    CallAbandoned,
    ContactReceived,
    ContactReplyUndelivered,
    CounterVisit,
    department_topic,
)
from kcc_shared.kafka import ensure_topics
from kcc_shared.runtime import Infrastructure
from kcc_shared.telemetry import TracingTransport

from kcc_routing.service import Outcome, RoutingService


class OutcomePublisher:
    """Publishes a decision and what it causes; creates a department's topic the first time.

    A department with a webhook also gets its work POSTed there (the CloudEvent as JSON). A
    failing webhook fails the handler, so the consumer's retries and dead-letter topic cover it:
    at least once, with the event id to de-duplicate on (as Open Notificaties does).
    """

    def __init__(self, infra: Infrastructure, *, http: httpx.AsyncClient | None = None) -> None:
        self._infra = infra
        self._known: set[str] = set()
        self._http = http  # injected in tests; otherwise one short-lived client per delivery

    async def ensure_department_topic(self, department_id: str) -> None:
        topic = department_topic(department_id)
        if topic.name not in self._known:
            await ensure_topics(settings=self._infra.settings.kafka, topics=[topic])
            self._known.add(topic.name)

    async def publish(self, outcome: Outcome) -> None:
        publisher = self._infra.publisher
        await publisher.publish(outcome.routed, topic=CONTACT_ROUTED)
        if outcome.callback is not None:
            await publisher.publish(outcome.callback, topic=CALLBACK_REQUESTED)
        if outcome.assigned is not None:
            department_id = outcome.assigned.data.department_id
            await self.ensure_department_topic(department_id)
            await publisher.publish(outcome.assigned, topic=department_topic(department_id))
            if outcome.webhook_url:
                await self._deliver(outcome.webhook_url, outcome.assigned.model_dump_json(), outcome.assigned.id)

    async def _deliver(self, url: str, body: str, event_id: str) -> None:
        headers = {"content-type": CONTENT_TYPE, "ce-id": event_id}
        if self._http is not None:
            (await self._http.post(url, content=body, headers=headers)).raise_for_status()
            return
        # A client span in the contact's trace, with `traceparent` for the back-office.
        transport = TracingTransport(self._infra.tracer_provider)
        async with httpx.AsyncClient(timeout=10.0, transport=transport) as http:
            (await http.post(url, content=body, headers=headers)).raise_for_status()


def register(infra: Infrastructure, routing: RoutingService, outcomes: OutcomePublisher) -> None:
    infra.produces(CONTACT_ROUTED, CALLBACK_REQUESTED, CONTACT_RESOLVED, AGENT_STATUS)

    async def on_contact_received(event: ContactReceived) -> None:
        await outcomes.publish(await routing.route(event))

    infra.subscribe(CONTACT_RECEIVED, on_contact_received)

    async def on_call_abandoned(event: CallAbandoned) -> None:
        await routing.call_abandoned(event)

    async def on_counter_visit(event: CounterVisit) -> None:
        await routing.counter_visit(event)

    # Only these events of the two channel topics concern routing's queue; the rest are skipped.
    infra.subscribe(CALL_EVENTS, on_call_abandoned, handles=(CallAbandoned,))
    infra.subscribe(COUNTER_EVENTS, on_counter_visit, handles=(CounterVisit,))

    async def on_reply_undelivered(event: ContactReplyUndelivered) -> None:
        await routing.reply_undelivered(event)

    # An answer that did not arrive puts its contact back in the agents' queue; answers that did are metrics' business.
    infra.subscribe(CONTACT_ANSWERED, on_reply_undelivered, handles=(ContactReplyUndelivered,))
