"""Benchmark: events per second the metrics consumer records (parse, insert one fact keyed by the
event id so a redelivery is a no-op, commit) on the real broker and store, next to a bare
aiokafka consumer reading the same events from the same broker. Prints medians over rounds.

    uv run python benchmarks/metrics_consumer.py [--events 3000] [--rounds 3]

Needs the local stack (`make stack-up`); starts metrics as a real process on a free port, with
its own database and consumer groups. Each round publishes a fresh mix of contact, routing,
resolution and call events (six per contact) with a bare acks=all producer, then times
(a) the service until its consumers report every event handled (kcc_consumer_events_total on
/metrics), from the first send; (b) a bare consumer reading those events from their offsets.
"""

import argparse
import asyncio
import os
import re
import socket
import statistics
import subprocess
import time
import uuid
from datetime import UTC, datetime, timedelta

import httpx

from _service import start_service  # benchmarks/_service.py, beside this script
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from kcc_shared.contracts import (
    CALL_EVENTS,
    CONTACT_RECEIVED,
    CONTACT_RESOLVED,
    CONTACT_ROUTED,
    CallAnswered,
    CallAnsweredData,
    CallEnded,
    CallEndedData,
    CallOffered,
    CallOfferedData,
    Channel,
    ContactReceived,
    ContactReceivedData,
    ContactResolved,
    ContactResolvedData,
    ContactRouted,
    ContactRoutedData,
)

BOOTSTRAP = os.environ.get("KCC_KAFKA_BOOTSTRAP", "127.0.0.1:9092")
TOPICS = (CONTACT_RECEIVED, CONTACT_ROUTED, CONTACT_RESOLVED, CALL_EVENTS)
HANDLED = re.compile(r'^kcc_consumer_events_total\{[^}]*\} ([0-9.e+]+)$', re.M)


def events_for(n: int) -> list[tuple[str, bytes, bytes]]:
    """(topic, key, value) for about n events: a call that became a contact, routed and resolved."""
    out: list[tuple[str, bytes, bytes]] = []
    at = datetime(2026, 11, 24, 9, tzinfo=UTC)
    while len(out) < n:
        contact_id, call_id = str(uuid.uuid4()), str(uuid.uuid4())
        received = ContactReceivedData(contact_id=contact_id, channel=Channel.TELEPHONE, received_at=at, citizen_key=f"bsn:{uuid.uuid4().hex}",
                                       channel_message_id=call_id)
        routed = ContactRoutedData(contact_id=contact_id, channel=Channel.TELEPHONE, decision="answer_in_kcc", reason="bench",
                                   department_id="burgerzaken", upl_uri="http://standaarden.overheid.nl/owms/terms/Paspoort", routed_at=at)
        resolved = ContactResolvedData(contact_id=contact_id, channel=Channel.TELEPHONE, outcome="answered_in_kcc", resolved_at=at + timedelta(minutes=5))
        for topic, event, key in (
            (CONTACT_RECEIVED, ContactReceived.create(source="/bench", data=received), contact_id),
            (CONTACT_ROUTED, ContactRouted.create(source="/bench", data=routed), contact_id),
            (CONTACT_RESOLVED, ContactResolved.create(source="/bench", data=resolved), contact_id),
            (CALL_EVENTS, CallOffered.create(source="/bench", data=CallOfferedData(call_id=call_id, dialled_number="14050", offered_at=at)), call_id),
            (CALL_EVENTS, CallAnswered.create(source="/bench", data=CallAnsweredData(call_id=call_id, agent_id="a1", wait_s=12, answered_at=at)), call_id),
            (CALL_EVENTS, CallEnded.create(source="/bench", data=CallEndedData(call_id=call_id, talk_s=280, ended_at=at + timedelta(minutes=5))), call_id),
        ):
            out.append((topic.name, key.encode(), event.model_dump_json().encode()))
    return out[:n]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_metrics(port: int) -> subprocess.Popen:
    tag = uuid.uuid4().hex[:8]
    env = {
        **os.environ,
        "KCC_METRICS_PORT": str(port),
        "KCC_METRICS_MONGO_DATABASE": f"bench_metrics_{tag}",
        "KCC_METRICS_GROUP_ID": f"bench-metrics-{tag}",
        "KCC_CONSUMER_AUTO_OFFSET_RESET": "latest",  # only what this benchmark publishes
        "KCC_METRICS_REALTIME_REFRESH_S": "60",
        "KCC_LOG_LEVEL": "WARNING",
        "KCC_MONGO_MAX_POOL_SIZE": os.environ.get("KCC_MONGO_MAX_POOL_SIZE", "2"),  # as deploy/local runs it
    }
    return start_service("kcc_metrics", port, env, ready_within_s=90)


