"""Benchmark: what one store operation of the kinds our repositories send costs, and how that
grows with the collection (N documents against 20 × N), next to the store's own bulk insert rate.

    uv run python benchmarks/store_ops.py [--small 1000] [--rounds 50]

Needs a store (`make stack-up`, or KCC_MONGO_URI). Prints medians in ms. A kind whose cost grows
with the collection is one a request or an event must not use on the local store: a conditional
write through `find_one_and_update` on an existing document (SecantusDB 0.7.0b3 runs its
re-checked write filter, `{_id, $and: [query]}`, as a collection scan), where `update_one` with
the same filter stays flat.
"""

import argparse
import os
import statistics
import time
import uuid

from pymongo import MongoClient, ReturnDocument

from kcc_shared.mongo import in_chunks

URI = os.environ.get("KCC_MONGO_URI", "mongodb://127.0.0.1:27017")


def median_ms(run, rounds: int) -> float:
    times = []
    for i in range(rounds):
        started = time.perf_counter()
        run(i)
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


IN_IDS = 1000  # a poll's worth of ids, half of them stored


def ids(i: int, size: int) -> list[int]:
    return [(i * 7919 + n * 104_729) % size for n in range(IN_IDS // 2)] + [size + i * IN_IDS + n for n in range(IN_IDS // 2)]


def measure(client: MongoClient, size: int, rounds: int) -> tuple[dict[str, float], float]:
    db = client[f"bench_store_{uuid.uuid4().hex[:8]}"]
    try:
        items = db["items"]
        items.create_index([("status", 1), ("skill", 1)], name="queue")
        started = time.perf_counter()
        for offset in range(0, size, 5000):
            items.insert_many([{"_id": i, "status": "waiting", "skill": f"s{i % 7}", "n": 0} for i in range(offset, min(size, offset + 5000))])
        bulk_rate = size / (time.perf_counter() - started)
        spread = max(1, size // rounds)
        ops = {
            "find_one by _id": lambda i: items.find_one({"_id": i * spread}),
            "find by indexed fields (limit 20)": lambda i: items.find({"status": "waiting", "skill": "s3"}).limit(20).to_list(None),
            "update_one by _id ($inc)": lambda i: items.update_one({"_id": i * spread}, {"$inc": {"n": 1}}),
            "update_one by _id + condition": lambda i: items.update_one({"_id": i * spread + 1, "status": "waiting"}, {"$set": {"status": "claimed"}}),
            "find_one_and_update by _id + condition": lambda i: items.find_one_and_update(
                {"_id": i * spread + 2, "status": "waiting"}, {"$set": {"status": "claimed"}}, return_document=ReturnDocument.AFTER),
            "upsert new by _id ($inc)": lambda i: items.update_one({"_id": f"new-{i}"}, {"$inc": {"n": 1}}, upsert=True),
            f"find by _id $in, {IN_IDS} ids in one list": lambda i: items.find({"_id": {"$in": ids(i, size)}}).to_list(None),
            f"find by _id $in, {IN_IDS} ids in lists of 50": lambda i: [
                items.find({"_id": {"$in": chunk}}).to_list(None) for chunk in in_chunks(ids(i, size))
            ],
        }
        return {name: median_ms(op, rounds) for name, op in ops.items()}, bulk_rate
    finally:
        client.drop_database(db.name)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--small", type=int, default=1000)
    parser.add_argument("--factor", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=50)
    args = parser.parse_args()
    client = MongoClient(URI, tz_aware=True)
    small, small_bulk = measure(client, args.small, args.rounds)
    large, large_bulk = measure(client, args.small * args.factor, args.rounds)
    print(f"store {client.server_info().get('version')} at {URI.split('@')[-1]}; medians of {args.rounds}, ms per operation")
    print(f"{'operation':42} {args.small:>9,} docs {args.small * args.factor:>9,} docs   ratio")
    for name in small:
        print(f"{name:42} {small[name]:>14.2f} {large[name]:>14.2f} {large[name] / small[name]:>7.1f}")
    print(f"{'bulk insert (store baseline), docs/s':42} {small_bulk:>14,.0f} {large_bulk:>14,.0f}")


if __name__ == "__main__":
    main()
