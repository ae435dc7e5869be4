"""Working days, deadlines and slots in Europe/Amsterdam, and booking against slot counters."""

from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

import pytest

from kcc_callback.booking import NoSlotLeft, SlotBooker
from kcc_callback.calendar import WorkingCalendar
from kcc_callback.settings import CallbackSettings, DepartmentCapacity
from kcc_shared.contracts import TimeWindow

AMS = ZoneInfo("Europe/Amsterdam")
CAPACITY = DepartmentCapacity(opens=time(8, 30), closes=time(17, 0), slot_minutes=15, per_slot=2, coordinator="co")
calendar = WorkingCalendar()


class FakeSlots:
    """Slot holders in memory, with the store's semantics: a holder is added only while places are left."""

    def __init__(self) -> None:
        self.holders: dict[datetime, list[str]] = {}

    async def full_slots(self, *, department_id, start, end, capacity):
        return {s for s, held in self.holders.items() if start <= s < end and len(held) >= capacity}

    async def book_slot(self, *, department_id, start, end, capacity, holder):
        held = self.holders.setdefault(start, [])
        if holder not in held and len(held) < capacity:
            held.append(holder)
        return start.isoformat() if holder in held else None

    async def held_slot(self, *, holder):
        return None


def test_dutch_holidays_and_weekends_are_not_working_days():
    assert not calendar.is_working_day(date(2026, 12, 25))  # Christmas
    assert not calendar.is_working_day(date(2026, 12, 26))  # Boxing Day (a Saturday this year)
    assert not calendar.is_working_day(date(2026, 4, 27))  # King's Day
    assert not calendar.is_working_day(date(2026, 5, 14))  # Ascension Day
    assert not calendar.is_working_day(date(2026, 12, 27))  # Sunday
    assert calendar.is_working_day(date(2026, 12, 24))
    assert calendar.is_working_day(date(2026, 12, 28))


def test_christmas_eve_request_is_due_monday_28_december():
    requested = datetime(2026, 12, 24, 16, 55, tzinfo=AMS)
    deadline = calendar.deadline(requested_at=requested, working_days=1, capacity=CAPACITY)
    assert deadline == datetime(2026, 12, 28, 17, 0, tzinfo=AMS)
    first = next(calendar.slots(capacity=CAPACITY, after=requested, horizon_days=10))
    assert first.start == datetime(2026, 12, 28, 8, 30, tzinfo=AMS)
    assert first.end <= deadline


def test_a_zero_day_norm_after_closing_is_due_the_next_working_day():
    friday_evening = datetime(2026, 11, 27, 18, 0, tzinfo=AMS)
    assert calendar.deadline(requested_at=friday_evening, working_days=0, capacity=CAPACITY) == datetime(
        2026, 11, 30, 17, 0, tzinfo=AMS
    )


def test_slots_keep_their_local_time_across_the_october_dst_change():
    friday = datetime(2026, 10, 23, 16, 40, tzinfo=AMS)  # CEST, UTC+2
    slots = list(calendar.slots(capacity=CAPACITY, after=friday, horizon_days=4))
    assert slots[0].start == datetime(2026, 10, 23, 16, 45, tzinfo=AMS)
    assert slots[0].start.astimezone(UTC) == datetime(2026, 10, 23, 14, 45, tzinfo=UTC)
    monday = slots[1]  # the weekend (with the change on Sunday 25 October) has no slots
    assert monday.start.astimezone(AMS).strftime("%a %H:%M %z") == "Mon 08:30 +0100"
    assert monday.start.astimezone(UTC) == datetime(2026, 10, 26, 7, 30, tzinfo=UTC)
    assert {(s.end.astimezone(UTC) - s.start.astimezone(UTC)).total_seconds() for s in slots} == {900.0}


async def test_booking_fills_the_earliest_slot_up_to_its_capacity_then_the_next():
    store = FakeSlots()
    booker = SlotBooker(store=store, calendar=calendar, horizon_days=10)
    after = datetime(2026, 11, 24, 8, 0, tzinfo=AMS)
    deadline = calendar.deadline(requested_at=after, working_days=1, capacity=CAPACITY)
    starts = [
        (await booker.book(department_id="d", holder=f"cb{i}", capacity=CAPACITY, after=after, deadline=deadline, windows=[])).slot.start
        for i in range(3)
    ]
    assert [s.astimezone(AMS).time() for s in starts] == [time(8, 30), time(8, 30), time(8, 45)]


async def test_the_citizens_window_is_honoured_or_the_promise_is_flagged_at_risk():
    store = FakeSlots()
    booker = SlotBooker(store=store, calendar=calendar, horizon_days=10)
    after = datetime(2026, 11, 24, 8, 0, tzinfo=AMS)
    deadline = datetime(2026, 11, 25, 17, 0, tzinfo=AMS)
    afternoon = TimeWindow(start=datetime(2026, 11, 25, 14, 0, tzinfo=AMS), end=datetime(2026, 11, 25, 15, 0, tzinfo=AMS))
    booking = await booker.book(department_id="d", holder="cb", capacity=CAPACITY, after=after, deadline=deadline, windows=[afternoon])
    assert (booking.slot.start, booking.at_risk) == (datetime(2026, 11, 25, 14, 0, tzinfo=AMS), False)

    too_late = TimeWindow(start=datetime(2026, 12, 1, 9, 0, tzinfo=AMS), end=datetime(2026, 12, 1, 10, 0, tzinfo=AMS))
    booking = await booker.book(department_id="d", holder="cb2", capacity=CAPACITY, after=after, deadline=deadline, windows=[too_late])
    assert (booking.slot.start, booking.at_risk) == (datetime(2026, 11, 24, 8, 30, tzinfo=AMS), True)


async def test_a_full_horizon_says_so():
    store = FakeSlots()
    tiny = DepartmentCapacity(opens=time(9), closes=time(9, 30), slot_minutes=30, per_slot=1, coordinator="co")
    booker = SlotBooker(store=store, calendar=calendar, horizon_days=0)
    after = datetime(2026, 11, 24, 8, 0, tzinfo=AMS)
    await booker.book(department_id="d", holder="cb", capacity=tiny, after=after, deadline=after, windows=[])
    with pytest.raises(NoSlotLeft):
        await booker.book(department_id="d", holder="cb2", capacity=tiny, after=after, deadline=after, windows=[])


def test_departments_come_from_configuration_with_a_default():
    settings = CallbackSettings()
    assert {"burgerzaken", "belastingen", "sozawe", "milieudienst"} <= set(settings.departments)
    assert settings.capacity("ro-ez") == settings.departments["kcc"]
    with pytest.raises(ValueError):
        DepartmentCapacity(opens=time(17), closes=time(9), coordinator="co")
