"""The callback store on the real server: its guards hold under concurrency, and every query
it sends is answered from an index (explain shows no collection scan)."""

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from kcc_callback.privacy import CallbackPrivacy
from kcc_callback.repository import CallbackRepository
from kcc_shared.contracts import CitizenErasureRequestedData
from kcc_shared.testing import unique

pytestmark = pytest.mark.integration

START = datetime(2027, 3, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
async def store(planned_store):
    client, recorder = planned_store
    name = unique("test_callback_atomic").replace("-", "_")
    repository = CallbackRepository(client[name])
    await repository.ensure_indexes()
    yield client, recorder, client[name], repository
    await client.drop_database(name)


def phone_key(callback_id: str) -> str:
    return f"phone:{int(callback_id.split('-')[1]):032x}"


def a_callback(callback_id: str, *, requested_at: datetime) -> dict:
    return {
        "callback_id": callback_id, "contact_id": f"c-{callback_id}", "department_id": "burgerzaken", "status": "requested",
        "requested_at": requested_at, "norm_working_days": 1, "phone_key": phone_key(callback_id), "phone": "+31600000000",
    }


async def test_40_concurrent_bookings_of_one_slot_of_capacity_10_give_10_holders(store):
    _, _, db, repository = store
    booked = await asyncio.gather(*(
        repository.book_slot(department_id="burgerzaken", start=START, end=START + timedelta(minutes=15), capacity=10, holder=f"cb-{i}")
        for i in range(40)
    ))
    slot = await db["slots"].find_one({})
    winners = [f"cb-{i}" for i, slot_id in enumerate(booked) if slot_id is not None]
    print(f"\n40 concurrent bookings, capacity 10: {len(winners)} booked, taken {slot['taken']}, {len(slot['holders'])} holders")
    assert len(winners) == 10 and slot["taken"] == 10 and sorted(slot["holders"]) == sorted(winners)
    # Booked again (a redelivery), a holder keeps its one place; a newcomer finds the slot full.
    assert await repository.book_slot(department_id="burgerzaken", start=START, end=START, capacity=10, holder=winners[0]) == slot["_id"]
    assert await repository.book_slot(department_id="burgerzaken", start=START, end=START, capacity=10, holder="cb-late") is None
    assert (await db["slots"].find_one({}))["taken"] == 10


async def test_50_concurrent_claims_of_one_due_timer_have_one_winner(store):
    _, _, db, repository = store
    await repository.add_timer(timer_id="cb-1|overdue|0", callback_id="cb-1", kind="overdue", booking=0, due_at=START)
    now = START + timedelta(minutes=1)
    claims = await asyncio.gather(*(
        repository.claim_due_timer(now=now, lease_until=now + timedelta(seconds=60), owner=f"scheduler-{i}")
        for i in range(50)
    ))
    winners = [timer["owner"] for timer in claims if timer is not None]
    print(f"\n50 concurrent claims of one due timer: {len(winners)} winner(s)")
    assert len(winners) == 1
    stored = await db["timers"].find_one({"_id": "cb-1|overdue|0"})
    assert (stored["state"], stored["owner"], stored["claims"]) == ("claimed", winners[0], 1)


async def test_every_query_of_the_store_uses_an_index(store):
    client, recorder, db, repository = store
    privacy = CallbackPrivacy(db, retention_months=12, clock=lambda: START)
    # Enough documents that a scan and an index lookup differ.
    for i in range(30):
        await repository.create(a_callback(f"cb-{i}", requested_at=START - timedelta(days=400 if i % 2 else 1)))
        await repository.add_timer(timer_id=f"cb-{i}|overdue|0", callback_id=f"cb-{i}", kind="overdue", booking=0, due_at=START)
    recorder.clear()

    # Booking: the day's full slots, a booking, the slot a holder has, giving it back.
    end = START + timedelta(minutes=15)
    await repository.full_slots(department_id="burgerzaken", start=START, end=START + timedelta(days=1), capacity=4)
    slot_id = await repository.book_slot(department_id="burgerzaken", start=START, end=end, capacity=4, holder="cb-1")
    await repository.held_slot(holder="cb-1")
    await repository.slot_counts(department_id="burgerzaken")
    # A transition with its outbox, the outbox publishers' reads and the pull.
    event = {"id": "ev-1", "topic": "kcc.callback.scheduled.v1", "event": {}, "at": START}
    saved = await repository.save(callback_id="cb-1", revision=0, changes={"status": "scheduled", "slot_id": slot_id, "slot_start": START}, events=[event])
    assert saved is not None and saved["outbox"] == [event]
    assert await repository.save(callback_id="cb-1", revision=0, changes={}, events=[]) is None  # a conflict
    await repository.get("cb-1")
    await repository.outbox_of("cb-1")
    assert [doc["callback_id"] for doc in await repository.outboxes_before(queued_before=START + timedelta(seconds=5))] == ["cb-1"]
    await repository.published(callback_id="cb-1", event_ids=["ev-1"])
    await repository.due_before(department_id="burgerzaken", statuses=("scheduled", "attempted"), before=START + timedelta(days=1))
    await repository.release_slot(slot_id=slot_id, holder="cb-1")
    # Timers: both claims (an expired lease, a due pending one), finishing, a call-back's timers.
    timer = await repository.claim_due_timer(now=START, lease_until=START + timedelta(seconds=60), owner="s1")
    await repository.finish_timer(timer_id=timer["_id"], owner="s1", outcome="emitted", at=START)
    await repository.timers_of("cb-1")
    # Retention and erasure.
    assert (await privacy.purge_expired())["callbacks"] == 15
    await privacy.erase(CitizenErasureRequestedData.model_validate(
        {"erasure_id": "er-1", "contact_ids": ["c-cb-2"], "pseudonyms": [phone_key("cb-3")], "requested_by": "privacy-officer",
         "requested_at": START}
    ))

    plans = await recorder.plans(client)
    assert len(plans) >= 20, [str(p) for p in plans]
    assert [str(plan) for plan in await recorder.collection_scans(client)] == []


async def test_indexes_are_declared_idempotently_and_fired_timers_expire_by_ttl(store):
    _, _, db, repository = store
    await repository.ensure_indexes()  # a restart: the same indexes again, no error
    ttl = {i["name"]: i.get("expireAfterSeconds") async for i in await db["timers"].list_indexes()}
    assert ttl["expire"] == 2 * 86_400
    # The keep period changed in the settings: the next start-up alters the TTL index in place.
    await CallbackRepository(db, expire_after_s=5 * 86_400).ensure_indexes()
    ttl = {i["name"]: i.get("expireAfterSeconds") async for i in await db["timers"].list_indexes()}
    assert ttl["expire"] == 5 * 86_400
