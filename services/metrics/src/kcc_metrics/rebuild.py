"""`python -m kcc_metrics.rebuild [--database NAME] [--from-database LIVE]`: rebuild the metrics
into a fresh database, from the topics or from the facts another database archived. Facts are
one per event id and the KPIs are computed from facts, so the new database yields exactly the
figures of the live one; after a change of metric definition, rebuild and point the service at
the result (`KCC_METRICS_MONGO_DATABASE`).

The topics keep 30 days. The facts outlive them: each is what a KPI needs of one event, without
names or addresses (a citizen is a keyed pseudonym, re-keyed on erasure), kept in the store, so
`--from-database` recomputes the read model over all the history stored (13 months and more)
without Kafka. The sheets (sheets.py) follow by themselves: a new definition version recomputes
each day from its facts when first asked.

Like the live consumers (batches.py), each poll's facts are collected by the ordinary handlers
and inserted at once, one unordered `insert_many` per kind of fact."""

import argparse
import asyncio
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from pydantic import ValidationError
from pymongo import AsyncMongoClient

from kcc_metrics.batches import FactBatch, store_facts
from kcc_metrics.repository import INDEXES, FactRepository
from kcc_metrics.service import MetricsService
from kcc_metrics.settings import MetricsSettings
from kcc_metrics.subscribers import SUBSCRIPTIONS

TOPICS = tuple(topic for topic, _, _ in SUBSCRIPTIONS)


@dataclass
class Rebuilt:
    database: str
    replayed: int = 0
    skipped: int = 0


async def rebuild(
    *, settings: MetricsSettings, database: str, since: datetime | None = None,
    progress: Callable[[str], None] = lambda _: None,
) -> Rebuilt:
    """Replay every metrics topic into `database`, from the oldest retained event (or the first
    one at or after `since`) to the newest."""
    client: AsyncMongoClient = AsyncMongoClient(settings.mongo.uri.get_secret_value(), tz_aware=True)
    consumer = AIOKafkaConsumer(bootstrap_servers=settings.kafka.bootstrap, enable_auto_commit=False)
    result = Rebuilt(database=database)
    try:
        db = client[database]
        repository = FactRepository(db["facts"], timezone=settings.timezone, norms=settings.norms)
        if await repository.holds_facts():
            raise ValueError(f"database {database} already holds facts: rebuild into a fresh one")
        await repository.ensure_indexes()
        metrics = MetricsService(repository=repository, timezone=settings.timezone, norms=settings.norms)
        # The live consumers' table: a topic the service consumes is a topic the rebuild replays.
        handlers = {topic.name: (method, handles or topic.events) for topic, method, handles in SUBSCRIPTIONS}
        adapters = {spec.name: spec.adapter for spec in TOPICS}
        await consumer.start()
        partitions = await _partitions(settings, [t.name for t in TOPICS])
        consumer.assign(partitions)
        start = await consumer.beginning_offsets(partitions)
        end = await consumer.end_offsets(partitions)
        if since is not None:
            found = await consumer.offsets_for_times({tp: int(since.timestamp() * 1000) for tp in partitions})
            start = {tp: found[tp].offset if found[tp] is not None else end[tp] for tp in partitions}
        for tp in partitions:
            consumer.seek(tp, start[tp])
        remaining = {tp for tp in partitions if end[tp] > start[tp]}
        total = sum(end[tp] - start[tp] for tp in partitions)
        last_report = time.monotonic()
        while remaining:
            batches = await consumer.getmany(*remaining, timeout_ms=1000)
            collected = FactBatch()
            collecting = metrics.with_repository(collected)
            for tp, records in batches.items():
                for record in records:
                    if record.offset >= end[tp]:
                        break
                    try:
                        event = adapters[tp.topic].validate_json(record.value)
                    except ValidationError:
                        result.skipped += 1  # what the live consumer dead-lettered
                        continue
                    method, handles = handlers[tp.topic]
                    if isinstance(event, handles):  # as the live consumer: what it ignores is ignored here too
                        await getattr(collecting, method)(event)
                    result.replayed += 1
            await store_facts(repository, collected.facts)
            for tp in list(remaining):
                if await consumer.position(tp) >= end[tp]:
                    remaining.discard(tp)
            if time.monotonic() - last_report > 2:
                progress(f"{result.replayed + result.skipped}/{total} events replayed")
                last_report = time.monotonic()
        progress(f"{result.replayed + result.skipped}/{total} events replayed")
        return result
    finally:
        await consumer.stop()
        await client.close()


