"""Routing per contact: classify, decide, store, and say what must be published.

No transport code here: the subscriber and the API publish what these functions return.
"""

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Protocol

from kcc_shared import outbox
from kcc_shared.contracts import (
    CALLBACK_REQUESTED,
    CONTACT_ROUTED,
    AgentStatus,
    AgentStatusChanged,
    AgentStatusChangedData,
    CallAbandoned,
    CallbackOverdue,
    CallbackReminder,
    CallCallbackRequested,
    CallbackRequested,
    CallbackRequestedData,
    Channel,
    CitizenPseudonyms,
    ContactReceived,
    ContactReplyUndelivered,
    ContactRouted,
    ContactRoutedData,
    CounterVisit,
    DepartmentContactAssigned,
    DepartmentContactAssignedData,
    department_topic,
    derived_id,
)

from kcc_routing.classify import Candidate, Classifier
from kcc_routing.decision import WRITTEN, Situation, decide
from kcc_routing.directory import Directory
from kcc_routing.organisation import WEEKDAYS, Department, Organisation
from kcc_routing.queues import TRIAGE_SKILL, WorkQueues, call_ref, visit_ref, work_item
from kcc_routing.taxonomy import Product

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]


class Decisions(Protocol):
    async def save(self, routed: ContactRouted, *, outbox: list[dict[str, Any]]) -> tuple[ContactRouted, list[dict[str, Any]]]: ...
    async def find(self, event_id: str) -> tuple[ContactRouted, list[dict[str, Any]]] | None: ...
    async def get(self, contact_id: str) -> ContactRoutedData | None: ...
    async def handed_to(self, department_id: str, *, limit: int) -> list[ContactRoutedData]: ...


class Presence(Protocol):
    async def available(self, department_id: str, *, now: datetime) -> int: ...


@dataclass(frozen=True)
class Classification:
    candidates: list[Candidate]
    product: Product  # the best candidate, or the UPL catch-all when nothing is recognised
    recognised: bool
    department: Department
    confidence: float = 0.0  # the ranker's probability that `product` is right (1 for an IVR choice)
    triage: bool = False  # recognised, but not surely enough to route: an agent reads it first
    subject: bool = True  # the subject gate found the text about some product


@dataclass(frozen=True)
class Reachability:
    """Whether a warm transfer to a department can happen now, and why not (as `decide` judges it)."""

    department_id: str
    name: str
    reachable: bool
    why: str  # "reachable", "closed" (outside opening hours) or "nobody_present"
    reason: str
    present: int
    open_now: bool
    opening_hours_today: list[dict[str, str]]
    back_office_line: str | None


@dataclass(frozen=True)
class Outcome:
    """A decision and the events it causes, in publishing order."""

    routed: ContactRouted
    callback: CallbackRequested | None = None
    assigned: DepartmentContactAssigned | None = None
    webhook_url: str | None = None  # the department's, for back-offices that do not read Kafka
    outbox: list[dict[str, Any]] = field(default_factory=list)  # what of it is still to send, saved with the decision

    def entries(self, *, at: datetime) -> list[dict[str, Any]]:
        """The outbox entries of the decision: its events in publishing order, then the webhook delivery."""
        items = [outbox.entry(CONTACT_ROUTED, self.routed, at=at)]
        if self.callback is not None:
            items.append(outbox.entry(CALLBACK_REQUESTED, self.callback, at=at))
        if self.assigned is not None:
            topic = department_topic(self.assigned.data.department_id)
            items.append(outbox.entry(topic, self.assigned, at=at))
            if self.webhook_url:
                items.append({**outbox.entry(topic, self.assigned, at=at), "id": f"{self.assigned.id}:webhook", "webhook": self.webhook_url})
        return items


