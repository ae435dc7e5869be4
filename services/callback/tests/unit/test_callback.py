"""The call-back life cycle against an in-memory store and publisher (hand-written fakes)."""

import copy
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from kcc_callback.calendar import WorkingCalendar
from kcc_callback.models import AttemptBody, CancelBody, ClaimBody, CompleteBody, InterneTaak, InvalidTransition, RescheduleBody
from kcc_callback.scheduler import TimerScheduler
from kcc_callback.service import CallbackService, NotFound
from kcc_callback.settings import CallbackSettings, DepartmentCapacity
from kcc_shared.contracts import CallbackRequested, CallbackRequestedData
from kcc_shared.pseudonyms import Pseudonymiser
from kcc_shared.registry import RegistryClient, RegistrySettings

import httpx
from pymongo.errors import AutoReconnect

AMS = ZoneInfo("Europe/Amsterdam")
PHONE = "+31612345678"
PHONE_KEY = Pseudonymiser("test-secret").pseudonym("phone", PHONE)


def fake_registry(values: dict[str, str], asked: list[httpx.Request]) -> RegistryClient:
    """Intake's registry as a hand-written HTTP fake: knows `values`, records what it was asked."""

    def answer(request: httpx.Request) -> httpx.Response:
        asked.append(request)
        pseudonym = request.url.path.rsplit("/", 1)[-1]
        if pseudonym not in values:
            return httpx.Response(404, json={"detail": "unknown"})
        return httpx.Response(200, json={"pseudonym": pseudonym, "kind": "phone", "value": values[pseudonym]})

    return RegistryClient(RegistrySettings(token="callback-token"), transport=httpx.MockTransport(answer))


class FakeRepository:
    """The repository's contract in memory: call-backs with their outbox, slot holders, timers."""

    def __init__(self) -> None:
        self.callbacks, self.holders, self.timers = {}, {}, {}

    @property
    def slots(self):
        return {key: len(holders) for key, holders in self.holders.items()}

    async def create(self, callback):
        if callback["callback_id"] in self.callbacks:
            return False
        self.callbacks[callback["callback_id"]] = {**copy.deepcopy(callback), "revision": 0, "outbox": []}
        return True

    async def get(self, callback_id):
        doc = self.callbacks.get(callback_id)
        return {k: copy.deepcopy(v) for k, v in doc.items() if k != "outbox"} if doc else None

    async def get_phone(self, callback_id):
        doc = self.callbacks.get(callback_id)
        return {"phone": doc.get("phone"), "phone_key": doc.get("phone_key")} if doc else None

    async def set_phone(self, callback_id, phone):
        self.callbacks[callback_id]["phone"] = phone

    async def save(self, *, callback_id, revision, changes, events):
        doc = self.callbacks[callback_id]
        if doc["revision"] != revision:
            return None
        doc.update(copy.deepcopy(changes), revision=revision + 1)
        doc["outbox"] += copy.deepcopy(events)
        return copy.deepcopy(doc)

    async def outbox_of(self, callback_id):
        return copy.deepcopy(self.callbacks.get(callback_id, {}).get("outbox", []))

    async def outboxes_before(self, *, queued_before, limit=100):
        return [
            {"callback_id": cid, "outbox": copy.deepcopy(doc["outbox"])}
            for cid, doc in self.callbacks.items() if any(e["at"] < queued_before for e in doc["outbox"])
        ][:limit]

    async def published(self, *, callback_id, event_ids):
        doc = self.callbacks[callback_id]
        doc["outbox"] = [e for e in doc["outbox"] if e["id"] not in event_ids]

    async def due_before(self, *, department_id, statuses, before):
        found = [d for d in self.callbacks.values() if d["department_id"] == department_id and d["status"] in statuses and d.get("slot_start") and d["slot_start"] < before]
        return [await self.get(d["callback_id"]) for d in sorted(found, key=lambda d: d["slot_start"])]

    async def full_slots(self, *, department_id, start, end, capacity):
        return {s for (d, s), n in self.slots.items() if d == department_id and start <= s < end and n >= capacity}

    async def book_slot(self, *, department_id, start, end, capacity, holder):
        holders = self.holders.setdefault((department_id, start), [])
        if holder not in holders and len(holders) < capacity:
            holders.append(holder)
        return f"{department_id}|{start.isoformat()}" if holder in holders else None

    async def held_slot(self, *, holder):
        for (department_id, start), holders in self.holders.items():
            if holder in holders:
                return {"_id": f"{department_id}|{start.isoformat()}", "start": start, "end": start + timedelta(minutes=15)}
        return None

    async def release_slot(self, *, slot_id, holder):
        for (department_id, start), holders in self.holders.items():
            if f"{department_id}|{start.isoformat()}" == slot_id and holder in holders:
                holders.remove(holder)
                return True
        return False

    async def add_timer(self, *, timer_id, callback_id, kind, booking, due_at):
        self.timers.setdefault(timer_id, {"_id": timer_id, "callback_id": callback_id, "kind": kind, "booking": booking, "due_at": due_at, "state": "pending"})

    async def claim_due_timer(self, *, now, lease_until, owner):
        due = sorted((t for t in self.timers.values() if (t["state"] == "pending" and t["due_at"] <= now) or (t["state"] == "claimed" and t["lease_until"] <= now)), key=lambda t: t["due_at"])
        if not due:
            return None
        due[0].update(state="claimed", owner=owner, lease_until=lease_until)
        return dict(due[0])

    async def finish_timer(self, *, timer_id, owner, outcome, at):
        timer = self.timers[timer_id]
        if timer["owner"] == owner:
            timer.update(state="done", outcome=outcome)
            return True
        return False


