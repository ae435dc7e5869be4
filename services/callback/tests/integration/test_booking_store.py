"""Booking on the real store: no overbooking under concurrency,
holiday-aware deadlines, DST-safe slot times, idempotent requests."""

import asyncio
import time as clock_time
from collections import Counter
from datetime import UTC, datetime, time
from zoneinfo import ZoneInfo

import pytest
from pymongo import AsyncMongoClient

from kcc_callback.calendar import WorkingCalendar
from kcc_callback.repository import CallbackRepository
from kcc_callback.service import CallbackService
from kcc_callback.settings import CallbackSettings, DepartmentCapacity
from kcc_shared.contracts import CallbackRequested, CallbackRequestedData
from kcc_shared.testing import unique

pytestmark = pytest.mark.integration

AMS = ZoneInfo("Europe/Amsterdam")

PHONE_KEY = "phone:00000000000000000000000000000000"  # the pseudonym routing would send; the registry is not asked here


class RecordingPublisher:
    def __init__(self) -> None:
        self.events = []

    async def publish(self, event, *, topic):
        self.events.append(event)


@pytest.fixture
async def db(real_stack):
    client = AsyncMongoClient(real_stack["mongo"], tz_aware=True)
    name = unique("test_callback_store").replace("-", "_")
    yield client[name]
    await client.drop_database(name)
    await client.close()


def service_on(db, now: datetime, **departments: DepartmentCapacity):
    settings = CallbackSettings(departments={"kcc": DepartmentCapacity(coordinator="co-kcc"), **departments})
    repository = CallbackRepository(db)
    publisher = RecordingPublisher()
    service = CallbackService(
        repository=repository, publisher=publisher, settings=settings, calendar=WorkingCalendar(), clock=lambda: now
    )
    return service, repository, publisher


def request(department_id: str, requested_at: datetime, *, norm: int = 1, callback_id: str | None = None) -> CallbackRequested:
    callback_id = callback_id or unique("cb")
    return CallbackRequested.create(
        source="/tests", subject=callback_id,
        data=CallbackRequestedData(
            callback_id=callback_id, contact_id=unique("c"), department_id=department_id, phone_key=PHONE_KEY,
            requested_at=requested_at, norm_working_days=norm,
        ),
    )


async def test_200_concurrent_requests_fill_50_free_slots_exactly_and_overflow_later(db):
    # 10 half-hour slots of 5 places on Tuesday 24 November 2026 = 50 places before the deadline.
    capacity = DepartmentCapacity(opens=time(9), closes=time(14), slot_minutes=30, per_slot=5, coordinator="co")
    requested_at = datetime(2026, 11, 24, 8, 0, tzinfo=AMS)
    service, repository, _ = service_on(db, requested_at, burgerzaken=capacity)
    await repository.ensure_indexes()
    requests = [request("burgerzaken", requested_at, norm=0) for _ in range(200)]

    started = clock_time.perf_counter()
    await asyncio.gather(*(service.request(r) for r in requests))
    elapsed = clock_time.perf_counter() - started

    callbacks = [await service.get(r.data.callback_id) for r in requests]
    deadline = datetime(2026, 11, 24, 14, 0, tzinfo=AMS)
    assert all(c.status == "scheduled" for c in callbacks)
    on_time = [c for c in callbacks if c.slot_end <= deadline]
    later = [c for c in callbacks if c.slot_start >= deadline]
    assert (len(on_time), len(later)) == (50, 150)
    assert not any(c.at_risk for c in on_time) and all(c.at_risk for c in later)
    per_slot = Counter(c.slot_start for c in callbacks)
    assert max(per_slot.values()) == 5, "a slot was overbooked"
    assert len([s for s in per_slot if s < deadline]) == 10
    counters = await repository.slot_counts(department_id="burgerzaken")
    assert counters == dict(per_slot), "slot counters disagree with the bookings"
    # Overflow goes to the next working day's earliest slots, in order.
    assert min(c.slot_start for c in later) == datetime(2026, 11, 25, 9, 0, tzinfo=AMS)
    print(f"\n200 concurrent bookings on the real store in {elapsed:.2f}s; slots used: {len(per_slot)}")


async def test_christmas_eve_request_is_due_and_booked_by_monday_28_december(db):
    requested_at = datetime(2026, 12, 24, 16, 55, tzinfo=AMS)
    service, _, publisher = service_on(db, requested_at, belastingen=DepartmentCapacity(coordinator="co"))
    event = request("belastingen", requested_at, norm=1)
    await service.request(event)
    callback = await service.get(event.data.callback_id)
    assert callback.deadline.astimezone(AMS) == datetime(2026, 12, 28, 17, 0, tzinfo=AMS)
    assert callback.slot_start.astimezone(AMS) == datetime(2026, 12, 28, 8, 30, tzinfo=AMS)
    assert callback.slot_end <= callback.deadline and not callback.at_risk
    assert publisher.events[0].data.deadline == callback.deadline


async def test_slots_across_the_dst_change_keep_local_times(db):
    # Friday 23 October 2026 is summer time (UTC+2); Monday 26 October winter time (UTC+1).
    capacity = DepartmentCapacity(opens=time(8, 30), closes=time(9, 0), slot_minutes=15, per_slot=1, coordinator="co")
    requested_at = datetime(2026, 10, 23, 8, 0, tzinfo=AMS)
    service, _, _ = service_on(db, requested_at, milieudienst=capacity)
    events = [request("milieudienst", requested_at, norm=1) for _ in range(4)]
    for event in events:
        await service.request(event)
    slots = [(await service.get(e.data.callback_id)).slot_start for e in events]
    assert [s.astimezone(AMS).strftime("%a %d %H:%M %z") for s in slots] == [
        "Fri 23 08:30 +0200", "Fri 23 08:45 +0200", "Mon 26 08:30 +0100", "Mon 26 08:45 +0100",
    ]
    assert [s.astimezone(UTC).strftime("%H:%M") for s in slots] == ["06:30", "06:45", "07:30", "07:45"]


async def test_a_redelivered_request_creates_no_second_callback(db):
    requested_at = datetime(2026, 11, 24, 8, 0, tzinfo=AMS)
    service, repository, publisher = service_on(db, requested_at, sozawe=DepartmentCapacity(coordinator="co"))
    event = request("sozawe", requested_at)
    await asyncio.gather(*(service.request(event) for _ in range(20)))
    again = CallbackRequested.create(source="/tests", data=event.data)  # same call-back, new event id
    await service.request(again)
    assert await db["callbacks"].count_documents({}) == 1
    assert sum((await repository.slot_counts(department_id="sozawe")).values()) == 1
    assert {e.id for e in publisher.events} == {publisher.events[0].id}
