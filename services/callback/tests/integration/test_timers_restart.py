"""Timers survive a crash: the `overdue` event reaches consumers exactly once (real broker
and store). A crash is simulated by a publisher that raises at the chosen moment; the
scheduler that ran into it is abandoned like a killed process and a fresh one takes over."""

import json
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from kcc_callback.app import create_app
from kcc_callback.scheduler import TimerScheduler
from kcc_callback.settings import CallbackSettings
from kcc_shared.contracts import CALLBACK_OVERDUE, CallbackRequested, CallbackRequestedData
from kcc_shared.inbox import Inbox
from kcc_shared.testing import running, unique

pytestmark = pytest.mark.integration

AMS = ZoneInfo("Europe/Amsterdam")
LEASE_S = 30

PHONE_KEY = "phone:00000000000000000000000000000000"  # the pseudonym routing would send; the registry is not asked here


class SimulatedCrash(BaseException):
    """Stands for the process being killed (not an Exception: nothing may catch it)."""


class CrashingPublisher:
    """The real publisher, except that the overdue event of one call-back crashes the
    process `before` or `after` it reached the broker."""

    def __init__(self, real, *, callback_id: str, moment: str) -> None:
        self.real, self.callback_id, self.moment = real, callback_id, moment

    async def publish(self, event, *, topic):
        target = topic is CALLBACK_OVERDUE and event.data.callback_id == self.callback_id
        if target and self.moment == "before":
            raise SimulatedCrash
        await self.real.publish(event, topic=topic)
        if target and self.moment == "after":
            raise SimulatedCrash


class FakeClock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
async def service(service_env, monkeypatch):
    service_env("callback")
    monkeypatch.setenv("KCC_CALLBACK_SCHEDULER_INTERVAL_S", "3600")  # only our schedulers fire timers
    monkeypatch.setenv("KCC_CALLBACK_TIMER_LEASE_S", str(LEASE_S))
    clock = FakeClock(datetime(2027, 3, 2, 9, 0, tzinfo=AMS))
    settings = CallbackSettings()
    app = create_app(settings, clock=clock)
    async with running(app):
        yield app, settings, clock


def scheduler(app, settings, clock, publisher, owner: str) -> TimerScheduler:
    return TimerScheduler(
        repository=app.state.repository, callbacks=app.state.callbacks, publisher=publisher,
        settings=settings, clock=clock, owner=owner,
    )


async def request_callback(app, clock) -> str:
    callback_id = unique("cb")
    event = CallbackRequested.create(
        source="/tests", subject=callback_id,
        data=CallbackRequestedData(
            callback_id=callback_id, contact_id=unique("c"), department_id=unique("dept"),
            phone_key=PHONE_KEY, requested_at=clock.now,
        ),
    )
    await app.state.callbacks.request(event)
    return callback_id


@pytest.mark.parametrize("moment", ["before", "after"])
async def test_overdue_after_a_crash_is_emitted_exactly_once(service, topic_reader, moment):
    app, settings, clock = service
    reader = await topic_reader(CALLBACK_OVERDUE.name)
    callback_id = await request_callback(app, clock)
    callback = await app.state.callbacks.get(callback_id)
    assert callback.deadline == datetime(2027, 3, 3, 17, 0, tzinfo=AMS)
    real = app.state.infra.publisher

    clock.now = callback.deadline + timedelta(minutes=1)
    crashing = scheduler(app, settings, clock, CrashingPublisher(real, callback_id=callback_id, moment=moment), "killed")
    with pytest.raises(SimulatedCrash):
        await crashing.run_once()
    [timer] = [t for t in await app.state.repository.timers_of(callback_id) if t["kind"] == "overdue"]
    assert (timer["state"], timer["owner"]) == ("claimed", "killed")

    # The restarted service does not fire it while the dead claimant's lease runs...
    restarted = scheduler(app, settings, clock, real, "restarted")
    await restarted.run_once()
    # ...and fires it once the lease ran out: nothing due is missed.
    clock.now += timedelta(seconds=LEASE_S + 1)
    await restarted.run_once()
    [timer] = [t for t in await app.state.repository.timers_of(callback_id) if t["kind"] == "overdue"]
    assert (timer["state"], timer["outcome"], timer["claims"]) == ("done", "emitted", 2)

    # A second restart emits nothing new.
    clock.now += timedelta(hours=1)
    await scheduler(app, settings, clock, real, "restarted-again").run_once()

    records = await reader.read(count=10, match=lambda r: r.key == callback_id.encode(), timeout=4)
    events = [json.loads(r.value) for r in records]
    assert len({e["id"] for e in events}) == 1
    assert len(events) == (1 if moment == "before" else 2)  # "after": the same event id twice
    assert events[0]["data"]["escalate_to"] == "coordinator-kcc"

    # What a consumer does with them: its inbox lets the event take effect once.
    inbox, effects = Inbox(app.state.infra.db["test_inbox"]), []
    for event in events:
        if not await inbox.seen(consumer="coordinator", event_id=event["id"]):
            effects.append(event["id"])
            await inbox.record(consumer="coordinator", event_id=event["id"])
    assert len(effects) == 1