class FakePublisher:
    def __init__(self) -> None:
        self.events = []

    async def publish(self, event, *, topic):
        self.events.append((topic.name, event))

    def types(self):
        return [event.type.rsplit(".", 1)[1] for _, event in self.events]


class FakeClock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def build(now: datetime, registry: RegistryClient | None = None, repository: FakeRepository | None = None):
    settings = CallbackSettings(
        departments={
            "kcc": DepartmentCapacity(coordinator="co-kcc"),
            "sozawe": DepartmentCapacity(opens=time(9), closes=time(12), slot_minutes=30, per_slot=1, max_attempts=2, coordinator="co-sozawe"),
        }
    )
    repository, publisher, clock = repository or FakeRepository(), FakePublisher(), FakeClock(now)
    service = CallbackService(
        repository=repository, publisher=publisher, settings=settings, calendar=WorkingCalendar(), clock=clock,
        registry=registry,
    )
    scheduler = TimerScheduler(repository=repository, callbacks=service, publisher=publisher, settings=settings, clock=clock)
    return service, scheduler, repository, publisher, clock


def request(callback_id="cb-1", requested_at=datetime(2026, 11, 24, 8, 0, tzinfo=AMS)):
    data = CallbackRequestedData(
        callback_id=callback_id, contact_id="c-1", department_id="sozawe", phone_key=PHONE_KEY,
        reason="Vraag over bijstand", requested_at=requested_at,
    )
    return CallbackRequested.create(source="/tests", data=data)


async def test_a_request_is_booked_once_and_its_phone_stays_in_the_store():
    asked: list[httpx.Request] = []
    service, _, repository, publisher, _ = build(datetime(2026, 11, 24, 7, 0, tzinfo=UTC), registry=fake_registry({PHONE_KEY: PHONE}, asked))
    event = request()
    await service.request(event)
    await service.request(event)  # redelivered
    assert len(repository.callbacks) == 1 and sum(repository.slots.values()) == 1
    # The number came from intake's registry, asked once with this service's token.
    assert repository.callbacks["cb-1"]["phone"] == PHONE and repository.callbacks["cb-1"]["phone_key"] == PHONE_KEY
    assert [r.headers["authorization"] for r in asked] == ["Bearer callback-token"]
    assert await service.phone("cb-1") == PHONE
    assert publisher.types() == ["scheduled"]
    task = InterneTaak.of(await service.get("cb-1"))
    assert (task.status, task.interne_taak_status, task.gevraagde_handeling) == ("scheduled", "te_verwerken", "Terugbellen")
    assert task.slot_start == datetime(2026, 11, 24, 9, 0, tzinfo=AMS)
    assert task.deadline == datetime(2026, 11, 25, 12, 0, tzinfo=AMS)
    assert "phone" not in task.model_dump()


async def test_a_number_the_registry_cannot_give_yet_is_asked_again_when_an_agent_needs_it():
    asked: list[httpx.Request] = []
    known: dict[str, str] = {}  # the registry does not know the number when the request arrives
    service, _, repository, publisher, _ = build(datetime(2026, 11, 24, 7, 0, tzinfo=UTC), registry=fake_registry(known, asked))
    await service.request(request())
    assert repository.callbacks["cb-1"]["phone"] is None and publisher.types() == ["scheduled"]
    assert await service.phone("cb-1") is None
    known[PHONE_KEY] = PHONE
    assert await service.phone("cb-1") == PHONE
    assert repository.callbacks["cb-1"]["phone"] == PHONE and len(asked) == 3
    with pytest.raises(NotFound):
        await service.phone("cb-unknown")


async def test_an_attempt_note_stays_in_the_store_and_out_of_the_event():
    service, _, repository, publisher, _ = build(datetime(2026, 11, 24, 7, 0, tzinfo=UTC))
    await service.request(request())
    await service.attempt("cb-1", AttemptBody(agent_id="mw-1", outcome="no_answer", note="Mevrouw belt terug op 06-11112222"))
    attempted = publisher.events[-1][1]
    assert attempted.type == "nl.contactstad.callback.attempted" and "note" not in attempted.data.model_dump()
    assert repository.callbacks["cb-1"]["attempts"][0]["note"] == "Mevrouw belt terug op 06-11112222"