class RoutingService:
    def __init__(
        self,
        *,
        decisions: Decisions,
        queues: WorkQueues,
        presence: Presence,
        directory: Directory,
        classifier: Classifier,
        source: str,
        clock: Clock,
    ) -> None:
        self._decisions, self.queues, self._presence = decisions, queues, presence
        self.directory, self.classifier, self._source, self.clock = directory, classifier, source, clock

    def agent_status(self, *, agent_id: str, status: AgentStatus, skills: list[str]) -> AgentStatusChanged:
        """The event an agent's status report becomes; metrics keeps who is available from it."""
        now = self.clock()
        return AgentStatusChanged.create(
            source=self._source, subject=agent_id, time=now,
            data=AgentStatusChangedData(agent_id=agent_id, status=status, at=now, skills=sorted(set(skills))),
        )

    async def classify(self, *, text: str | None, channel: Channel, service_line: str | None = None, limit: int = 5) -> Classification:
        """Ranked products for a text; on the telephone the IVR choice comes first."""
        organisation = await self.directory.current()
        candidates = self.classifier.rank(text or "", limit=limit) if text else []
        confident = self.classifier.confident(candidates)
        ivr = organisation.ivr_product(service_line) if channel == Channel.TELEPHONE else None
        if ivr is not None:  # the caller chose it in the phone menu
            candidates = [Candidate(product=ivr, score=1.0, raw=float("inf"))] + [c for c in candidates if c.product != ivr]
            confident = True
        product = candidates[0].product if candidates else self.classifier.taxonomy.catch_all
        return Classification(
            candidates[:limit], product, bool(candidates), organisation.owner(product.uri),
            confidence=candidates[0].score if candidates else 0.0, triage=bool(candidates) and not confident,
            subject=ivr is not None or not candidates or candidates[0].subject,
        )

    async def route(self, received: ContactReceived) -> Outcome:
        """Decide for a new contact, store the decision, queue KCC work; a redelivery repeats the same outcome."""
        contact = received.data
        now = self.clock()
        text = " ".join(t for t in (contact.subject, contact.text) if t)
        found = await self.classify(text=text, channel=contact.channel, service_line=contact.service_line)
        organisation = await self.directory.current()
        live = contact.channel not in WRITTEN  # only a live contact can be transferred warm
        situation = Situation(
            contact_id=contact.contact_id,
            channel=contact.channel,
            received_at=contact.received_at,
            product=found.product,
            recognised=found.recognised,
            has_phone=contact.citizen.phone is not None,
            present=await self._presence.available(found.department.id, now=now) if live and not found.triage else 0,
            triage=found.triage,
            confidence=found.confidence,
            subject=found.subject,
        )
        decision = decide(situation, organisation=organisation, now=now)
        routed = ContactRouted.create(
            data=decision,
            source=self._source,
            subject=contact.contact_id,
            event_id=derived_id(received.id, "routed"),  # same input, same decision event
            time=now,
        )
        consequences = dict(subject=contact.subject, text=contact.text, phone_key=contact.citizen.phone, received_at=contact.received_at,
                            organisation=organisation, citizen=contact.citizen)
        routed, unsent = await self._decisions.save(routed, outbox=self._consequences(routed, **consequences).entries(at=now))
        if routed.data.decision == "answer_in_kcc":
            await self.queues.enqueue(
                work_item(
                    routed.data, subject=contact.subject, text=contact.text, phone_key=contact.citizen.phone, received_at=contact.received_at,
                    now=now, citizen=contact.citizen.model_dump(exclude_none=True), skill=TRIAGE_SKILL if found.triage else None,
                )
            )
        if contact.channel == Channel.TELEPHONE and contact.channel_message_id:
            # The CTI's later events name the call, not the contact: remember which is which
            # (for every call, so a later phone-menu call-back request finds its contact).
            await self.queues.link(ref=call_ref(contact.channel_message_id), contact_id=contact.contact_id)
        log.info("contact routed", extra={"contact_id": contact.contact_id, "decision": routed.data.decision, "event_id": routed.id})
        return replace(self._consequences(routed, **consequences), outbox=unsent)

    async def transfer(self, *, contact_id: str, department_id: str | None = None, idempotency_key: str | None = None) -> Outcome:
        """An agent hands a queued contact to a department: warm, call-back or forward (at most 2 transfers).

        With an idempotency key, a retry (the answer got lost) returns the first transfer's decision
        and sends what of it is still unsent: one effect, one event."""
        event_id = derived_id(contact_id, f"transfer/{idempotency_key}") if idempotency_key else str(uuid.uuid4())
        earlier = await self._decisions.find(event_id) if idempotency_key else None
        if earlier is not None:
            routed, unsent = earlier
            return Outcome(routed, outbox=unsent)
        item = await self.queues.get(contact_id)
        organisation = await self.directory.current()
        if department_id is not None and department_id not in organisation.departments:
            raise KeyError(department_id)
        product = self.classifier.taxonomy.by_uri(item.get("upl_uri") or "") or self.classifier.taxonomy.catch_all
        target = department_id or organisation.owner(product.uri).id
        now = self.clock()
        situation = Situation(
            contact_id=contact_id,
            channel=Channel(item["channel"]),
            received_at=item["received_at"],
            product=product,
            recognised=product != self.classifier.taxonomy.catch_all,
            has_phone=item.get("phone_key") is not None,
            transfers_so_far=item.get("transfers", 0),
            escalated=True,
            department_id=target,
            present=await self._presence.available(target, now=now),
        )
        decision = decide(situation, organisation=organisation, now=now)
        if decision.decision == "warm_transfer" and not await self.queues.count_transfer(contact_id=contact_id, limit=organisation.config.max_transfers):
            # Another transfer won the race for the last one allowed: decide again, as refused.
            refused = replace(situation, transfers_so_far=organisation.config.max_transfers)
            decision = decide(refused, organisation=organisation, now=now)
        routed = ContactRouted.create(data=decision, source=self._source, subject=contact_id, event_id=event_id, time=now)
        outcome = self._consequences(
            routed, subject=item.get("subject"), text=item.get("text"), phone_key=item.get("phone_key"),
            received_at=item["received_at"], organisation=organisation, citizen=CitizenPseudonyms(**item.get("citizen", {})),
        )
        routed, unsent = await self._decisions.save(routed, outbox=outcome.entries(at=now))
        return replace(outcome, routed=routed, outbox=unsent)

    def _consequences(
        self, routed: ContactRouted, *, subject: str | None, text: str | None, phone_key: str | None, received_at: datetime,
        organisation: Organisation, citizen: CitizenPseudonyms,
    ) -> Outcome:
        """The call-back request and the department's work item a decision implies (ids derived from it)."""
        d = routed.data
        if d.decision == "answer_in_kcc" or d.department_id is None:
            return Outcome(routed)
        callback = None
        if d.decision == "callback" and phone_key:
            callback = CallbackRequested.create(
                data=CallbackRequestedData(
                    callback_id=derived_id(routed.id, "callback"),
                    contact_id=d.contact_id,
                    department_id=d.department_id,
                    phone_key=phone_key,  # the callback service resolves it at intake's registry
                    upl_uri=d.upl_uri,
                    reason=d.reason,
                    norm_working_days=organisation.departments[d.department_id].callback_norm_working_days,
                    requested_at=d.routed_at,
                ),
                source=self._source,
                subject=derived_id(routed.id, "callback"),
                event_id=derived_id(routed.id, "callback-requested"),
                time=d.routed_at,
            )
        assigned = DepartmentContactAssigned.create(
            data=DepartmentContactAssignedData(
                contact_id=d.contact_id,
                department_id=d.department_id,
                channel=d.channel,
                decision=d.decision,
                received_at=received_at,
                subject=subject,
                text=text,
                upl_uri=d.upl_uri,
                due_at=d.due_at,
                citizen=citizen,
            ),
            source=self._source,
            subject=d.contact_id,
            event_id=derived_id(routed.id, "department"),
            time=d.routed_at,
        )
        return Outcome(routed, callback, assigned, organisation.departments[d.department_id].webhook_url)

    async def call_abandoned(self, event: CallAbandoned) -> None:
        """The caller hung up while waiting: the call's contact leaves the KCC queue."""
        contact_id = await self.queues.close(ref=call_ref(event.data.call_id), reason="abandoned", at=event.data.abandoned_at)
        log.info("call abandoned", extra={"call_id": event.data.call_id, "contact_id": contact_id, "event_id": event.id})

    async def ivr_callback(self, event: CallCallbackRequested) -> tuple[str, list[dict[str, Any]]] | None:
        """The caller chose a call-back in the phone menu instead of waiting: the KCC promises one.

        The call's work item leaves the queue and holds the call-back request in its outbox (one
        write); returns the contact and what of that outbox is unsent. None when the call is no
        longer the KCC's (routed straight to a department). A call routing has not yet seen is
        an error, so the consumer tries again once its `contact.received` is routed."""
        ref = call_ref(event.data.call_id)
        contact_id = await self.queues.contact_of(ref)
        if contact_id is None:
            raise LookupError(f"call {event.data.call_id} is not routed yet")
        item = await self.queues.find(contact_id)
        if item is None:
            log.info("phone-menu call-back for a contact not in the KCC queue", extra={"contact_id": contact_id, "event_id": event.id})
            return None
        organisation = await self.directory.current()
        kcc = organisation.kcc
        callback_id = derived_id(event.id, "callback")
        callback = CallbackRequested.create(
            data=CallbackRequestedData(
                callback_id=callback_id, contact_id=contact_id, department_id=kcc.id,
                phone_key=event.data.phone_key or item.get("phone_key"), upl_uri=item.get("upl_uri"),
                reason="De beller koos in het keuzemenu voor terugbellen in plaats van wachten",
                norm_working_days=kcc.callback_norm_working_days, requested_at=event.data.requested_at,
            ),
            source=self._source, subject=callback_id, event_id=derived_id(event.id, "callback-requested"), time=event.data.requested_at,
        )
        unsent = await self.queues.request_callback(
            contact_id=contact_id, request_id=event.id, entry=outbox.entry(CALLBACK_REQUESTED, callback, at=self.clock())
        )
        await self.queues.close(ref=ref, reason="callback", at=event.data.requested_at)
        log.info("phone-menu call-back requested", extra={"contact_id": contact_id, "callback_id": callback_id, "event_id": event.id})
        return contact_id, unsent

    async def notified_about(self, event: CallbackReminder | CallbackOverdue) -> list[Department]:
        """Who hears of a call-back's reminder or overdue notice: its department, and for an
        overdue one also the department it escalates to (`escalate_overdue_to`)."""
        organisation = await self.directory.current()
        department = organisation.departments.get(event.data.department_id)
        if department is None:
            log.warning("call-back notice for an unknown department", extra={"department_id": event.data.department_id, "event_id": event.id})
            return []
        targets = [department]
        if isinstance(event, CallbackOverdue) and department.escalate_overdue_to not in (None, department.id):
            targets.append(organisation.departments[department.escalate_overdue_to])
        return targets

    async def counter_visit(self, event: CounterVisit) -> None:
        """A drawn ticket names its contact; a visitor who left unserved leaves the KCC queue."""
        visit = event.data
        organisation = await self.directory.current()
        ref = visit_ref(location=visit.location, ticket_id=visit.ticket_id, at=visit.at, tz=organisation.zone)
        if visit.stage == "drawn" and visit.contact_id:
            await self.queues.link(ref=ref, contact_id=visit.contact_id)
        elif visit.stage == "left":
            contact_id = await self.queues.close(ref=ref, reason="left", at=visit.at)
            log.info("visitor left", extra={"ticket": ref, "contact_id": contact_id, "event_id": event.id})

    async def reachability(self, department_id: str) -> Reachability:
        """Reachable now means open and someone present: the same test a transfer's decision makes."""
        organisation = await self.directory.current()
        department = organisation.departments[department_id]  # KeyError: no such department
        now = self.clock()
        local_now = organisation.local(now)
        present = await self._presence.available(department_id, now=now)
        open_now = department.is_open(local_now)
        if not open_now:
            why, reason = "closed", f"{department.name} is outside its opening hours"
        elif present <= 0:
            why, reason = "nobody_present", f"nobody present in the back-office of {department.name}"
        else:
            why, reason = "reachable", f"{present} present in the back-office of {department.name}, open"
        hours = department.opening_hours.get(WEEKDAYS[local_now.weekday()], [])
        return Reachability(
            department_id=department_id, name=department.name, reachable=why == "reachable", why=why, reason=reason,
            present=present, open_now=open_now, back_office_line=department.back_office_line,
            opening_hours_today=[{"opens": i.opens.isoformat("minutes"), "closes": i.closes.isoformat("minutes")} for i in hours],
        )

    async def handed_to(self, department_id: str, *, limit: int) -> list[ContactRoutedData]:
        """Contacts handed to a department (forwarded, call-back, warm transfer), newest first, with their due dates."""
        return await self._decisions.handed_to(department_id, limit=limit)
    async def reply_undelivered(self, event: ContactReplyUndelivered) -> None:
        """An answer bounced or was refused: the contact waits in the queue again, for an agent
        to answer it another way (a letter, a call)."""
        d = event.data
        await self.queues.reopen(
            contact_id=d.contact_id, channel=d.channel.value, skill=d.department_id, received_at=d.received_at,
            reason=f"answer undelivered: {d.reason}", at=d.undelivered_at,
        )
        log.info("contact back in the queue", extra={"contact_id": d.contact_id, "reply_id": d.reply_id, "event_id": event.id})

    async def decision_for(self, contact_id: str) -> ContactRoutedData | None:
        return await self._decisions.get(contact_id)