async def rebuild_from_facts(
    *, settings: MetricsSettings, database: str, source: str, batch: int = 2000,
    progress: Callable[[str], None] = lambda _: None,
) -> Rebuilt:
    """Store every fact of `source` into the fresh `database` (in batches, as the consumers do), so
    its read model is computed anew with the current definitions and norms."""
    client: AsyncMongoClient = AsyncMongoClient(settings.mongo.uri.get_secret_value(), tz_aware=True)
    result = Rebuilt(database=database)
    try:
        archive = FactRepository(client[source]["facts"], timezone=settings.timezone, norms=settings.norms)
        repository = FactRepository(client[database]["facts"], timezone=settings.timezone, norms=settings.norms)
        if database == source or await repository.holds_facts():
            raise ValueError(f"database {database} already holds facts: rebuild into a fresh one")
        if not await archive.holds_facts():
            raise ValueError(f"database {source} holds no facts to rebuild from")
        await repository.ensure_indexes()
        total = await archive.count()
        last_report = time.monotonic()
        for kind in INDEXES:
            found: list[dict[str, Any]] = []
            async for fact in archive.of(kind).find({}, batch_size=batch):
                found.append(fact)
                if len(found) >= batch:
                    await repository.store(found)
                    result.replayed, found = result.replayed + len(found), []
                    if time.monotonic() - last_report > 2:
                        progress(f"{result.replayed}/{total} facts stored")
                        last_report = time.monotonic()
            if found:
                await repository.store(found)
                result.replayed += len(found)
        progress(f"{result.replayed}/{total} facts stored")
        return result
    finally:
        await client.close()


async def _partitions(settings: MetricsSettings, topics: list[str]) -> list[TopicPartition]:
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka.bootstrap)
    await admin.start()
    try:
        described = await admin.describe_topics(topics)
    finally:
        await admin.close()
    return [
        TopicPartition(topic["topic"], partition["partition"])
        for topic in described
        if topic.get("error_code", 0) == 0
        for partition in sorted(topic["partitions"], key=lambda p: p["partition"])
    ]


def main(argv: list[str] | None = None) -> int:
    settings = MetricsSettings()
    parser = argparse.ArgumentParser(prog="python -m kcc_metrics.rebuild", description=__doc__)
    parser.add_argument("--database", default=f"{settings.mongo_database}_rebuild_{time.strftime('%Y%m%d%H%M%S')}")
    parser.add_argument("--since", type=datetime.fromisoformat, help="replay only events from this time (ISO 8601)")
    parser.add_argument(
        "--from-database", metavar="LIVE",
        help="rebuild from the facts stored in database LIVE (all history stored) instead of the topics (30 days)",
    )
    args = parser.parse_args(argv)
    say = lambda line: print(line, file=sys.stderr)  # noqa: E731
    if args.from_database and args.since:
        parser.error("--since replays the topics; --from-database takes every stored fact")
    try:
        if args.from_database:
            result = asyncio.run(rebuild_from_facts(settings=settings, database=args.database, source=args.from_database, progress=say))
        else:
            result = asyncio.run(rebuild(settings=settings, database=args.database, since=args.since, progress=say))
    except ValueError as exc:
        print(f"rebuild refused: {exc}", file=sys.stderr)
        return 2
    what = "facts stored" if args.from_database else "events replayed"
    print(f"rebuilt {result.database}: {result.replayed} {what}, {result.skipped} invalid ones skipped")
    print(f"serve it with KCC_METRICS_MONGO_DATABASE={result.database}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
