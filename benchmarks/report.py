"""Benchmark: how long `kcc report` takes against the real metrics service at a city's volume.

Publishes `--days` working days of traffic for a city of ~150,000 (650 calls, 150 e-mails, 250
web forms, 120 counter visits, 20 letters, 15 social messages and 30 call-backs a day) for a
past week to the real broker, starts the metrics service as a real process on a fresh database,
waits until it has counted everything, then runs the real CLI (`python -m kcc_cli report`) for
one day and for the whole period. Prints medians over several rounds.

    uv run python benchmarks/report.py [--days 5] [--rounds 3]

Needs the local stack (`make stack-up`).
"""

import argparse
import asyncio
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx

from _service import dev_auth, start_service  # benchmarks/_service.py, beside this script
from aiokafka import AIOKafkaProducer

from kcc_shared.contracts import (
    CALL_EVENTS, CALLBACK_COMPLETED, CALLBACK_SCHEDULED, CONTACT_RECEIVED, CONTACT_RESOLVED, COUNTER_EVENTS, CONTENT_TYPE,
    CallAbandoned, CallAbandonedData, CallAnswered, CallAnsweredData, CallbackCompleted, CallbackCompletedData,
    CallbackScheduled, CallbackScheduledData, CallEnded, CallEndedData, CallOffered, CallOfferedData, Channel,
    ContactReceived, ContactReceivedData, ContactResolved, ContactResolvedData, CounterVisit, CounterVisitData,
)

BOOTSTRAP = os.environ.get("KCC_KAFKA_BOOTSTRAP", "127.0.0.1:9092")
AMS = ZoneInfo("Europe/Amsterdam")
PER_DAY = {"calls": 650, "email": 150, "web": 250, "counter": 120, "letter": 20, "social": 15, "callbacks": 30}


def traffic(first: date, days: int, rng: random.Random) -> list[tuple[object, object]]:
    events: list[tuple[object, object]] = []
    tag = uuid.uuid4().hex[:8]

    def received(contact_id: str, channel: Channel, at: datetime, answer: datetime | None) -> None:
        events.append((ContactReceived.create(source="/bench", data=ContactReceivedData(contact_id=contact_id, channel=channel, received_at=at)), CONTACT_RECEIVED))
        if answer:
            outcome = "answered_in_kcc" if rng.random() < 0.8 else "forwarded"
            events.append((ContactResolved.create(source="/bench", data=ContactResolvedData(contact_id=contact_id, channel=channel, outcome=outcome, resolved_at=answer)), CONTACT_RESOLVED))

    for d in range(days):
        day = first + timedelta(days=d)
        opening = datetime(day.year, day.month, day.day, 8, 30, tzinfo=AMS)

        def moment() -> datetime:
            return opening + timedelta(seconds=rng.uniform(0, 8 * 3600))

        for n in range(PER_DAY["calls"]):
            call_id, at = f"{tag}-c{d}-{n}", moment()
            wait = rng.expovariate(1 / 18)
            events.append((CallOffered.create(source="/bench", data=CallOfferedData(call_id=call_id, dialled_number="14050", offered_at=at)), CALL_EVENTS))
            received(f"{call_id}-contact", Channel.TELEPHONE, at, at + timedelta(minutes=5))
            if rng.random() < 0.05:
                events.append((CallAbandoned.create(source="/bench", data=CallAbandonedData(call_id=call_id, wait_s=wait, abandoned_at=at + timedelta(seconds=wait))), CALL_EVENTS))
                continue
            answered = at + timedelta(seconds=wait)
            talk = rng.gauss(300, 60)
            events.append((CallAnswered.create(source="/bench", data=CallAnsweredData(call_id=call_id, agent_id="a", wait_s=wait, answered_at=answered)), CALL_EVENTS))
            events.append((CallEnded.create(source="/bench", data=CallEndedData(call_id=call_id, talk_s=max(talk, 30), hold_s=0, wrap_up_s=30, ended_at=answered + timedelta(seconds=max(talk, 30)))), CALL_EVENTS))
        for channel, key, within in ((Channel.EMAIL, "email", timedelta(days=1)), (Channel.WEB, "web", timedelta(days=1)),
                                     (Channel.LETTER, "letter", timedelta(days=20)), (Channel.SOCIAL, "social", timedelta(hours=6))):
            for n in range(PER_DAY[key]):
                at = moment()
                received(f"{tag}-{key}{d}-{n}", channel, at, at + within * rng.uniform(0.1, 1.3) if rng.random() < 0.95 else None)
        for n in range(PER_DAY["counter"]):
            ticket, at = f"{tag}-t{d}-{n}", moment()
            events.append((CounterVisit.create(source="/bench", data=CounterVisitData(ticket_id=ticket, location="stadhuis", stage="drawn", at=at, contact_id=f"{ticket}-contact")), COUNTER_EVENTS))
            events.append((CounterVisit.create(source="/bench", data=CounterVisitData(ticket_id=ticket, location="stadhuis", stage="called", at=at + timedelta(minutes=rng.expovariate(1 / 8)))), COUNTER_EVENTS))
            received(f"{ticket}-contact", Channel.COUNTER, at, at + timedelta(minutes=20))
        for n in range(PER_DAY["callbacks"]):
            callback_id, at = f"{tag}-cb{d}-{n}", moment()
            deadline = at + timedelta(days=1)
            events.append((CallbackScheduled.create(source="/bench", time=at, data=CallbackScheduledData(
                callback_id=callback_id, contact_id=callback_id, department_id="belastingen", slot_start=at, slot_end=at, deadline=deadline)), CALLBACK_SCHEDULED))
            done = at + timedelta(hours=rng.uniform(1, 30))
            events.append((CallbackCompleted.create(source="/bench", time=done, data=CallbackCompletedData(
                callback_id=callback_id, contact_id=callback_id, department_id="belastingen", completed_at=done, completed_by="a",
                deadline=deadline, within_deadline=done <= deadline, attempts=1)), CALLBACK_COMPLETED))
    return events


