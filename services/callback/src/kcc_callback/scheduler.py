"""Timers that survive restarts: reminders before a slot, `overdue` when a deadline passes.

Due times live in the store (`timers` collection, one document per timer with a
deterministic id). A scheduler loop claims a due timer (one conditional update from
`pending` to `claimed`, with a lease: of concurrent schedulers exactly one gets it), publishes
its event, then marks it `done`; done timers expire by TTL index a few days later.

Why every consumer sees each reminder/overdue event exactly once:
- The event id is derived from the timer id (`derived_id(timer_id, "fired")`), so however
  often the timer fires, it is the same event.
- A crash after the claim but before the publish leaves the timer `claimed`; when its lease
  runs out, the next scheduler (the restarted service) claims it again and publishes it.
  Nothing due is missed.
- A crash after the publish but before `done` makes the next scheduler publish the same event
  id once more. Consumers de-duplicate on the event id (our `Inbox`), so it takes effect
  once. A timer marked `done` is never claimed again, so later restarts emit nothing.
The loop also publishes call-back outbox entries whose first publish failed.
"""

import asyncio
import logging
import uuid
from datetime import datetime, timedelta
from typing import Any

from kcc_shared.contracts import (
    CALLBACK_OVERDUE, CALLBACK_REMINDER, CallbackOverdue, CallbackOverdueData, CallbackReminder,
    CallbackReminderData, CloudEvent, TopicSpec, derived_id,
)

from kcc_callback.calendar import Clock
from kcc_callback.models import TERMINAL, Callback
from kcc_callback.repository import CallbackRepository
from kcc_callback.service import CallbackService, Publisher
from kcc_callback.settings import CallbackSettings

log = logging.getLogger(__name__)

OUTBOX_GRACE_S = 5.0


class TimerScheduler:
    def __init__(
        self, *, repository: CallbackRepository, callbacks: CallbackService, publisher: Publisher,
        settings: CallbackSettings, clock: Clock, source: str = "/kcc/callback", owner: str | None = None,
    ) -> None:
        self._repository, self._callbacks, self._publisher = repository, callbacks, publisher
        self._settings, self._clock, self._source = settings, clock, source
        self.owner = owner or uuid.uuid4().hex

    async def run_once(self) -> int:
        """Publish pending outboxes and fire every due timer; returns the events published."""
        # Leave fresh outbox entries to the request that queued them (it publishes right away);
        # publishing them here too would only send the same event ids twice.
        published = await self._callbacks.flush(queued_before=self._clock() - timedelta(seconds=OUTBOX_GRACE_S))
        while True:
            now = self._clock()
            timer = await self._repository.claim_due_timer(
                now=now, lease_until=now + timedelta(seconds=self._settings.timer_lease_s), owner=self.owner
            )
            if timer is None:
                return published
            published += await self._fire(timer, now)

    async def _fire(self, timer: dict[str, Any], now: datetime) -> int:
        callback = await self._callbacks.get(timer["callback_id"])
        due = self._event(timer, callback, now) if callback is not None else None
        if due is not None:
            topic, event = due
            await self._publisher.publish(event, topic=topic)
        await self._repository.finish_timer(
            timer_id=timer["_id"], owner=self.owner, outcome="emitted" if due else "skipped", at=now
        )
        return 1 if due else 0

    def _event(self, timer: dict[str, Any], callback: Callback, now: datetime) -> tuple[TopicSpec, CloudEvent] | None:
        """The timer's event, or None when it no longer applies (done, or rebooked)."""
        if callback.status in TERMINAL:
            return None
        event_id = derived_id(timer["_id"], "fired")
        if timer["kind"] == "overdue":
            return CALLBACK_OVERDUE, CallbackOverdue.create(
                source=self._source, subject=callback.callback_id, time=now, event_id=event_id,
                data=CallbackOverdueData(
                    callback_id=callback.callback_id, contact_id=callback.contact_id,
                    department_id=callback.department_id, deadline=callback.deadline, status=callback.status,
                    attempts=len(callback.attempts),
                    escalate_to=self._settings.capacity(callback.department_id).coordinator,
                ),
            )
        if timer["booking"] != callback.booking or callback.slot_start is None or callback.slot_end <= now:
            return None
        return CALLBACK_REMINDER, CallbackReminder.create(
            source=self._source, subject=callback.callback_id, time=now, event_id=event_id,
            data=CallbackReminderData(
                callback_id=callback.callback_id, department_id=callback.department_id,
                slot_start=callback.slot_start, slot_end=callback.slot_end, assigned_to=callback.assigned_to,
                remind_at=timer["due_at"],
            ),
        )

    async def run_forever(self) -> None:
        """The service's background loop, until cancelled at shutdown."""
        while True:
            await asyncio.sleep(self._settings.scheduler_interval_s)
            try:
                await self.run_once()
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - a failing round is retried next round, never fatal
                log.exception("scheduler round failed; retrying next round")
