"""Benchmark: does one day's `GET /v1/service-norms` (no channel) cost the day asked, or the history stored?

Publishes working days of a city of ~150,000 (the traffic of benchmarks/report.py: 650 calls,
150 e-mails, 250 web forms, 120 counter visits, 20 letters, 15 social messages, 30 call-backs a
day) to the real broker in steps, so that 1, 5 and 10 days are stored, starts the metrics service
as a real process on a fresh database, and after each step times the report for the FIRST day
only. Prints medians over `--rounds`.

    uv run python benchmarks/service_norms.py [--stored 1,5,10] [--rounds 3]

Needs the local stack (`make stack-up`).
"""

import argparse
import asyncio
import os
import random
import statistics
import sys
import time
from datetime import date, timedelta
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).parent))
from _service import dev_auth  # noqa: E402
from report import PER_DAY, free_port, offered, publish, start_metrics, traffic  # noqa: E402

RECEIVED_PER_DAY = sum(PER_DAY[k] for k in ("calls", "email", "web", "counter", "letter", "social"))


def received(base: str, first: date, last: date) -> int:
    body = httpx.get(f"{base}/v1/channel-mix", params={"from": first.isoformat(), "to": last.isoformat()}, headers=dev_auth()[1], timeout=300).json()
    return body["total"]["total"]


def wait_counted(base: str, first: date, last: date, days: int) -> None:
    """Until metrics holds every call and every receipt of the stored days, then a little for stragglers."""
    while offered(base, first, last) < PER_DAY["calls"] * days or received(base, first, last) < RECEIVED_PER_DAY * days:
        time.sleep(2)
    time.sleep(5)  # the other topics' last partitions (resolutions, call-backs) settle


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stored", default="1,5,10", help="days stored at each measurement, ascending")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    steps = [int(n) for n in args.stored.split(",")]
    rng = random.Random(14050)
    year = rng.randint(1971, 2019)
    first = date(year, 10, 1) + timedelta(days=(0 - date(year, 10, 1).weekday()) % 7)  # a Monday early in October
    per_day = [traffic(first + timedelta(days=d), 1, rng) for d in range(steps[-1])]  # ids are unique per call

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    process = start_metrics(port)
    results = []
    try:
        stored = 0
        for step in steps:
            batch = [e for d in range(stored, step) for e in per_day[d]]
            asyncio.run(publish(batch))
            stored = step
            wait_counted(base, first, first + timedelta(days=stored - 1), stored)
            times = []
            for _ in range(args.rounds):
                t0 = time.perf_counter()
                response = httpx.get(f"{base}/v1/service-norms", params={"from": first.isoformat(), "to": first.isoformat()}, headers=dev_auth()[1], timeout=600)
                response.raise_for_status()
                times.append(time.perf_counter() - t0)
            results.append((stored, times))
            print(f"  {stored:2} day(s) stored: one day's GET /v1/service-norms {statistics.median(times):6.2f} s"
                  f"   (rounds: {', '.join(f'{t:.2f}' for t in times)})", flush=True)
    finally:
        process.terminate()
        process.wait(timeout=120)
    print(f"{RECEIVED_PER_DAY} contacts a day from {first}, {args.rounds} rounds, {os.cpu_count()} cores (shared); medians")


if __name__ == "__main__":
    main()
