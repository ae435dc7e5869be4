"""Routing's Kafka handlers: thin, one service call and its publishes each."""

from collections.abc import Callable
from datetime import datetime
from typing import Any

from pymongo.asynchronous.collection import AsyncCollection

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
    CALLBACK_OVERDUE,
    CALLBACK_REMINDER,
    CallAbandoned,
    CallbackOverdue,
    CallbackReminder,
    CallCallbackRequested,
    CloudEvent,
    ContactReceived,
    ContactReplyUndelivered,
    CounterVisit,
    DepartmentContactAssigned,
    department_topic,
)
from kcc_shared.consumer import DeadLetterSink, Delivery
from kcc_shared.kafka import ensure_topics
from kcc_shared.outbox import EmbeddedOutbox, event_of
from kcc_shared.runtime import Infrastructure

from kcc_routing.deliveries import DeliveryRepository, delivery
from kcc_routing.organisation import Department
from kcc_routing.service import Outcome, RoutingService

Clock = Callable[[], datetime]


class OutcomePublisher:
    """Sends a decision's outbox: its events, in order, and its back-office delivery.

    The decision and its outbox were saved in one write (`DecisionRepository.save`); what a
    failure leaves unsent, `flush` sends later (routing's outbox job). A department's topic is
    created the first time. A department with a webhook gets its work item through the delivery
    queue (`deliveries.py`), never from the consumer: a slow back-office holds up no partition.
    """

    def __init__(
        self, infra: Infrastructure, *, decisions: AsyncCollection, work: AsyncCollection, deliveries: DeliveryRepository, clock: Clock,
    ) -> None:
        self._infra, self._deliveries, self._clock = infra, deliveries, clock
        self._known: set[str] = set()
        self.outbox = EmbeddedOutbox(decisions, send=self.send_event)  # decisions and what they cause
        self.work_outbox = EmbeddedOutbox(work, send=self.send_event)  # resolves and phone-menu call-back requests
        self._dead_letters = DeadLetterSink(infra.broker, timeout_s=infra.settings.kafka.publish_timeout_s)

    async def ensure_department_topic(self, department_id: str) -> None:
        topic = department_topic(department_id)
        if topic.name not in self._known:
            await ensure_topics(settings=self._infra.settings.kafka, topics=[topic])
            self._known.add(topic.name)

    async def publish(self, outcome: Outcome) -> int:
        """Send what of the decision's outbox is unsent. What cannot go now stays saved in the
        outbox for the outbox job: the decision holds either way, so neither the consumer (no
        retry, no dead letter) nor an API caller (no second transfer) has to do it again."""
        return await self.outbox.send(outcome.routed.id, outcome.outbox)

    async def send_event(self, item: dict[str, Any]) -> None:
        """Send one outbox entry: publish its event, or queue its webhook delivery."""
        topic, event = event_of(item)
        if "webhook" in item:
            await self.deliver(event, department_id=event.data.department_id, url=item["webhook"])
            return
        if isinstance(event, DepartmentContactAssigned):
            await self.ensure_department_topic(event.data.department_id)
        await self._infra.publisher.publish(event, topic=topic)

    async def deliver(self, event: CloudEvent, *, department_id: str, url: str) -> None:
        """Queue the event for the department's webhook (once per event and department)."""
        await self._deliveries.enqueue(delivery(
            event_id=event.id, department_id=department_id, url=url, body=event.model_dump_json().encode(),
            key=event.subject or event.id, now=self._clock(),
        ))

    async def notify(self, event: CallbackReminder | CallbackOverdue, *, departments: list[Department]) -> None:
        """A call-back's reminder or overdue notice to each department: its topic and its webhook.
        Published from the consumer (a failure is retried there; consumers de-duplicate on the id)."""
        for department in departments:
            await self.ensure_department_topic(department.id)
            await self._infra.publisher.publish(event, topic=department_topic(department.id))
            if department.webhook_url:
                await self.deliver(event, department_id=department.id, url=department.webhook_url)

    async def dead_letter(self, item: dict[str, Any], reason: str) -> None:
        """A delivery the back-office never took: to the dead-letter topic, with the reason.
        Replaying it puts the work item on the department's topic (keyed by the contact)."""
        letter = Delivery(
            value=item["body"], topic=department_topic(item["department_id"]).name, partition=-1, offset=-1,
            headers={"content-type": CONTENT_TYPE, "ce_id": item["event_id"], "kcc_webhook_url": item["url"]},
            key=item["key"].encode(),
        )
        await self._dead_letters.send(letter, group=f"{self._infra.settings.group_id}.webhooks", error=reason, attempts=item["attempts"] + 1)


def register(infra: Infrastructure, routing: RoutingService, outcomes: OutcomePublisher) -> None:
    infra.produces(CONTACT_ROUTED, CALLBACK_REQUESTED, CONTACT_RESOLVED, AGENT_STATUS)

    async def on_contact_received(event: ContactReceived) -> None:
        await outcomes.publish(await routing.route(event))

    infra.subscribe(CONTACT_RECEIVED, on_contact_received)

    async def on_call_event(event: CallAbandoned | CallCallbackRequested) -> None:
        if isinstance(event, CallAbandoned):
            await routing.call_abandoned(event)
            return
        requested = await routing.ivr_callback(event)  # the phone menu's "call me back" books a call-back
        if requested is not None:
            await outcomes.work_outbox.send(*requested)

    async def on_counter_visit(event: CounterVisit) -> None:
        await routing.counter_visit(event)

    # Only these events of the two channel topics concern routing's queue; the rest are skipped.
    infra.subscribe(CALL_EVENTS, on_call_event, handles=(CallAbandoned, CallCallbackRequested))
    infra.subscribe(COUNTER_EVENTS, on_counter_visit, handles=(CounterVisit,))

    async def on_reply_undelivered(event: ContactReplyUndelivered) -> None:
        await routing.reply_undelivered(event)

    # An answer that did not arrive puts its contact back in the agents' queue; answers that did are metrics' business.
    infra.subscribe(CONTACT_ANSWERED, on_reply_undelivered, handles=(ContactReplyUndelivered,))

    async def on_callback_notice(event: CallbackReminder | CallbackOverdue) -> None:
        await outcomes.notify(event, departments=await routing.notified_about(event))

    # Promises kept: a call-back's reminder and its overdue notice reach its department (and the
    # department an overdue one escalates to), on their topics and webhooks.
    infra.subscribe(CALLBACK_REMINDER, on_callback_notice)
    infra.subscribe(CALLBACK_OVERDUE, on_callback_notice)


