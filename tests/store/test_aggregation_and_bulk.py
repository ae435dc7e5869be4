"""The aggregation stages and operators our repositories use, bulk writes, and update pipelines."""

from datetime import UTC, datetime

import pytest
from pymongo import ReplaceOne, UpdateOne
from pymongo.asynchronous.database import AsyncDatabase

pytestmark = pytest.mark.integration


async def test_match_group_sum_cond_min_max_sort(db: AsyncDatabase) -> None:
    """Counting facts per value of a field on a day, and conditional sums (metrics)."""
    await db.facts.insert_many([
        {"day": "2026-12-07", "channel": ("telephone", "email", "web")[i % 3], "wait_s": i, "answered": i % 4 != 0}
        for i in range(30)
    ] + [{"day": "2026-12-08", "channel": "telephone", "wait_s": 99, "answered": True}])
    rows = await (await db.facts.aggregate([
        {"$match": {"day": "2026-12-07"}},
        {"$group": {
            "_id": "$channel",
            "n": {"$sum": 1},
            "answered": {"$sum": {"$cond": ["$answered", 1, 0]}},
            "within_20": {"$sum": {"$cond": [{"$lte": ["$wait_s", 20]}, 1, 0]}},
            "shortest": {"$min": "$wait_s"},
            "longest": {"$max": "$wait_s"},
        }},
        {"$sort": {"_id": 1}},
    ])).to_list(None)
    assert rows == [
        # e-mail: i = 1, 4, … 28, of which 4, 16, 28 unanswered; telephone: 0, 3, … 27 (0, 12, 24
        # unanswered); web: 2, 5, … 29 (8, 20 unanswered). Waits of at most 20: seven of each.
        {"_id": "email", "n": 10, "answered": 7, "within_20": 7, "shortest": 1, "longest": 28},
        {"_id": "telephone", "n": 10, "answered": 7, "within_20": 7, "shortest": 0, "longest": 27},
        {"_id": "web", "n": 10, "answered": 8, "within_20": 7, "shortest": 2, "longest": 29},
    ]


async def test_unordered_bulk_upserts_with_set_inc_max_min_and_replace(db: AsyncDatabase) -> None:
    """One bulk write per poll: counters, latest values, live documents replaced whole."""
    at = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
    await db.counters.bulk_write([
        UpdateOne({"_id": "i1"}, {"$inc": {"offered": 1, "wait_s": 12.5}, "$max": {"last": at}, "$min": {"first": at},
                                  "$setOnInsert": {"channel": "telephone"}}, upsert=True),
        UpdateOne({"_id": "i1"}, {"$inc": {"offered": 1, "wait_s": 7.5}}, upsert=True),
        ReplaceOne({"_id": "live"}, {"_id": "live", "waiting": 3}, upsert=True),
        ReplaceOne({"_id": "live"}, {"_id": "live", "waiting": 2}, upsert=True),
    ], ordered=False)
    assert await db.counters.find_one({"_id": "i1"}) == {
        "_id": "i1", "offered": 2, "wait_s": 20.0, "last": at, "first": at, "channel": "telephone"}
    assert await db.counters.find_one({"_id": "live"}) == {"_id": "live", "waiting": 2}


async def test_an_update_pipeline_adds_a_holder_only_while_there_is_room(db: AsyncDatabase) -> None:
    """A call-back slot booked with an update pipeline ($cond, $in, $size, $concatArrays, $ifNull)."""

    def book(holder: str, capacity: int = 2) -> list[dict]:
        holders = {"$ifNull": ["$holders", []]}
        room = {"$and": [{"$lt": [{"$size": holders}, capacity]}, {"$not": [{"$in": [holder, holders]}]}]}
        return [{"$set": {"holders": {"$cond": [room, {"$concatArrays": [holders, [holder]]}, holders]}}},
                {"$set": {"taken": {"$size": "$holders"}}}]

    for holder in ("a", "a", "b", "c"):
        await db.slots.update_one({"_id": "slot"}, book(holder), upsert=True)
    assert await db.slots.find_one({"_id": "slot"}) == {"_id": "slot", "holders": ["a", "b"], "taken": 2}
