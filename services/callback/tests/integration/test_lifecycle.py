"""The whole call-back life cycle on the real broker and store: a (redelivered) request is
booked once; an employee claims it, attempts fail, it is rescheduled, and it fails after the
last attempt; others are completed, cancelled, or run overdue. Every step is an event."""

import asyncio
import json
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from kcc_callback.app import create_app
from kcc_callback.settings import CallbackSettings
from kcc_shared.contracts import (
    CALLBACK_ASSIGNED, CALLBACK_ATTEMPTED, CALLBACK_CANCELLED, CALLBACK_COMPLETED, CALLBACK_FAILED,
    CALLBACK_OVERDUE, CALLBACK_REMINDER, CALLBACK_REQUESTED, CALLBACK_SCHEDULED, CallbackRequested,
    CallbackRequestedData,
)
from kcc_shared.testing import running, unique

pytestmark = pytest.mark.integration

AMS = ZoneInfo("Europe/Amsterdam")
TOPICS = (
    CALLBACK_SCHEDULED, CALLBACK_ASSIGNED, CALLBACK_ATTEMPTED, CALLBACK_FAILED, CALLBACK_COMPLETED,
    CALLBACK_CANCELLED, CALLBACK_REMINDER, CALLBACK_OVERDUE,
)

PHONE_KEY = "phone:00000000000000000000000000000000"  # the pseudonym routing would send; the registry is not asked here


class FakeClock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


async def poll(fetch, done, *, timeout: float = 15.0):
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        value = await fetch()
        if done(value) or asyncio.get_running_loop().time() > deadline:
            return value
        await asyncio.sleep(0.1)