async def handled(client: httpx.AsyncClient) -> float:
    return sum(float(v) for v in HANDLED.findall((await client.get("/metrics")).text))


async def offsets(consumer: AIOKafkaConsumer) -> dict[TopicPartition, int]:
    partitions = [TopicPartition(t.name, p) for t in TOPICS for p in range(t.partitions)]
    return await consumer.end_offsets(partitions)


async def publish(producer: AIOKafkaProducer, events: list[tuple[str, bytes, bytes]]) -> None:
    futures = [await producer.send(topic, value, key=key, headers=[("content-type", b"application/cloudevents+json")]) for topic, key, value in events]
    await asyncio.gather(*futures)


async def bench_service(client, producer, events) -> float:
    before = await handled(client)
    started = time.perf_counter()
    await publish(producer, events)
    while await handled(client) < before + len(events):
        await asyncio.sleep(0.05)
    return time.perf_counter() - started


async def bench_bare(start: dict[TopicPartition, int], end: dict[TopicPartition, int]) -> float:
    import json

    consumer = AIOKafkaConsumer(bootstrap_servers=BOOTSTRAP, enable_auto_commit=False)
    await consumer.start()
    try:
        partitions = [tp for tp in end if end[tp] > start[tp]]
        consumer.assign(partitions)
        for tp in partitions:
            consumer.seek(tp, start[tp])
        started, left = time.perf_counter(), sum(end[tp] - start[tp] for tp in partitions)
        while left > 0:
            for tp, records in (await consumer.getmany(timeout_ms=1000)).items():
                for record in records:
                    if record.offset < end[tp]:
                        json.loads(record.value)  # the bare minimum a consumer does with an event
                        left -= 1
        return time.perf_counter() - started
    finally:
        await consumer.stop()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    port = free_port()
    process = start_metrics(port)
    producer = AIOKafkaProducer(bootstrap_servers=BOOTSTRAP, acks="all", enable_idempotence=True, linger_ms=5)
    probe = AIOKafkaConsumer(bootstrap_servers=BOOTSTRAP)
    await producer.start()
    await probe.start()
    rates: dict[str, list[float]] = {"metrics consumer (batch: facts insert_many + commit)": [], "bare aiokafka consumer (json parse)": []}
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:
            await bench_service(client, producer, events_for(60))  # warm-up
            for _ in range(args.rounds):
                events = events_for(args.events)
                start = await offsets(probe)
                rates["metrics consumer (batch: facts insert_many + commit)"].append(args.events / await bench_service(client, producer, events))
                end = await offsets(probe)
                rates["bare aiokafka consumer (json parse)"].append(args.events / await bench_bare(start, end))
    finally:
        await producer.stop()
        await probe.stop()
        process.terminate()
        process.wait(timeout=30)
    print(f"{args.events} events x {args.rounds} rounds (contact received/routed/resolved + call offered/answered/ended), "
          f"broker {BOOTSTRAP}, {os.cpu_count()} cores; medians")
    medians = {}
    for name, values in rates.items():
        medians[name] = statistics.median(values)
        print(f"{name:50} {medians[name]:9.0f} events/s   (rounds: {', '.join(f'{v:.0f}' for v in values)})")
    service, bare = medians.values()
    print(f"the metrics consumer sustains {service / bare:.3f}x the bare consumer's rate ({bare / service:.0f}x slower)")


if __name__ == "__main__":
    asyncio.run(main())
