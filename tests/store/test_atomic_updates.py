"""Atomic single-document updates under concurrency: what claims, bookings, counters and inboxes rest on.

Each test fires its callers at once on one document and counts what the store kept. A server
that reads, then writes without re-checking the filter (FerretDB 1.x) lets several callers
"win" and loses increments; MongoDB never does.
"""

import asyncio

import pytest
from pymongo import ReturnDocument
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

pytestmark = pytest.mark.integration

CALLERS = 50


async def at_once(n: int, call) -> list:
    """Run `call(i)` for i in 0..n-1 concurrently, all released together."""
    gate = asyncio.Event()

    async def one(i: int):
        await gate.wait()
        return await call(i)

    tasks = [asyncio.create_task(one(i)) for i in range(n)]
    await asyncio.sleep(0)
    gate.set()
    return await asyncio.gather(*tasks, return_exceptions=True)


async def test_a_conditional_find_one_and_update_has_exactly_one_winner(db: AsyncDatabase) -> None:
    """A claim: 50 agents take one waiting item; one gets it, 49 get nothing."""
    await db.work.insert_one({"_id": "c1", "status": "waiting"})
    results = await at_once(CALLERS, lambda i: db.work.find_one_and_update(
        {"_id": "c1", "status": "waiting"}, {"$set": {"status": "claimed", "by": i}}, return_document=ReturnDocument.AFTER))
    winners = [r for r in results if r is not None]
    assert not [r for r in results if isinstance(r, Exception)]
    assert len(winners) == 1
    assert (await db.work.find_one({"_id": "c1"}))["by"] == winners[0]["by"]


async def test_a_conditional_update_one_has_exactly_one_winner(db: AsyncDatabase) -> None:
    """The same claim as `update_one`: exactly one caller sees modified_count 1."""
    await db.work.insert_one({"_id": "c1", "status": "waiting"})
    results = await at_once(CALLERS, lambda i: db.work.update_one(
        {"_id": "c1", "status": "waiting"}, {"$set": {"status": "claimed", "by": i}}))
    assert sum(r.modified_count for r in results) == 1


async def test_concurrent_inc_loses_nothing(db: AsyncDatabase) -> None:
    await db.counters.insert_one({"_id": "n", "value": 0})
    await at_once(CALLERS, lambda i: db.counters.update_one({"_id": "n"}, {"$inc": {"value": 1}}))
    assert (await db.counters.find_one({"_id": "n"}))["value"] == CALLERS


async def test_concurrent_upserts_with_inc_lose_nothing(db: AsyncDatabase) -> None:
    """Counters that do not exist yet: 50 upserts create one document that counts 50."""
    results = await at_once(CALLERS, lambda i: db.counters.update_one({"_id": "new"}, {"$inc": {"value": 1}}, upsert=True))
    errors = [r for r in results if isinstance(r, Exception)]
    assert errors == [], errors[:1]
    assert await db.counters.count_documents({}) == 1
    assert (await db.counters.find_one({"_id": "new"}))["value"] == CALLERS


async def test_bulk_upserts_with_inc_from_concurrent_batches_lose_nothing(db: AsyncDatabase) -> None:
    """Read models: 10 batches at once, each one unordered bulk of upserts with $inc on 20 keys."""
    from pymongo import UpdateOne

    batches, keys = 10, 20
    await at_once(batches, lambda i: db.counts.bulk_write(
        [UpdateOne({"_id": f"k{k}"}, {"$inc": {"n": 1, "sum": k}}, upsert=True) for k in range(keys)], ordered=False))
    docs = {doc["_id"]: doc async for doc in db.counts.find({"_id": {"$in": [f"k{k}" for k in range(keys)]}})}
    assert len(docs) == keys
    assert all(docs[f"k{k}"]["n"] == batches and docs[f"k{k}"]["sum"] == batches * k for k in range(keys))


@pytest.mark.parametrize("how", ["find_one_and_update", "update_one"])
async def test_a_capacity_guard_never_overbooks(db: AsyncDatabase, how: str) -> None:
    """A call-back slot with 10 places: 40 concurrent bookings, exactly 10 succeed and the counter says 10."""
    capacity = 10
    await db.slots.insert_one({"_id": "slot", "taken": 0, "holders": []})
    guard = {"_id": "slot", "taken": {"$lt": capacity}}

    async def book(i: int) -> bool:
        update = {"$inc": {"taken": 1}, "$push": {"holders": f"cb{i}"}}
        if how == "find_one_and_update":
            return await db.slots.find_one_and_update({**guard, "holders": {"$ne": f"cb{i}"}}, update) is not None
        return (await db.slots.update_one({**guard, "holders": {"$ne": f"cb{i}"}}, update)).modified_count == 1

    booked = await at_once(40, book)
    slot = await db.slots.find_one({"_id": "slot"})
    assert sum(1 for b in booked if b is True) == capacity
    assert slot["taken"] == capacity
    assert len(slot["holders"]) == capacity == len(set(slot["holders"]))


async def test_a_unique_index_holds_under_concurrent_inserts(db: AsyncDatabase) -> None:
    """An inbox of event ids (and any natural key): 50 inserts of one key, one lands."""
    await db.inbox.create_index("event_id", unique=True)
    results = await at_once(CALLERS, lambda i: db.inbox.insert_one({"event_id": "e-1", "by": i}))
    assert sum(1 for r in results if isinstance(r, DuplicateKeyError)) == CALLERS - 1
    assert not [r for r in results if isinstance(r, Exception) and not isinstance(r, DuplicateKeyError)]
    assert await db.inbox.count_documents({"event_id": "e-1"}) == 1


async def test_a_lease_taken_over_only_after_it_ran_out(db: AsyncDatabase) -> None:
    """A run-once job or a timer: a live lease keeps everyone out; an expired one lets exactly one in."""
    from datetime import UTC, datetime, timedelta

    now = datetime.now(UTC)
    await db.leases.insert_one({"_id": "job", "owner": "a", "until": now + timedelta(seconds=30)})
    live = await at_once(20, lambda i: db.leases.update_one(
        {"_id": "job", "until": {"$lt": now}}, {"$set": {"owner": f"r{i}", "until": now + timedelta(seconds=30)}}))
    assert sum(r.modified_count for r in live) == 0
    await db.leases.update_one({"_id": "job"}, {"$set": {"until": now - timedelta(seconds=1)}})
    expired = await at_once(20, lambda i: db.leases.update_one(
        {"_id": "job", "until": {"$lt": now}}, {"$set": {"owner": f"r{i}", "until": now + timedelta(seconds=30)}}))
    assert sum(r.modified_count for r in expired) == 1


async def test_a_delete_by_filter_removes_what_matches_and_nothing_else(db: AsyncDatabase) -> None:
    await db.items.insert_many([{"_id": i, "key": "erase" if i % 3 == 0 else "keep"} for i in range(300)])
    deleted = await db.items.delete_many({"key": "erase"})
    assert deleted.deleted_count == 100
    assert await db.items.count_documents({}) == 200
    assert await db.items.count_documents({"key": "erase"}) == 0
