"""Benchmark: accepted web contacts per second and latency percentiles through intake's HTTP
endpoint (group commit to the store + acks=all on the real broker), next to a bare aiokafka
producer with acks=all on the same broker, round by round in the same run. Prints medians
over the rounds.

    uv run python benchmarks/intake_web.py [--requests 3000] [--concurrency 64] [--rounds 3]

Needs the local stack (`make stack-up`); starts intake as a real process on a free port.

The client is a plain HTTP/1.1 keep-alive client on asyncio streams, one connection per
concurrent caller: on a 2-core machine httpx's own CPU per request competes with the measured
process (with it, intake answered 301 instead of 414 refusals per second). It also prints
intake's CPU time per accepted contact, which depends far less than the rate on what else
the machine runs.
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


def cpu_seconds(pid: int) -> float:
    """User + system CPU time the process has used so far (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


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


class Connection:
    """One keep-alive HTTP/1.1 connection: a POST of JSON, the status and body back."""

    def __init__(self, port: int, token: str) -> None:
        self._port, self._token = port, token
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def post(self, path: str, body: bytes) -> tuple[int, bytes]:
        if self._writer is None:
            self._reader, self._writer = await asyncio.open_connection("127.0.0.1", self._port)
        head = (
            f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            f"Authorization: Bearer {self._token}\r\nContent-Length: {len(body)}\r\n\r\n"
        )
        self._writer.write(head.encode() + body)
        status = int((await self._reader.readline()).split()[1])
        length = 0
        while (line := await self._reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.decode().partition(":")
            if name.lower() == "content-length":
                length = int(value)
        return status, await self._reader.readexactly(length)

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()


async def bench_intake(port: int, n: int, concurrency: int) -> tuple[float, list[float]]:
    token = KEYS.token(["integrator:web"], subject="benchmark")
    idle = [Connection(port, token) for _ in range(concurrency)]

    async def one():
        connection = idle.pop()
        try:
            body = json.dumps({**FORM, "submission_id": str(uuid.uuid4())}).encode()
            status, answer = await connection.post("/v1/channels/web/submissions", body)
        finally:
            idle.append(connection)
        if status != 202:
            raise RuntimeError(f"not accepted: {status} {answer[:300]!r}")
        if not json.loads(answer)["published"]:
            UNACKED.append(1)  # accepted from the outbox: Kafka took longer than accept_wait_s

    try:
        return await drive(n, concurrency, one)
    finally:
        for connection in idle:
            connection.close()


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
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    await ensure_bench_topic()
    port = free_port()
    process = start_intake(port)
    intake_row, bare_row = "intake web (HTTP+group commit+acks=all)", "bare aiokafka send (acks=all)"
    rows: dict[str, list[tuple[float, list[float]]]] = {intake_row: [], bare_row: []}
    load = [os.getloadavg()[0]]
    cpu_ms: list[float] = []  # intake's CPU per contact: what the rate would be on a core of its own
    try:
        for _ in range(args.rounds):
            await bench_intake(port, min(200, args.requests), args.concurrency)  # warm-up, not counted
            before = cpu_seconds(process.pid)
            rows[intake_row].append(await bench_intake(port, args.requests, args.concurrency))
            cpu_ms.append((cpu_seconds(process.pid) - before) * 1000 / args.requests)
            rows[bare_row].append(await bench_bare(args.requests, args.concurrency))
            load.append(os.getloadavg()[0])
    finally:
        process.terminate()
        process.wait(timeout=30)
    print(
        f"{args.requests} requests x {args.rounds} rounds, concurrency {args.concurrency}, broker {BOOTSTRAP}, "
        f"{os.cpu_count()} cores, load average {min(load):.1f} to {max(load):.1f}; medians of the rounds"
    )
    print(f"{'':45} {'per s':>9} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8}   rounds (per s)")
    medians = {}
    for name, results in rows.items():
        rates = [args.requests / seconds for seconds, _ in results]
        rate = statistics.median(rates)
        p = {q: statistics.median(percentile(lat, q) * 1000 for _, lat in results) for q in (0.5, 0.95, 0.99)}
        medians[name] = rate
        each = " ".join(f"{r:.0f}" for r in rates)
        print(f"{name:45} {rate:9.0f} {p[0.5]:8.1f} {p[0.95]:8.1f} {p[0.99]:8.1f}   {each}")
    per_contact = statistics.median(cpu_ms)
    print(
        f"intake process CPU per contact: {per_contact:.2f} ms (rounds: {' '.join(f'{c:.2f}' for c in cpu_ms)}), "
        f"so at most {1000 / per_contact:.0f} contacts/s on one core of its own"
    )
    print(f"intake answers that waited past accept_wait_s for the broker (published later): {len(UNACKED)}")
    intake_rate, bare_rate = medians.values()
    print(f"intake sustains {intake_rate / bare_rate:.2f}x the bare producer's rate")


if __name__ == "__main__":
    asyncio.run(main())