async def publish(events: list[tuple[object, object]]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=BOOTSTRAP, acks="all", enable_idempotence=True, linger_ms=5)
    await producer.start()
    try:
        futures = []
        for event, topic in events:
            key = getattr(event.data, topic.key) if topic.key else event.subject
            futures.append(await producer.send(
                topic.name, event.model_dump_json().encode(), key=key.encode() if key else None,
                headers=[("content-type", CONTENT_TYPE.encode()), ("ce_type", event.type.encode()), ("ce_id", event.id.encode())],
            ))
        await asyncio.gather(*futures)
    finally:
        await producer.stop()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_metrics(port: int) -> subprocess.Popen:
    env = {
        **os.environ,
        "KCC_METRICS_PORT": str(port),
        "KCC_METRICS_MONGO_DATABASE": f"bench_report_{uuid.uuid4().hex[:8]}",
        "KCC_METRICS_GROUP_ID": f"bench-report-{uuid.uuid4().hex[:8]}",
        "KCC_CONSUMER_AUTO_OFFSET_RESET": "latest",
        "KCC_LOG_LEVEL": "WARNING",
        "KCC_MONGO_MAX_POOL_SIZE": os.environ.get("KCC_MONGO_MAX_POOL_SIZE", "2"),
        **dev_auth()[0],
    }
    return start_service("kcc_metrics", port, env, ready_within_s=120)


def offered(base: str, first: date, last: date) -> float:
    body = httpx.get(f"{base}/v1/service-norms", params={"from": first.isoformat(), "to": last.isoformat(), "channel": "telephone"}, headers=dev_auth()[1], timeout=120).json()
    return next(k["value"] for k in body["kpis"] if k["name"] == "offered") or 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    rng = random.Random(14050)
    year = rng.randint(1971, 2019)
    first = date(year, 10, 1) + timedelta(days=(0 - date(year, 10, 1).weekday()) % 7)  # a Monday in October
    last = first + timedelta(days=args.days - 1)
    events = traffic(first, args.days, rng)

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    process = start_metrics(port)
    try:
        started = time.perf_counter()
        asyncio.run(publish(events))
        published = time.perf_counter() - started
        expected = PER_DAY["calls"] * args.days
        while offered(base, first, last) < expected:
            time.sleep(2)
        time.sleep(5)  # the last partitions' stragglers (other topics) settle
        counted = time.perf_counter() - started
        print(f"{len(events)} events for {args.days} working days from {first} published in {published:.1f} s, counted by metrics after {counted:.1f} s", flush=True)
        print(f"kcc report, {args.rounds} rounds, {os.cpu_count()} cores; medians", flush=True)
        with tempfile.TemporaryDirectory() as tmp:
            for label, period_last in (("1 day", first), (f"{args.days} days (per day)", last)):
                times, size, said = [], 0, ""
                for _ in range(args.rounds):
                    out = Path(tmp) / "report.html"
                    t0 = time.perf_counter()
                    said = subprocess.run(
                        [sys.executable, "-m", "kcc_cli", "report", "--from", first.isoformat(), "--to", period_last.isoformat(),
                         "--metrics-url", base, "--out", str(out)],
                        check=True, capture_output=True, text=True, env={**os.environ, "KCC_TOKEN_OPS": dev_auth()[1]["Authorization"][7:]},
                    ).stdout
                    times.append(time.perf_counter() - t0)
                    size = out.stat().st_size
                answers = said.split(" from ")[-1].split(" answers")[0]
                print(f"  {label:24} {statistics.median(times):7.1f} s   {answers} requests   {size // 1024} KiB", flush=True)
            t0 = time.perf_counter()
            offered(base, first, last)
            print(f"  one GET /v1/service-norms?channel=telephone over {args.days} days: {time.perf_counter() - t0:.2f} s", flush=True)
    finally:
        process.terminate()
        process.wait(timeout=120)


if __name__ == "__main__":
    main()