async def test_full_life_cycle_on_the_real_broker_and_store(service_env, topic_reader, monkeypatch):
    service_env("callback")
    monkeypatch.setenv("KCC_CALLBACK_SCHEDULER_INTERVAL_S", "0.2")
    clock = FakeClock(datetime(2027, 3, 2, 8, 0, tzinfo=AMS))  # a Tuesday
    app = create_app(CallbackSettings(), clock=clock)
    department = unique("dept")  # no entry in the configuration: the default capacity

    def request(callback_id: str) -> CallbackRequested:
        return CallbackRequested.create(
            source="/tests", subject=callback_id,
            data=CallbackRequestedData(
                callback_id=callback_id, contact_id=unique("c"), department_id=department,
                phone_key=PHONE_KEY, reason="Vraag over aanslag", requested_at=clock.now,
            ),
        )

    async with running(app) as client:
        # Opened once the service created its topics (on a fresh broker they do not exist before).
        readers = {spec.name: await topic_reader(spec.name) for spec in TOPICS}
        publish = app.state.infra.publisher.publish

        async def requested(callback_id: str, *deliveries: CallbackRequested) -> dict:
            for event in deliveries or (request(callback_id),):
                await publish(event, topic=CALLBACK_REQUESTED)
            response = await poll(
                lambda: client.get(f"/v1/callbacks/{callback_id}"),
                lambda r: r.status_code == 200 and r.json()["status"] == "scheduled",
            )
            assert response.status_code == 200, response.text
            return response.json()

        # 1. A request, redelivered and re-sent with a new event id, is one booked call-back.
        cb1 = unique("cb")
        first = request(cb1)
        task = await requested(cb1, first, first, CallbackRequested.create(source="/tests", subject=cb1, data=first.data))
        assert (task["gevraagde_handeling"], task["interne_taak_status"], task["at_risk"]) == ("Terugbellen", "te_verwerken", False)
        assert datetime.fromisoformat(task["slot_start"]) == datetime(2027, 3, 2, 8, 0, tzinfo=AMS)
        assert datetime.fromisoformat(task["deadline"]) == datetime(2027, 3, 3, 17, 0, tzinfo=AMS)
        assert "phone" not in task
        await asyncio.sleep(1)  # give the duplicates time to arrive: they must change nothing
        db = app.state.infra.db
        assert await db["callbacks"].count_documents({"callback_id": cb1}) == 1
        assert await db["slots"].count_documents({"holders": cb1}) == 1

        # 2. Bad input is a 4xx with field and reason.
        missing = await client.post("/v1/callbacks/cb-none/claim", json={"employee_id": "mw-7"})
        assert missing.status_code == 404 and missing.json()["detail"][0]["loc"][-1] == "callback_id"
        invalid = await client.post(f"/v1/callbacks/{cb1}/attempts", json={"agent_id": "mw-7", "outcome": "busy"})
        assert invalid.status_code == 422 and invalid.json()["detail"][0]["loc"] == ["body", "outcome"]
        both = await client.post(f"/v1/callbacks/{cb1}/claim", json={"employee_id": "mw-7", "team_id": "t"})
        assert both.status_code == 422 and "exactly one" in both.json()["detail"][0]["msg"]

        # 3. Claim, see it among today's call-backs, attempt, reschedule, fail after the last attempt.
        claimed = (await client.post(f"/v1/callbacks/{cb1}/claim", json={"employee_id": "mw-7"})).json()
        assert {"soort": "medewerker", "id": "mw-7"} in claimed["toegewezen_aan_actoren"]
        today = (await client.get(f"/v1/departments/{department}/callbacks/due-today")).json()
        assert [t["callback_id"] for t in today] == [cb1]
        attempt = lambda outcome: client.post(f"/v1/callbacks/{cb1}/attempts", json={"agent_id": "mw-7", "outcome": outcome})
        assert (await attempt("no_answer")).json()["status"] == "attempted"
        moved = await client.post(
            f"/v1/callbacks/{cb1}/reschedule", json={"agent_id": "mw-7", "not_before": "2027-03-02T14:00:00+01:00"}
        )
        assert moved.status_code == 200, moved.text
        assert datetime.fromisoformat(moved.json()["slot_start"]) == datetime(2027, 3, 2, 14, 0, tzinfo=AMS)
        assert (await attempt("voicemail")).json()["status"] == "attempted"
        failed = (await attempt("no_answer")).json()
        assert (failed["status"], failed["interne_taak_status"], len(failed["attempts"])) == ("failed", "verwerkt", 3)
        assert failed["afgehandeld_op"] is not None
        assert (await attempt("reached")).status_code == 409
        late = await client.post(f"/v1/callbacks/{cb1}/complete", json={"agent_id": "mw-7"})
        assert late.status_code == 409 and late.json()["detail"][0]["loc"][-1] == "status"

        # 4. Another is reached and completed; a third is cancelled; a fourth runs overdue.
        cb2, cb3, cb4 = unique("cb"), unique("cb"), unique("cb")
        for callback_id in (cb2, cb3, cb4):
            await requested(callback_id)
        await client.post(f"/v1/callbacks/{cb2}/claim", json={"team_id": "team-belastingen"})
        await client.post(f"/v1/callbacks/{cb2}/attempts", json={"agent_id": "mw-8", "outcome": "reached"})
        done = (await client.post(f"/v1/callbacks/{cb2}/complete", json={"agent_id": "mw-8"})).json()
        assert (done["status"], done["interne_taak_status"]) == ("completed", "verwerkt")
        cancelled = await client.post(f"/v1/callbacks/{cb3}/cancel", json={"agent_id": "mw-8", "reason": "Zelf teruggebeld"})
        assert cancelled.json()["status"] == "cancelled"
        # cb4's reminder is due now (its slot starts within 15 minutes); let the timer loop send it
        # before the clock jumps past the slot, after which a reminder no longer applies.
        early_reminders = [
            json.loads(r.value) for r in await readers[CALLBACK_REMINDER.name].read(
                count=1, match=lambda r: r.key is not None and r.key.decode() == cb4, timeout=15
            )
        ]
        clock.now = datetime(2027, 3, 3, 17, 1, tzinfo=AMS)  # past every deadline: the loop fires

        # Events per topic; reminders depend on timing, so only a short look for them.
        expected = {"scheduled": 5, "assigned": 2, "attempted": 4, "failed": 1, "completed": 1, "cancelled": 1, "overdue": 1}
        events: dict[str, list[dict]] = {}
        for spec in TOPICS:
            kind = spec.name.split(".")[2]
            records = await readers[spec.name].read(
                count=expected.get(kind, 100), match=lambda r: r.key is not None and r.key.decode() in {cb1, cb2, cb3, cb4},
                timeout=10 if kind in expected else 2,
            )
            events[kind] = [json.loads(r.value) for r in records]
        events["reminder"] += early_reminders
        # Nothing beyond that: no second overdue, no overdue for closed call-backs.
        events["overdue"] += [
            json.loads(r.value) for r in await readers[CALLBACK_OVERDUE.name].read(count=1, timeout=1.5)
            if r.key is not None and r.key.decode() in {cb1, cb2, cb3, cb4}
        ]

    print({kind: len(found) for kind, found in events.items()})

    def of(kind: str, callback_id: str) -> list[dict]:
        """The distinct events (by id, as a consumer sees them) of one kind for one call-back."""
        distinct = {e["id"]: e for e in events[kind]}
        return [e["data"] for e in distinct.values() if e["data"]["callback_id"] == callback_id]

    assert [e["rescheduled"] for e in of("scheduled", cb1)] == [False, True]
    assert [e["assigned_to"] for e in of("assigned", cb1)] == [{"soort": "medewerker", "id": "mw-7"}]
    assert [(e["attempt"], e["outcome"]) for e in of("attempted", cb1)] == [(1, "no_answer"), (2, "voicemail"), (3, "no_answer")]
    assert [(e["reason"], e["escalate_to"]) for e in of("failed", cb1)] == [("max_attempts", "coordinator-kcc")]
    assert [e["within_deadline"] for e in of("completed", cb2)] == [True]
    assert [e["reason"] for e in of("cancelled", cb3)] == ["Zelf teruggebeld"]
    assert [(e["status"], e["escalate_to"]) for e in of("overdue", cb4)] == [("scheduled", "coordinator-kcc")]
    assert {e["data"]["callback_id"] for e in events["overdue"]} == {cb4}, "only the open call-back is overdue"
    assert len(of("reminder", cb4)) == 1
