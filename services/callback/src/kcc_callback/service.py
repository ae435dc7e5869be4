"""The call-back life cycle: request → scheduled → attempts → completed | failed | cancelled.

Every transition is one update of the call-back guarded by its revision (a concurrent writer
gets 409) that also queues the transition's events in the call-back's outbox, so state and
events never diverge. They are published right after, and again by the scheduler loop if that
publish failed; an entry leaves the outbox once the broker acknowledged it.
"""

import logging
from datetime import datetime
from typing import Any, Protocol

from pymongo.errors import PyMongoError

from kcc_shared.contracts import (
    CALLBACK_ASSIGNED, CALLBACK_ATTEMPTED, CALLBACK_CANCELLED, CALLBACK_COMPLETED, CALLBACK_FAILED,
    CALLBACK_SCHEDULED, TOPICS, CallbackAssigned, CallbackAssignedData, CallbackAttempted,
    CallbackAttemptedData, CallbackCancelled, CallbackCancelledData, CallbackCompleted,
    CallbackCompletedData, CallbackFailed, CallbackFailedData, CallbackRequested, CallbackScheduled,
    CallbackScheduledData, CloudEvent, TimeWindow, TopicSpec, derived_id,
)

from kcc_shared.registry import RegistryClient, UnknownPseudonym

from kcc_callback.booking import SlotBooker, remind_at
from kcc_callback.calendar import Clock, Slot, WorkingCalendar
from kcc_callback.models import (
    OPEN, Attempt, AttemptBody, Callback, CancelBody, ClaimBody, CompleteBody, Conflict, FreeSlot, RescheduleBody,
)
from kcc_callback.repository import CallbackRepository
from kcc_callback.settings import CallbackSettings

log = logging.getLogger(__name__)

_TOPICS_BY_NAME = {spec.name: spec for spec in TOPICS}


class Publisher(Protocol):
    async def publish(self, event: CloudEvent, *, topic: TopicSpec) -> None: ...


class NotFound(Exception):
    """No call-back with this id (HTTP 404)."""


def timer_id(callback_id: str, kind: str, booking: int) -> str:
    return f"{callback_id}|{kind}|{booking}"


