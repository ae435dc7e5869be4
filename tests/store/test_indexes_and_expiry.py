"""Indexes the planner uses, and TTL indexes that expire: retention is "N days after a date"."""

import asyncio
import os
import time
from datetime import UTC, datetime, timedelta

import pytest
from pymongo import ASCENDING, DESCENDING, AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from kcc_shared.queryplans import PlanRecorder

pytestmark = pytest.mark.integration

# MongoDB's TTL monitor runs every 60 s (and so does the local store's); a deleted document is
# seen within one round plus the time the round takes.
TTL_WAIT_S = float(os.environ.get("KCC_STORE_TTL_WAIT_S", "100"))


async def test_equality_prefix_range_and_sort_use_a_compound_index(db: AsyncDatabase, client: AsyncMongoClient, recorder: PlanRecorder) -> None:
    """The shapes our repositories send: equality on the leading fields, one range or sort after them."""
    await db.items.insert_many([{"dept": f"d{i % 5}", "status": "open" if i % 2 else "done", "due": i} for i in range(500)])
    await db.items.create_index([("dept", ASCENDING), ("status", ASCENDING), ("due", ASCENDING)], name="due")
    recorder.clear()
    await db.items.find_one({"dept": "d1", "status": "open"})
    await db.items.find({"dept": "d1", "status": "open", "due": {"$lt": 100}}).to_list(None)
    await db.items.find({"dept": "d2", "status": "open"}).sort("due", ASCENDING).limit(3).to_list(None)
    await db.items.update_many({"dept": "d3", "status": "done", "due": {"$lt": 50}}, {"$set": {"archived": True}})
    await db.items.delete_many({"dept": "d4", "status": "done", "due": {"$lt": 20}})
    plans = await recorder.plans(client)
    assert len(plans) == 5
    assert [str(p) for p in plans if p.scans] == []
    assert all("IXSCAN" in p.stages for p in plans)


async def test_an_unindexed_filter_is_reported_as_a_collection_scan(db: AsyncDatabase, client: AsyncMongoClient, recorder: PlanRecorder) -> None:
    """The index checks can fail: a filter on a field no index holds shows COLLSCAN."""
    await db.items.insert_many([{"a": i, "b": i % 7} for i in range(100)])
    await db.items.create_index("a")
    recorder.clear()
    await db.items.find_one({"b": 3})
    plans = await recorder.plans(client)
    assert [p.scans for p in plans] == [True]


async def test_a_unique_compound_index_rejects_a_second_document_with_the_same_key(db: AsyncDatabase) -> None:
    from pymongo.errors import DuplicateKeyError

    await db.items.create_index([("contact_id", ASCENDING), ("kind", ASCENDING)], unique=True)
    await db.items.insert_one({"contact_id": "c", "kind": "resolved"})
    await db.items.insert_one({"contact_id": "c", "kind": "routed"})
    with pytest.raises(DuplicateKeyError):
        await db.items.insert_one({"contact_id": "c", "kind": "resolved"})


async def test_declaring_indexes_twice_is_harmless(db: AsyncDatabase) -> None:
    """Every replica declares its repository's indexes at start-up."""
    for _ in range(2):
        await db.items.create_index([("a", ASCENDING), ("b", DESCENDING)], name="ab")
        await db.items.create_index("expires_at", name="ttl", expireAfterSeconds=0)
    names = {index["name"] async for index in await db.items.list_indexes()}
    assert names == {"_id_", "ab", "ttl"}


async def test_a_ttl_index_deletes_documents_once_their_date_is_past(db: AsyncDatabase) -> None:
    """Retention by TTL: expired documents go by themselves, later ones and ones without the date stay."""
    await db.items.create_index("purge_at", name="retention", expireAfterSeconds=0)
    now = datetime.now(UTC)
    await db.items.insert_many([
        {"_id": "expired", "purge_at": now - timedelta(days=1)},
        {"_id": "also-expired", "purge_at": now - timedelta(seconds=1)},
        {"_id": "kept", "purge_at": now + timedelta(days=30)},
        {"_id": "no-date"},
    ])
    started = time.monotonic()
    while await db.items.count_documents({"_id": {"$in": ["expired", "also-expired"]}}) and time.monotonic() - started < TTL_WAIT_S:
        await asyncio.sleep(1)
    remaining = sorted([doc["_id"] async for doc in db.items.find({}, {"_id": 1})])
    assert remaining == ["kept", "no-date"], f"after {time.monotonic() - started:.0f} s"
