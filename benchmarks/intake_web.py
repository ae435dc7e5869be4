"""Benchmark: accepted web contacts per second and latency percentiles through intake's HTTP
endpoint (outbox + acks=all on the real broker and store), next to a bare aiokafka producer
with acks=all on the same broker. Prints medians over several rounds.

    uv run python benchmarks/intake_web.py [--requests 2000] [--concurrency 32] [--rounds 3]

Needs the local stack (`make stack-up`); starts intake as a real process on a free port.
"""

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

import httpx

from _service import start_service  # benchmarks/_service.py, beside this script
from aiokafka import AIOKafkaProducer

from kcc_shared.devauth import DevKeys

BOOTSTRAP = os.environ.get("KCC_KAFKA_BOOTSTRAP", "127.0.0.1:9092")
UNACKED: list[int] = []
# Development keys of our own: the benchmark's intake trusts them, its client sends a token.
KEYS, KEY_DIR = DevKeys.generate(), Path(tempfile.mkdtemp(prefix="kcc-bench-auth-"))
KEYS.save(KEY_DIR)
FORM = {
    "form_id": "contactformulier",
    "subject": "Paspoort verlopen",
    "message": "Goedemorgen, mijn paspoort is vorige maand verlopen en ik ga in januari op vakantie. Hoe snel kan ik een nieuw paspoort krijgen?",
    "email": "j.devries@example.nl",
}


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def drive(n: int, concurrency: int, one) -> tuple[float, list[float]]:
    """Run `one()` n times with `concurrency` in flight; (seconds, per-call latencies)."""
    latencies: list[float] = []
    queue = iter(range(n))

    async def worker():
        for _ in queue:
            started = time.perf_counter()
            await one()
            latencies.append(time.perf_counter() - started)

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return time.perf_counter() - started, latencies


async def bench_intake(base: str, n: int, concurrency: int) -> tuple[float, list[float]]:
    headers = {"Authorization": f"Bearer {KEYS.token(['integrator:web'], subject='benchmark')}"}
    async with httpx.AsyncClient(
        base_url=base, timeout=30, limits=httpx.Limits(max_connections=concurrency), headers=headers
    ) as client:
        async def one():
            response = await client.post("/v1/channels/web/submissions", json={**FORM, "submission_id": str(uuid.uuid4())})
            if response.status_code != 202:
                raise RuntimeError(f"not accepted: {response.status_code} {response.text}")
            if not response.json()["published"]:
                UNACKED.append(1)  # accepted from the outbox: Kafka took longer than accept_wait_s

        await drive(min(200, n), concurrency, one)  # warm-up
        return await drive(n, concurrency, one)


async def bench_bare(n: int, concurrency: int) -> tuple[float, list[float]]:
    payload = json.dumps({"data": {**FORM, "contact_id": str(uuid.uuid4())}}).encode()
    producer = AIOKafkaProducer(bootstrap_servers=BOOTSTRAP, acks="all", enable_idempotence=True)
    await producer.start()
    try:
        async def one():
            await (await producer.send("kcc.benchmark.bare.v1", payload, key=uuid.uuid4().bytes))

        await drive(min(200, n), concurrency, one)
        return await drive(n, concurrency, one)
    finally:
        await producer.stop()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_intake(port: int) -> subprocess.Popen:
    env = {
        **os.environ,
        "KCC_INTAKE_PORT": str(port),
        "KCC_INTAKE_SMTP__PORT": "0",
        "KCC_INTAKE_MONGO_DATABASE": f"bench_intake_{uuid.uuid4().hex[:8]}",
        "KCC_LOG_LEVEL": "WARNING",
        **KEYS.env(KEY_DIR),
        # One client sends everything: the per-client rate limit would measure itself.
        "KCC_INTAKE_RATE_LIMIT__ENABLED": "false",
        # Two store connections, as the tests run it (make up runs 4); the variable overrides.
        "KCC_MONGO_MAX_POOL_SIZE": os.environ.get("KCC_MONGO_MAX_POOL_SIZE", "2"),
    }
    return start_service("kcc_intake", port, env, ready_within_s=60)


async def ensure_bench_topic() -> None:
    from aiokafka.admin import AIOKafkaAdminClient, NewTopic

    admin = AIOKafkaAdminClient(bootstrap_servers=BOOTSTRAP)
    await admin.start()
    try:
        if "kcc.benchmark.bare.v1" not in await admin.list_topics():
            await admin.create_topics([NewTopic("kcc.benchmark.bare.v1", 12, 1)])
    finally:
        await admin.close()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    await ensure_bench_topic()
    port = free_port()
    process = start_intake(port)
    rows: dict[str, list[tuple[float, list[float]]]] = {"intake web (HTTP+store+outbox+acks=all)": [], "bare aiokafka send (acks=all)": []}
    try:
        for _ in range(args.rounds):
            rows["intake web (HTTP+store+outbox+acks=all)"].append(await bench_intake(f"http://127.0.0.1:{port}", args.requests, args.concurrency))
            rows["bare aiokafka send (acks=all)"].append(await bench_bare(args.requests, args.concurrency))
    finally:
        process.terminate()
        process.wait(timeout=30)
    print(f"{args.requests} requests x {args.rounds} rounds, concurrency {args.concurrency}, broker {BOOTSTRAP}, {os.cpu_count()} cores; medians")
    print(f"{'':45} {'per s':>9} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8}")
    medians = {}
    for name, results in rows.items():
        rate = statistics.median(args.requests / seconds for seconds, _ in results)
        p = {q: statistics.median(percentile(lat, q) * 1000 for _, lat in results) for q in (0.5, 0.95, 0.99)}
        medians[name] = rate
        print(f"{name:45} {rate:9.0f} {p[0.5]:8.1f} {p[0.95]:8.1f} {p[0.99]:8.1f}")
    print(f"intake answers that waited past accept_wait_s for the broker (published later): {len(UNACKED)}")
    intake_rate, bare_rate = medians.values()
    print(f"intake sustains {intake_rate / bare_rate:.2f}x the bare producer's rate")


if __name__ == "__main__":
    asyncio.run(main())
