"""Benchmark: what an idle scheduler round of the callback service costs as finished call-backs pile up.

Every `KCC_CALLBACK_SCHEDULER_INTERVAL_S` the scheduler asks the store for outbox entries left
unpublished and for a due timer (an expired lease, then a due pending timer). Each of those
queries is an index lookup, so its cost should not grow with the call-backs stored. This fills
a fresh database, through the service's own repository's indexes, with finished call-backs
(per call-back: a completed call-back with an empty outbox, 2 fired timers, a place in a slot
that ended, as a scheduled and completed one leaves) and times an idle round (median of
`--rounds`) at each size. On a shared machine the time swings with the store's other clients,
so it also prints what the server examined for the round's queries (explain's executionStats):
the figure that shows whether a query grows with the collection.

    uv run python benchmarks/callback_scheduler.py [--callbacks 1000,3000] [--rounds 7]

Needs the local stack (`make stack-up`); uses `KCC_MONGO_URI` (default mongodb://127.0.0.1:27017).
"""

import argparse
import asyncio
import os
import statistics
import time
import uuid
from datetime import UTC, datetime, timedelta

from pymongo import AsyncMongoClient

from kcc_callback.repository import CallbackRepository, slot_id


def finished(i: int, at: datetime) -> tuple[dict, list[dict], dict]:
    callback_id = f"cb-{i}"
    start = at + timedelta(minutes=15 * i)
    callback = {
        "_id": callback_id, "callback_id": callback_id, "department_id": "burgerzaken", "status": "completed",
        "slot_start": start, "revision": 2, "outbox": [],
    }
    timers = [
        {"_id": f"{callback_id}|{kind}", "callback_id": callback_id, "kind": kind, "booking": 1, "due_at": at,
         "state": "done", "outcome": "skipped", "done_at": datetime.now(UTC), "claims": 1}
        for kind in ("reminder", "overdue")
    ]
    slot = {"_id": slot_id("burgerzaken", start), "department_id": "burgerzaken", "start": start,
            "end": start + timedelta(minutes=15), "taken": 1, "holders": [callback_id]}
    return callback, timers, slot


async def idle_round(repository: CallbackRepository, rounds: int) -> float:
    """Median seconds of the store work in a scheduler round that finds nothing to do."""
    times = []
    for _ in range(rounds):
        now = datetime.now(UTC)
        started = time.perf_counter()
        assert await repository.outboxes_before(queued_before=now) == []
        assert await repository.claim_due_timer(now=now, lease_until=now + timedelta(seconds=30), owner="bench") is None
        times.append(time.perf_counter() - started)
    return statistics.median(times)


async def examined(db, now: datetime) -> tuple[int, int]:
    """Documents and index keys the server examines for an idle round's three queries."""
    queries = [
        {"find": "callbacks", "filter": {"outbox.at": {"$lt": now}}},
        {"find": "timers", "filter": {"state": "claimed", "lease_until": {"$lte": now}}, "sort": {"lease_until": 1}},
        {"find": "timers", "filter": {"state": "pending", "due_at": {"$lte": now}}, "sort": {"due_at": 1}},
    ]
    docs = keys = 0
    for query in queries:
        stats = (await db.command("explain", query, verbosity="executionStats"))["executionStats"]
        docs, keys = docs + stats["totalDocsExamined"], keys + stats["totalKeysExamined"]
    return docs, keys


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--callbacks", default="1000,3000", help="finished call-backs stored at each step, ascending")
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    steps = [int(n) for n in args.callbacks.split(",")]

    client = AsyncMongoClient(os.environ.get("KCC_MONGO_URI", "mongodb://127.0.0.1:27017"), tz_aware=True)
    name = f"bench_callback_{uuid.uuid4().hex[:8]}"
    db = client[name]
    repository = CallbackRepository(db)
    await repository.ensure_indexes()
    long_ago = datetime.now(UTC) - timedelta(days=400)
    print(f"{'finished call-backs':>20} {'idle round':>12} {'docs examined':>14} {'keys examined':>14}")
    stored = 0
    try:
        for target in steps:
            batch = [finished(i, long_ago) for i in range(stored, target)]
            await db["callbacks"].insert_many([b[0] for b in batch])
            await db["timers"].insert_many([t for b in batch for t in b[1]])
            await db["slots"].insert_many([b[2] for b in batch])
            stored = target
            took = await idle_round(repository, args.rounds)
            docs, keys = await examined(db, datetime.now(UTC))
            print(f"{target:>20,} {took * 1000:>10.1f} ms {docs:>14,} {keys:>14,}")
    finally:
        await client.drop_database(name)
        await client.close()


if __name__ == "__main__":
    asyncio.run(main())
