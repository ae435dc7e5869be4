"""Booking a call-back into the earliest slot that fits the citizen's windows and the deadline."""

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from kcc_shared.contracts import TimeWindow

from kcc_callback.calendar import Slot, WorkingCalendar
from kcc_callback.settings import DepartmentCapacity


class SlotStore(Protocol):
    async def full_slots(self, *, department_id: str, start: datetime, end: datetime, capacity: int) -> set[datetime]: ...
    async def book_slot(self, *, department_id: str, start: datetime, end: datetime, capacity: int, holder: str) -> str | None: ...
    async def held_slot(self, *, holder: str) -> dict | None: ...


@dataclass(frozen=True)
class Booking:
    slot: Slot
    slot_id: str  # the slot whose place was taken, to give it back
    at_risk: bool  # the slot misses the citizen's windows or ends after the deadline


class NoSlotLeft(Exception):
    """Every slot within the booking horizon is full."""


def fits(slot: Slot, *, deadline: datetime, windows: list[TimeWindow]) -> bool:
    within_window = not windows or any(w.start <= slot.start and slot.end <= w.end for w in windows)
    return within_window and slot.end <= deadline


class SlotBooker:
    """Books places in slots; the store adds a holder only while the slot has room, so no slot is overbooked."""

    def __init__(self, *, store: SlotStore, calendar: WorkingCalendar, horizon_days: int) -> None:
        self._store, self._calendar, self._horizon_days = store, calendar, horizon_days

    async def book(
        self, *, department_id: str, holder: str, capacity: DepartmentCapacity, after: datetime, deadline: datetime,
        windows: list[TimeWindow], keep_held: bool = False,
    ) -> Booking:
        """The earliest free slot that fits; if none does, the earliest free slot, at risk.

        With `keep_held`, a slot `holder` already holds is its booking: a request redelivered
        after a crash between booking and saving finds the place it took then."""
        if keep_held and (held := await self._store.held_slot(holder=holder)) is not None:
            slot = Slot(start=held["start"].astimezone(self._calendar.tz), end=held["end"].astimezone(self._calendar.tz))
            return Booking(slot=slot, slot_id=held["_id"], at_risk=not fits(slot, deadline=deadline, windows=windows))
        found = await self._first_free(
            department_id, holder, capacity, after, lambda s: fits(s, deadline=deadline, windows=windows), until=deadline
        )
        if found is not None:
            return Booking(slot=found[0], slot_id=found[1], at_risk=False)
        found = await self._first_free(department_id, holder, capacity, after, lambda s: True, until=None)
        if found is None:
            raise NoSlotLeft(f"no free call-back slot for {department_id} within {self._horizon_days} days")
        return Booking(slot=found[0], slot_id=found[1], at_risk=True)

    async def _first_free(
        self, department_id, holder, capacity, after, wanted, *, until: datetime | None
    ) -> tuple[Slot, str] | None:
        full: set[datetime] = set()
        loaded_day = None
        for slot in self._calendar.slots(capacity=capacity, after=after, horizon_days=self._horizon_days):
            if until is not None and slot.start >= until:
                return None
            if not wanted(slot):
                continue
            day = slot.start.date()
            if day != loaded_day:
                # One read per day skips the slots already full instead of trying each.
                start, end = self._calendar.day_bounds(slot.start)
                full = await self._store.full_slots(department_id=department_id, start=start, end=end, capacity=capacity.per_slot)
                loaded_day = day
            if slot.start in full:
                continue
            taken = await self._store.book_slot(
                department_id=department_id, start=slot.start, end=slot.end, capacity=capacity.per_slot, holder=holder
            )
            if taken is not None:
                return slot, taken
        return None


def remind_at(slot: Slot, *, minutes_before: int) -> datetime:
    return slot.start - timedelta(minutes=minutes_before)
