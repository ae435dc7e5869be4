"""What the platform holds after the run: its topics, read from the beginning with a consumer
of no group (nothing is committed), and metrics' daily counts over HTTP; and the settling
probes (consumer lag and intake's outbox, from every replica's `/metrics`)."""

import asyncio
import json
import re
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import httpx
from aiokafka import AIOKafkaConsumer, TopicPartition

from kcc_cli.chaos.ledger import Observed, Routed
from kcc_shared.contracts import CALLBACK_SCHEDULED, CONTACT_RECEIVED, CONTACT_RESOLVED, CONTACT_ROUTED
from kcc_shared.deadletters import DeadLetters

TZ = ZoneInfo("Europe/Amsterdam")


async def read_topic(bootstrap: str, topic: str) -> list[tuple[dict[str, Any], float]]:
    """Every record of a topic as (event, record timestamp in s), from the beginning to its end now."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False)
    await consumer.start()
    try:
        cluster = await consumer._client.fetch_all_metadata()  # the consumer's own view covers only what it subscribed
        partitions = [TopicPartition(topic, p) for p in sorted(cluster.partitions_for_topic(topic) or ())]
        if not partitions:
            return []
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        end = await consumer.end_offsets(partitions)
        records: list[tuple[dict[str, Any], float]] = []
        while [tp for tp in partitions if await consumer.position(tp) < end[tp]]:
            batch = await consumer.getmany(*partitions, timeout_ms=1000)
            for messages in batch.values():
                for message in messages:
                    try:
                        records.append((json.loads(message.value or b"{}"), message.timestamp / 1000))
                    except ValueError:
                        continue
        return records
    finally:
        await consumer.stop()


async def observe(bootstrap: str, *, metrics_url: str, token: str, days: set[str]) -> Observed:
    seen = Observed()
    for event, _ in await read_topic(bootstrap, CONTACT_RECEIVED.name):
        data = event.get("data", {})
        seen.received.setdefault(data["contact_id"], {})[event["id"]] = data["channel"]
        seen.received_day[data["contact_id"]] = datetime.fromisoformat(data["received_at"]).astimezone(TZ).date().isoformat()
    for event, at in await read_topic(bootstrap, CONTACT_ROUTED.name):
        data = event.get("data", {})
        seen.routed.append(Routed(event["id"], data["contact_id"], data["decision"], at))
    for event, _ in await read_topic(bootstrap, CONTACT_RESOLVED.name):
        data = event.get("data", {})
        seen.resolved.setdefault(data["contact_id"], {})[event["id"]] = data["outcome"]
    for event, _ in await read_topic(bootstrap, CALLBACK_SCHEDULED.name):
        data = event.get("data", {})
        if not data.get("rescheduled"):
            seen.bookings.setdefault(data["callback_id"], set()).add(event["id"])
    async with httpx.AsyncClient(base_url=metrics_url, timeout=30, headers={"Authorization": f"Bearer {token}"}) as client:
        for day in sorted(days | set(seen.received_day.values())):
            reply = await client.get("/v1/counts/daily", params={"day": day})
            reply.raise_for_status()
            for channel, n in reply.json().get("received", {}).items():
                seen.metrics_received[(day, channel)] = n
    return seen


async def dead_letters(bootstrap: str) -> list[str]:
    """One line per dead letter: which group gave up on which event, and why."""
    return [
        f"{letter.dead_lettered_at.astimezone(TZ):%H:%M:%S} {letter.group} {letter.original_topic} {letter.event_id} {letter.error[:100]}"
        for letter in await DeadLetters(bootstrap=bootstrap).list()
    ]


_SAMPLE = re.compile(r"^(?P<name>[a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{[^}]*\})?\s+(?P<value>\S+)$")


def sum_samples(text: str, name: str) -> float:
    """The sum of a metric's samples in a Prometheus text exposition."""
    total = 0.0
    for line in text.splitlines():
        match = _SAMPLE.match(line)
        if match and match["name"] == name:
            total += float(match["value"])
    return total


async def backlog(urls: list[str]) -> dict[str, float]:
    """Consumer lag and intake's unpublished events, summed over the replicas that answer."""
    async with httpx.AsyncClient(timeout=10) as client:

        async def scrape(url: str) -> str | None:
            try:
                return (await client.get(f"{url}/metrics")).text
            except httpx.HTTPError:
                return None

        pages = [page for page in await asyncio.gather(*(scrape(url) for url in urls)) if page is not None]
    return {
        "answered": float(len(pages)),
        "lag": sum(sum_samples(page, "kcc_consumer_lag") for page in pages),
        "outbox": sum(sum_samples(page, "kcc_intake_outbox_pending") for page in pages),
    }
