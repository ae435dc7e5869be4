"""Housekeeping on the real store: what only the past needs (fired timers, places of ended
slots, published transitions) is deleted after the keep period, and no call-back changes."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from kcc_callback.app import create_app
from kcc_callback.models import CompleteBody
from kcc_callback.settings import CallbackSettings
from kcc_shared.contracts import CallbackRequested, CallbackRequestedData
from kcc_shared.testing import running, unique

pytestmark = pytest.mark.integration

AMS = ZoneInfo("Europe/Amsterdam")
PHONE_KEY = "phone:" + "ab" * 16


class FakeClock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


async def request(app, clock: FakeClock) -> str:
    callback_id = unique("cb")
    await app.state.callbacks.request(CallbackRequested.create(
        source="/tests", subject=callback_id,
        data=CallbackRequestedData(
            callback_id=callback_id, contact_id=unique("c"), department_id="burgerzaken", phone_key=PHONE_KEY,
            requested_at=clock.now,
        ),
    ))
    return callback_id


async def test_housekeeping_deletes_only_what_the_past_needs(service_env, monkeypatch):
    service_env("callback")
    monkeypatch.setenv("KCC_CALLBACK_SCHEDULER_INTERVAL_S", "3600")  # only this test fires timers
    clock = FakeClock(datetime(2027, 3, 2, 9, 0, tzinfo=AMS))  # a Tuesday
    app = create_app(CallbackSettings(housekeeping_keep_days=2), clock=clock)
    async with running(app):
        db, repository, callbacks = app.state.infra.db, app.state.repository, app.state.callbacks
        done = await request(app, clock)
        await callbacks.complete(done, CompleteBody(agent_id="mw-1"))
        open_ = await request(app, clock)
        before = {cid: (await callbacks.get(cid)).model_dump() for cid in (done, open_)}
        assert await db["slot_places"].count_documents({"holder": {"$in": [done, open_]}}) == 2
        assert await db["transitions"].count_documents({"callback_id": {"$in": [done, open_]}}) == 3  # scheduled ×2, completed

        # Ten days on: every timer fires or is skipped; the slots have ended.
        clock.now += timedelta(days=10)
        await app.state.scheduler.run_once()
        timers = await db["timers"].find({"callback_id": {"$in": [done, open_]}}).to_list(None)
        assert len(timers) == 4 and {t["state"] for t in timers} == {"done"}

        first = await app.state.housekeeping.run_once()
        # Places and transitions are older than two days; the timers finished just now.
        assert first == {"timers": 0, "slot_places": 2, "transitions": 3, "orphan_places": 0}, first
        assert await db["timers"].count_documents({"callback_id": {"$in": [done, open_]}}) == 4

        clock.now += timedelta(days=2, seconds=1)
        second = await app.state.housekeeping.run_once()
        assert second["timers"] == 4 and second["slot_places"] == 0 and second["transitions"] == 0, second
        assert await app.state.housekeeping.run_once() == {"timers": 0, "slot_places": 0, "transitions": 0, "orphan_places": 0}

        # The call-backs themselves are untouched.
        assert {cid: (await callbacks.get(cid)).model_dump() for cid in (done, open_)} == before


async def test_a_transition_a_crash_left_unapplied_is_applied_before_it_is_deleted(service_env, monkeypatch):
    service_env("callback")
    monkeypatch.setenv("KCC_CALLBACK_SCHEDULER_INTERVAL_S", "3600")
    clock = FakeClock(datetime(2027, 3, 2, 9, 0, tzinfo=AMS))
    app = create_app(CallbackSettings(housekeeping_keep_days=2), clock=clock)
    async with running(app):
        db = app.state.infra.db
        callback_id = await request(app, clock)
        revision = (await db["callbacks"].find_one({"_id": callback_id}))["revision"]
        # The process logged and published a transition, then died before applying it.
        await db["transitions"].insert_one({
            "_id": f"{callback_id}|{revision + 1}", "callback_id": callback_id, "revision": revision + 1,
            "changes": {"assigned_to": {"soort": "medewerker", "id": "mw-7"}}, "events": [], "pending": False,
            "at": clock.now,
        })
        clock.now += timedelta(days=3)
        result = await app.state.housekeeping.run_once()
        assert result["transitions"] == 2, result
        stored = await db["callbacks"].find_one({"_id": callback_id})
        assert stored["revision"] == revision + 1 and stored["assigned_to"]["id"] == "mw-7"


async def test_a_place_a_crash_left_taken_is_given_back(service_env, monkeypatch):
    service_env("callback")
    monkeypatch.setenv("KCC_CALLBACK_SCHEDULER_INTERVAL_S", "3600")
    clock = FakeClock(datetime(2027, 3, 2, 9, 0, tzinfo=AMS))
    app = create_app(CallbackSettings(), clock=clock)
    async with running(app):
        db, repository = app.state.infra.db, app.state.repository
        kept = await request(app, clock)
        held = await db["slot_places"].find_one({"holder": kept})
        # A process took a place of a coming slot for a call-back, then died before saving it.
        lost = unique("cb")
        await db["callbacks"].insert_one({"_id": lost, "callback_id": lost, "department_id": "burgerzaken", "status": "requested", "revision": 0})
        tomorrow = timedelta(days=1)
        orphan = await repository.book_slot(
            department_id="burgerzaken", start=held["start"] + tomorrow, end=held["end"] + tomorrow, capacity=5, holder=lost,
            booked_at=clock.now,
        )
        assert orphan is not None

        clock.now += timedelta(minutes=5)  # a booking this fresh may still be on its way: left alone
        assert (await app.state.housekeeping.run_once())["orphan_places"] == 0
        clock.now += timedelta(minutes=6)
        assert (await app.state.housekeeping.run_once())["orphan_places"] == 1
        assert await db["slot_places"].find_one({"_id": orphan}) is None
        assert await db["slot_places"].find_one({"_id": held["_id"]}) is not None  # the saved booking keeps its place
        assert (await app.state.housekeeping.run_once())["orphan_places"] == 0