async def test_two_failed_attempts_fail_the_callback_and_escalate_to_the_coordinator():
    service, _, _, publisher, _ = build(datetime(2026, 11, 24, 7, 0, tzinfo=UTC))
    await service.request(request())
    await service.claim("cb-1", ClaimBody(employee_id="mw-1"))
    await service.attempt("cb-1", AttemptBody(agent_id="mw-1", outcome="no_answer"))
    failed = await service.attempt("cb-1", AttemptBody(agent_id="mw-1", outcome="voicemail"))
    assert failed.status == "failed" and len(failed.attempts) == 2
    assert publisher.types() == ["scheduled", "assigned", "attempted", "attempted", "failed"]
    assert publisher.events[-1][1].data.escalate_to == "co-sozawe"
    task = InterneTaak.of(failed)
    assert task.interne_taak_status == "verwerkt" and task.afgehandeld_op is not None
    assert [a.id for a in task.toegewezen_aan_actoren] == ["sozawe", "mw-1"]
    with pytest.raises(InvalidTransition):
        await service.complete("cb-1", CompleteBody(agent_id="mw-1"))


async def test_reschedule_moves_the_slot_and_frees_the_old_place():
    service, _, repository, publisher, _ = build(datetime(2026, 11, 24, 7, 0, tzinfo=UTC))
    await service.request(request())
    later = datetime(2026, 11, 25, 10, 0, tzinfo=AMS)
    moved = await service.reschedule("cb-1", RescheduleBody(agent_id="mw-1", not_before=later))
    assert moved.slot_start == later and moved.booking == 2 and not moved.at_risk
    assert repository.slots[("sozawe", datetime(2026, 11, 24, 9, 0, tzinfo=AMS))] == 0
    assert publisher.events[-1][1].data.rescheduled is True
    done = await service.complete("cb-1", CompleteBody(agent_id="mw-1"))
    assert done.status == "completed"
    assert publisher.events[-1][1].data.within_deadline is True


async def test_timers_remind_before_the_slot_and_report_overdue_once():
    service, scheduler, _, publisher, clock = build(datetime(2026, 11, 24, 7, 0, tzinfo=UTC))
    await service.request(request())
    clock.now = datetime(2026, 11, 24, 8, 50, tzinfo=AMS)  # 10 minutes before the 09:00 slot
    assert await scheduler.run_once() == 1
    assert publisher.types()[-1] == "reminder"
    clock.now = datetime(2026, 11, 25, 12, 0, tzinfo=AMS)  # the deadline
    assert await scheduler.run_once() == 1
    assert await scheduler.run_once() == 0
    overdue = publisher.events[-1][1]
    assert (overdue.type, overdue.data.escalate_to, overdue.data.status) == ("nl.contactstad.callback.overdue", "co-sozawe", "scheduled")


async def test_completed_callbacks_are_not_overdue_and_unknown_ids_are_not_found():
    service, scheduler, _, publisher, clock = build(datetime(2026, 11, 24, 7, 0, tzinfo=UTC))
    await service.request(request())
    await service.cancel("cb-1", CancelBody(agent_id="mw-1", reason="Burger is al geholpen"))
    clock.now += timedelta(days=3)
    assert await scheduler.run_once() == 0
    assert publisher.types() == ["scheduled", "cancelled"]
    with pytest.raises(NotFound):
        await service.claim("cb-unknown", ClaimBody(team_id="team-a"))


class StoreDownAfterPublish(FakeRepository):
    """The store stops answering once the events are out, before they are pulled from the outbox."""

    async def published(self, *, callback_id, event_ids):
        raise AutoReconnect("store went away")


async def test_a_completion_the_store_saved_answers_completed_even_if_pulling_its_outbox_fails():
    service, _, repository, publisher, _ = build(datetime(2026, 11, 24, 7, 0, tzinfo=UTC), repository=StoreDownAfterPublish())
    await service.request(request())
    await service.attempt("cb-1", AttemptBody(agent_id="mw-1", outcome="reached"))
    done = await service.complete("cb-1", CompleteBody(agent_id="mw-1"))  # no 503 for a completion that happened
    assert done.status == "completed" and publisher.types()[-1] == "completed"
    assert [e["id"] for e in repository.callbacks["cb-1"]["outbox"]][-1] == publisher.events[-1][1].id  # published again later
    with pytest.raises(InvalidTransition):
        await service.complete("cb-1", CompleteBody(agent_id="mw-1"))


async def test_a_reminder_due_at_once_is_sent_even_if_the_scheduler_runs_while_the_booking_is_saved():
    class SchedulerRunsDuringSave(FakeRepository):
        scheduler = None

        async def save(self, **kwargs):
            if self.scheduler is not None:
                await self.scheduler.run_once()  # a scheduler round between booking the slot and saving it
            return await super().save(**kwargs)

    now = datetime(2026, 11, 24, 8, 50, tzinfo=AMS)  # sozawe's first slot, 09:00, is within the 15 reminder minutes
    service, scheduler, repository, publisher, _ = build(now, repository=SchedulerRunsDuringSave())
    repository.scheduler = scheduler
    await service.request(request(requested_at=now))
    await scheduler.run_once()
    assert publisher.types() == ["scheduled", "reminder"]