class CallbackService:
    def __init__(
        self, *, repository: CallbackRepository, publisher: Publisher, settings: CallbackSettings,
        calendar: WorkingCalendar, clock: Clock, source: str = "/kcc/callback", registry: RegistryClient | None = None,
    ) -> None:
        self._repository, self._publisher, self._settings = repository, publisher, settings
        self._calendar, self._clock, self._source = calendar, clock, source
        self._registry = registry
        self._booker = SlotBooker(store=repository, calendar=calendar, horizon_days=settings.booking_horizon_days)

    # --- consuming requests -----------------------------------------------------------------

    async def request(self, event: CallbackRequested) -> None:
        """Record a call-back request and book it; a redelivered request books nothing new."""
        data = event.data
        capacity = self._settings.capacity(data.department_id)
        deadline = self._calendar.deadline(
            requested_at=data.requested_at, working_days=data.norm_working_days, capacity=capacity
        )
        callback = Callback(
            status="requested", deadline=deadline, max_attempts=capacity.max_attempts,
            **data.model_dump(exclude={"phone_key"}),
        )
        # The event names the number by its pseudonym; the number itself is asked from intake's
        # registry and stays in this service's store only, never in its events.
        known = await self._repository.get_phone(data.callback_id)  # a redelivery asks the registry no more
        phone = (known or {}).get("phone") if known else await self._resolve_phone(data.phone_key)
        await self._repository.create({**callback.model_dump(exclude={"revision"}), "phone_key": data.phone_key, "phone": phone})
        await self._repository.add_timer(
            timer_id=timer_id(data.callback_id, "overdue", 0), callback_id=data.callback_id, kind="overdue",
            booking=0, due_at=deadline,
        )
        current = await self._load(data.callback_id)
        if current.status == "requested":
            after = max(data.requested_at, self._clock())
            try:
                await self._book(current, after=after, windows=current.preferred_windows, rescheduled=False)
            except Conflict:
                return  # a concurrent delivery of the same request booked it (and publishes)
        else:
            # An earlier delivery may have died after saving the booking: publish what it queued
            # and add the reminder it may not have added.
            await self._publish_outbox(current.callback_id)
            if current.status in OPEN and current.slot_start is not None:
                await self._add_reminder(current)

    async def _book(self, callback: Callback, *, after: datetime, windows: list[TimeWindow], rescheduled: bool) -> Callback:
        """Book a slot and save it as the call-back's next booking (its events published)."""
        capacity = self._settings.capacity(callback.department_id)
        booking = await self._booker.book(
            department_id=callback.department_id, holder=callback.callback_id, capacity=capacity, after=after,
            deadline=callback.deadline or after, windows=windows, keep_held=not rescheduled,
        )
        number = callback.booking + 1
        scheduled = CallbackScheduled.create(
            source=self._source, subject=callback.callback_id, time=self._clock(),
            event_id=derived_id(callback.callback_id, f"scheduled/{number}"),
            data=CallbackScheduledData(
                callback_id=callback.callback_id, contact_id=callback.contact_id,
                department_id=callback.department_id, slot_start=booking.slot.start, slot_end=booking.slot.end,
                deadline=callback.deadline, at_risk=booking.at_risk, rescheduled=rescheduled,
            ),
        )
        changes = {
            "status": "scheduled", "slot_start": booking.slot.start, "slot_end": booking.slot.end,
            "at_risk": booking.at_risk, "booking": number, "slot_id": booking.slot_id,
            "preferred_windows": [w.model_dump() for w in windows],
        }
        try:
            saved = await self._commit(callback, changes, [(CALLBACK_SCHEDULED, scheduled)])
        except Conflict:
            # Someone else changed it meanwhile: give the place back unless what they saved holds it
            # (a concurrent delivery of the same request books the same slot).
            current = await self.get(callback.callback_id)
            if current is None or current.slot_id != booking.slot_id:
                await self._repository.release_slot(slot_id=booking.slot_id, holder=callback.callback_id)
            raise
        await self._add_reminder(saved)
        return saved

    async def _add_reminder(self, callback: Callback) -> None:
        """Add the reminder timer of the call-back's current booking (idempotent)."""
        # Only after the booking is saved: a timer added before could come due, be claimed while
        # the booking is still being saved, and be skipped as belonging to no booking.
        slot = Slot(start=callback.slot_start, end=callback.slot_end)
        await self._repository.add_timer(
            timer_id=timer_id(callback.callback_id, "reminder", callback.booking), callback_id=callback.callback_id,
            kind="reminder", booking=callback.booking,
            due_at=remind_at(slot, minutes_before=self._settings.reminder_minutes_before),
        )

    async def _resolve_phone(self, phone_key: str | None) -> str | None:
        """The number behind a pseudonym, or None when it cannot be had now (asked again when an agent needs it)."""
        if phone_key is None or self._registry is None or not self._registry.configured:
            return None
        try:
            return (await self._registry.resolve(phone_key))["value"]
        except UnknownPseudonym:
            log.warning("the registry does not know this number (erased?)", extra={"phone_key": phone_key})
        except Exception as exc:  # noqa: BLE001 - the call-back is still booked; the number is fetched later
            log.warning("registry unreachable; the number is fetched when an agent asks", extra={"error": repr(exc)})
        return None

    async def phone(self, callback_id: str) -> str | None:
        """The number to call for a call-back (from the store, else from intake's registry, then kept)."""
        stored = await self._repository.get_phone(callback_id)
        if stored is None:
            raise NotFound(callback_id)
        if stored.get("phone"):
            return stored["phone"]
        phone = await self._resolve_phone(stored["phone_key"]) if stored.get("phone_key") else None
        if phone is not None:
            await self._repository.set_phone(callback_id, phone)
        return phone

    # --- the API's actions ------------------------------------------------------------------

    async def get(self, callback_id: str) -> Callback | None:
        stored = await self._repository.get(callback_id)
        return Callback.model_validate(stored) if stored else None

    async def due_today(self, *, department_id: str) -> list[Callback]:
        """Open call-backs of a department whose slot starts before the end of today (local)."""
        _, end_of_today = self._calendar.day_bounds(self._clock())
        stored = await self._repository.due_before(department_id=department_id, statuses=OPEN, before=end_of_today)
        return [Callback.model_validate(doc) for doc in stored]

    async def free_slots(self, *, department_id: str, limit: int) -> list[FreeSlot]:
        """The department's next call-back slots with a place left, earliest first (what a booking now could get)."""
        capacity = self._settings.capacity(department_id)
        found: list[FreeSlot] = []
        taken: dict[datetime, int] = {}
        loaded_day = None
        for slot in self._calendar.slots(capacity=capacity, after=self._clock(), horizon_days=self._settings.booking_horizon_days):
            if slot.start.date() != loaded_day:  # one read per day
                start, end = self._calendar.day_bounds(slot.start)
                taken = {at.astimezone(self._calendar.tz): n for at, n in (await self._repository.taken_slots(
                    department_id=department_id, start=start, end=end)).items()}
                loaded_day = slot.start.date()
            free = capacity.per_slot - taken.get(slot.start, 0)
            if free > 0:
                found.append(FreeSlot(start=slot.start, end=slot.end, free=free, capacity=capacity.per_slot))
                if len(found) >= limit:
                    break
        return found

    async def claim(self, callback_id: str, body: ClaimBody) -> Callback:
        callback = await self._load(callback_id)
        callback.require("claim", OPEN)
        now, actor = self._clock(), body.actor()
        event = CallbackAssigned.create(
            source=self._source, subject=callback_id, time=now,
            event_id=derived_id(callback_id, f"assigned/{callback.revision + 1}"),
            data=CallbackAssignedData(callback_id=callback_id, department_id=callback.department_id, assigned_to=actor, assigned_at=now),
        )
        return await self._commit(callback, {"assigned_to": actor.model_dump()}, [(CALLBACK_ASSIGNED, event)])

    async def attempt(self, callback_id: str, body: AttemptBody) -> Callback:
        """Record an attempt; a wrong number, or the last allowed attempt failing, fails the call-back."""
        callback = await self._load(callback_id)
        callback.require("record an attempt", ("scheduled", "attempted"))
        now, number = self._clock(), len(callback.attempts) + 1
        attempt = Attempt(number=number, outcome=body.outcome, agent_id=body.agent_id, attempted_at=now, note=body.note)
        events: list[tuple[TopicSpec, CloudEvent]] = [(CALLBACK_ATTEMPTED, CallbackAttempted.create(
            source=self._source, subject=callback_id, time=now, event_id=derived_id(callback_id, f"attempted/{number}"),
            data=CallbackAttemptedData(
                callback_id=callback_id, department_id=callback.department_id, attempt=number,
                max_attempts=callback.max_attempts, outcome=body.outcome, agent_id=body.agent_id,
                attempted_at=now,  # the agent's note stays in this store: free text may name the citizen
            ),
        ))]
        changes: dict[str, Any] = {"attempts": [a.model_dump() for a in (*callback.attempts, attempt)]}
        if body.outcome == "reached":
            changes["status"] = "reached"
        elif body.outcome == "wrong_number" or number >= callback.max_attempts:
            changes.update(status="failed", closed_at=now, closed_by=body.agent_id)
            events.append((CALLBACK_FAILED, CallbackFailed.create(
                source=self._source, subject=callback_id, time=now, event_id=derived_id(callback_id, "failed"),
                data=CallbackFailedData(
                    callback_id=callback_id, contact_id=callback.contact_id, department_id=callback.department_id,
                    failed_at=now, attempts=number,
                    reason="wrong_number" if body.outcome == "wrong_number" else "max_attempts",
                    escalate_to=self._settings.capacity(callback.department_id).coordinator,
                ),
            )))
        else:
            changes["status"] = "attempted"
        return await self._commit(callback, changes, events)

    async def complete(self, callback_id: str, body: CompleteBody) -> Callback:
        callback = await self._load(callback_id)
        callback.require("complete", ("scheduled", "attempted", "reached"))
        now = self._clock()
        event = CallbackCompleted.create(
            source=self._source, subject=callback_id, time=now, event_id=derived_id(callback_id, "completed"),
            data=CallbackCompletedData(
                callback_id=callback_id, contact_id=callback.contact_id, department_id=callback.department_id,
                completed_at=now, completed_by=body.agent_id, deadline=callback.deadline,
                within_deadline=now <= callback.deadline, attempts=len(callback.attempts),
            ),
        )
        changes = {"status": "completed", "closed_at": now, "closed_by": body.agent_id}
        return await self._commit(callback, changes, [(CALLBACK_COMPLETED, event)])

    async def reschedule(self, callback_id: str, body: RescheduleBody) -> Callback:
        """Book a new slot (the deadline stays: it is the promise); the old place is freed."""
        callback = await self._load(callback_id)
        callback.require("reschedule", ("scheduled", "attempted"))
        after = max(self._clock(), body.not_before or self._clock())
        windows = body.preferred_windows or callback.preferred_windows
        rescheduled = await self._book(callback, after=after, windows=windows, rescheduled=True)
        if callback.slot_id is not None and callback.slot_id != rescheduled.slot_id:
            await self._repository.release_slot(slot_id=callback.slot_id, holder=callback_id)
        return rescheduled

    async def cancel(self, callback_id: str, body: CancelBody) -> Callback:
        callback = await self._load(callback_id)
        callback.require("cancel", OPEN)
        now = self._clock()
        event = CallbackCancelled.create(
            source=self._source, subject=callback_id, time=now, event_id=derived_id(callback_id, "cancelled"),
            data=CallbackCancelledData(
                callback_id=callback_id, department_id=callback.department_id, cancelled_at=now,
                cancelled_by=body.agent_id, reason=body.reason,
            ),
        )
        changes = {"status": "cancelled", "closed_at": now, "closed_by": body.agent_id}
        cancelled = await self._commit(callback, changes, [(CALLBACK_CANCELLED, event)])
        if callback.slot_id is not None and callback.slot_start > now:
            await self._repository.release_slot(slot_id=callback.slot_id, holder=callback_id)
        return cancelled

    # --- persistence and the outbox ---------------------------------------------------------

    async def _load(self, callback_id: str) -> Callback:
        callback = await self.get(callback_id)
        if callback is None:
            raise NotFound(callback_id)
        return callback

    async def _commit(self, callback: Callback, changes: dict[str, Any], events: list[tuple[TopicSpec, CloudEvent]]) -> Callback:
        """Save the transition from the call-back's revision with its events, then publish them."""
        now = self._clock()
        outbox = [
            {"id": event.id, "topic": topic.name, "event": event.model_dump(mode="json"), "at": now} for topic, event in events
        ]
        saved = await self._repository.save(
            callback_id=callback.callback_id, revision=callback.revision, changes=changes, events=outbox
        )
        if saved is None:
            raise Conflict(f"call-back {callback.callback_id} changed meanwhile; read it again and retry")
        await self._publish(callback.callback_id, saved.pop("outbox"))
        return Callback.model_validate(saved)

    async def _publish_outbox(self, callback_id: str) -> None:
        await self._publish(callback_id, await self._repository.outbox_of(callback_id))

    async def flush(self, *, queued_before: datetime) -> int:
        """Publish the outbox entries queued before `queued_before` that are still there."""
        published = 0
        for doc in await self._repository.outboxes_before(queued_before=queued_before):
            published += await self._publish(doc["callback_id"], doc["outbox"])
        return published

    async def _publish(self, callback_id: str, outbox: list[dict[str, Any]]) -> int:
        """Publish a call-back's queued events in order, then pull those the broker acknowledged.

        A crash between the publish and the pull publishes the same event ids again later:
        at least once, which consumers de-duplicate on the id."""
        done: list[str] = []
        for entry in outbox:
            topic = _TOPICS_BY_NAME[entry["topic"]]
            event = topic.adapter.validate_python(entry["event"])
            try:
                await self._publisher.publish(event, topic=topic)
            except Exception:  # noqa: BLE001 - the scheduler loop publishes it later
                log.warning("event stays in the outbox for the next run", extra={"event_id": event.id}, exc_info=True)
                break
            done.append(entry["id"])
        if done:
            try:
                await self._repository.published(callback_id=callback_id, event_ids=done)
            except PyMongoError:
                # The transition is saved and its events are out: the request succeeded. Failing
                # it now (503) would make a client retry an action already done (409); the entries
                # stay in the outbox and the scheduler publishes them again under the same ids.
                log.warning("published events stay in the outbox until the next run", extra={"callback_id": callback_id}, exc_info=True)
        return len(done)
