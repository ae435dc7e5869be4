"""Benchmark: what an idle scheduler round of the callback service costs as finished call-backs pile up.

Every `KCC_CALLBACK_SCHEDULER_INTERVAL_S` the scheduler asks the store for a due timer and for
unpublished transitions. On FerretDB those queries read their collection whole, so the cost
grows with every call-back ever handled unless housekeeping deletes what only the past needs.
This fills a fresh database, through the service's own repository, with finished call-backs
(per call-back: 2 fired timers, 3 published transitions, 1 place of an ended slot, as a
scheduled, attempted and completed one leaves), times an idle round (median of `--rounds`) at
each size, then runs housekeeping and times it again.

    uv run python benchmarks/callback_scheduler.py [--callbacks 1000,5000,10000] [--rounds 7]

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

from kcc_callback.repository import CallbackRepository


def finished(i: int, at: datetime) -> tuple[dict, list[dict], list[dict], dict]:
    callback_id = f"cb-{i}"
    callback = {"_id": callback_id, "callback_id": callback_id, "department_id": "burgerzaken", "status": "completed", "revision": 3}
    timers = [
        {"_id": f"{callback_id}|{kind}", "callback_id": callback_id, "kind": kind, "booking": 1, "due_at": at,
         "state": "done", "outcome": "skipped", "done_at": at}
        for kind in ("reminder", "overdue")
    ]
    transitions = [
        {"_id": f"{callback_id}|{r}", "callback_id": callback_id, "revision": r, "changes": {}, "events": [], "pending": False, "at": at}
        for r in (1, 2, 3)
    ]
    place = {"_id": f"burgerzaken|{at.isoformat()}|{i}", "department_id": "burgerzaken", "start": at, "end": at, "holder": callback_id}
    return callback, timers, transitions, place


async def idle_round(repository: CallbackRepository, rounds: int) -> float:
    """Median seconds of the store work in a scheduler round that finds nothing to do."""
    times = []
    for _ in range(rounds):
        now = datetime.now(UTC)
        started = time.perf_counter()
        assert await repository.claim_due_timer(now=now, lease_until=now + timedelta(seconds=30), owner="bench") is None
        assert await repository.pending_events(logged_before=now) == []
        times.append(time.perf_counter() - started)
    return statistics.median(times)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--callbacks", default="1000,5000,10000", help="finished call-backs stored at each step, ascending")
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    steps = [int(n) for n in args.callbacks.split(",")]

    client = AsyncMongoClient(os.environ.get("KCC_MONGO_URI", "mongodb://127.0.0.1:27017"), tz_aware=True)
    name = f"bench_callback_{uuid.uuid4().hex[:8]}"
    db = client[name]
    repository = CallbackRepository(db)
    await repository.ensure_indexes()
    long_ago = datetime.now(UTC) - timedelta(days=30)
    print(f"{'finished call-backs':>20} {'idle round':>12} {'after housekeeping':>20} {'deleted':>8} {'housekeeping took':>18}")
    stored = 0
    try:
        for target in steps:
            batch = [finished(i, long_ago) for i in range(stored, target)]
            await db["callbacks"].insert_many([b[0] for b in batch])
            await db["timers"].insert_many([t for b in batch for t in b[1]])
            await db["transitions"].insert_many([t for b in batch for t in b[2]])
            await db["slot_places"].insert_many([b[3] for b in batch])
            stored = target
            before = await idle_round(repository, args.rounds)
            started = time.perf_counter()
            deleted = await repository.purge_finished(before=datetime.now(UTC) - timedelta(days=2))
            took = time.perf_counter() - started
            after = await idle_round(repository, args.rounds)
            print(f"{target:>20,} {before * 1000:>10.1f} ms {after * 1000:>18.1f} ms {sum(deleted.values()):>8,} {took:>16.1f} s")
            stored = 0  # housekeeping emptied the finished items; the next step refills from zero
            await db["callbacks"].delete_many({})
    finally:
        await client.drop_database(name)
        await client.close()


if __name__ == "__main__":
    asyncio.run(main())
