"""Dead letters for operators: list them with their reason, replay them after a fix.

`kcc.deadletter.v1` holds what a consumer group could not process (kcc_shared.consumer): the
original bytes, key and headers plus `kcc-dlq-*` headers. A dead letter's id is its place on
that topic, `<partition>-<offset>`. Replaying publishes the original bytes, key and headers
(without the `kcc-dlq-*` ones) to the original topic, with `kcc-replay-of` (the dead letter),
`kcc-replay-group` (only that group processes it again; the topic's other groups ignore it)
and `kcc-replay-at`. The event keeps its id, so a group that did process it after all skips it
as a duplicate. Each replay leaves a receipt on `kcc.deadletter.replayed.v1`; a dead letter with
a receipt is refused unless forced. Two replays racing each other, or a crash between the
publish and the receipt, can publish the event twice: harmless, the inbox de-duplicates.
"""

from __future__ import annotations  # `DeadLetters.list` shadows the builtin in annotations

import asyncio
import json
import re
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition

from kcc_shared.consumer import DLQ_HEADER_PREFIX, REPLAY_GROUP_HEADER, REPLAY_HEADER_PREFIX
from kcc_shared.contracts import DEAD_LETTER, DEAD_LETTER_REPLAYS

REPLAY_OF_HEADER = f"{REPLAY_HEADER_PREFIX}of"
REPLAY_AT_HEADER = f"{REPLAY_HEADER_PREFIX}at"
DEAD_LETTER_ID = re.compile(r"^(\d+)-(\d+)$")


class DeadLetterNotFound(LookupError):
    pass


class AlreadyReplayed(RuntimeError):
    def __init__(self, dead_letter: "DeadLetter") -> None:
        last = dead_letter.replays[-1]
        super().__init__(
            f"dead letter {dead_letter.id} was already replayed at {last.replayed_at.isoformat()} by {last.replayed_by} "
            f"(to {last.topic} partition {last.partition} offset {last.offset}); force to replay it again"
        )
        self.dead_letter = dead_letter


@dataclass(frozen=True)
class Replay:
    """A receipt: one dead letter published again to its original topic."""

    dead_letter_id: str
    event_id: str | None
    group: str | None
    topic: str
    partition: int
    offset: int
    replayed_at: datetime
    replayed_by: str

    def as_json(self) -> dict[str, Any]:
        return {**asdict(self), "replayed_at": self.replayed_at.isoformat()}


@dataclass(frozen=True)
class DeadLetter:
    id: str
    partition: int
    offset: int
    dead_lettered_at: datetime
    group: str | None
    original_topic: str | None
    original_partition: int | None
    original_offset: int | None
    error: str
    attempts: int | None
    event_id: str | None
    event_type: str | None
    replay_of: str | None  # set when this dead letter is a replay that failed again
    key: bytes | None
    value: bytes
    headers: dict[str, str]
    replays: list[Replay] = field(default_factory=list)

    @property
    def replayed(self) -> bool:
        return bool(self.replays)

    def summary(self) -> dict[str, Any]:
        """What lists show (no payload: it may hold personal data)."""
        return {
            "id": self.id,
            "dead_lettered_at": self.dead_lettered_at.isoformat(),
            "group": self.group,
            "original_topic": self.original_topic,
            "original_partition": self.original_partition,
            "original_offset": self.original_offset,
            "error": self.error,
            "attempts": self.attempts,
            "event_id": self.event_id,
            "event_type": self.event_type,
            "replay_of": self.replay_of,
            "replayed": self.replayed,
            "replays": [r.as_json() for r in self.replays],
        }

    def details(self, *, payload: bool = False) -> dict[str, Any]:
        found = {**self.summary(), "key": self.key.decode(errors="replace") if self.key else None, "headers": self.headers}
        if payload:
            found["payload"] = self.value.decode(errors="replace")
        return found


def parse_id(dead_letter_id: str) -> tuple[int, int]:
    match = DEAD_LETTER_ID.match(dead_letter_id)
    if not match:
        raise DeadLetterNotFound(f"{dead_letter_id!r} is not a dead letter id (<partition>-<offset>)")
    return int(match.group(1)), int(match.group(2))


class DeadLetters:
    """Reads and replays the dead-letter topic of the broker at `bootstrap`."""

    def __init__(self, *, bootstrap: str, client_id: str = "kcc-dlq", request_timeout_ms: int = 10_000) -> None:
        self._bootstrap, self._client_id, self._timeout_ms = bootstrap, client_id, request_timeout_ms

    async def list(
        self, *, group: str | None = None, topic: str | None = None, event_id: str | None = None, pending_only: bool = False
    ) -> list[DeadLetter]:
        """Dead letters, oldest first, filtered by consumer group, original topic, event id."""
        replays = await self._replays()
        found = []
        for record in await self._read_all(DEAD_LETTER.name):
            letter = _dead_letter(record, replays)
            if group and letter.group != group or topic and letter.original_topic != topic:
                continue
            if event_id and letter.event_id != event_id or pending_only and letter.replayed:
                continue
            found.append(letter)
        return found

    async def get(self, dead_letter_id: str) -> DeadLetter:
        partition, offset = parse_id(dead_letter_id)
        record = await self._read_one(DEAD_LETTER.name, partition, offset)
        if record is None:
            raise DeadLetterNotFound(f"no dead letter {dead_letter_id} on {DEAD_LETTER.name}")
        return _dead_letter(record, await self._replays())

    async def replay(self, dead_letter_id: str, *, replayed_by: str, force: bool = False) -> Replay:
        """Publish one dead letter to its original topic; refused when replayed before, unless `force`."""
        letter = await self.get(dead_letter_id)
        if letter.replayed and not force:
            raise AlreadyReplayed(letter)
        [receipt] = await self._publish([letter], replayed_by=replayed_by)
        return receipt

    async def replay_all(
        self, *, replayed_by: str, group: str | None = None, topic: str | None = None, event_id: str | None = None,
        force: bool = False,
    ) -> list[Replay]:
        """Replay every matching dead letter, oldest first; those replayed before only if `force`."""
        letters = await self.list(group=group, topic=topic, event_id=event_id, pending_only=not force)
        return await self.replay_many(letters, replayed_by=replayed_by)

    async def replay_many(self, letters: list[DeadLetter], *, replayed_by: str) -> list[Replay]:
        """Replay these dead letters (as listed), in order, without looking for receipts again."""
        return await self._publish(letters, replayed_by=replayed_by) if letters else []

    # --- Kafka -----------------------------------------------------------------------------

    async def _publish(self, letters: list[DeadLetter], *, replayed_by: str) -> list[Replay]:
        for letter in letters:
            if not letter.original_topic:
                raise ValueError(f"dead letter {letter.id} does not say its original topic")
        producer = AIOKafkaProducer(
            bootstrap_servers=self._bootstrap, client_id=self._client_id, acks="all", enable_idempotence=True,
            request_timeout_ms=self._timeout_ms,
        )
        receipts = []
        try:
            await producer.start()
            for letter in letters:
                now = datetime.now(UTC)
                headers = {
                    k: v for k, v in letter.headers.items()
                    if not k.startswith(DLQ_HEADER_PREFIX) and not k.startswith(REPLAY_HEADER_PREFIX)
                }
                headers |= {REPLAY_OF_HEADER: letter.id, REPLAY_AT_HEADER: now.isoformat()}
                if letter.group:
                    headers[REPLAY_GROUP_HEADER] = letter.group
                # By key, as the original was; a keyless record goes back to its own partition.
                partition = letter.original_partition if letter.key is None else None
                sent = await producer.send_and_wait(
                    letter.original_topic, letter.value, key=letter.key, partition=partition,
                    headers=[(k, v.encode()) for k, v in headers.items()],
                )
                receipt = Replay(
                    dead_letter_id=letter.id, event_id=letter.event_id, group=letter.group, topic=sent.topic,
                    partition=sent.partition, offset=sent.offset, replayed_at=now, replayed_by=replayed_by,
                )
                await producer.send_and_wait(
                    DEAD_LETTER_REPLAYS.name, json.dumps(receipt.as_json()).encode(), key=letter.id.encode()
                )
                receipts.append(receipt)
        finally:
            await producer.stop()
        return receipts

    def _consumer(self) -> AIOKafkaConsumer:
        return AIOKafkaConsumer(
            bootstrap_servers=self._bootstrap, client_id=self._client_id, enable_auto_commit=False,
            auto_offset_reset="earliest", request_timeout_ms=self._timeout_ms,
        )

    async def _read_all(self, topic: str) -> list[ConsumerRecord]:
        """Every record on `topic` up to its end at the time of the call."""
        consumer = self._consumer()
        try:
            await consumer.start()
            partitions = await _partitions(consumer, topic)
            if not partitions:
                return []
            assignment = [TopicPartition(topic, p) for p in partitions]
            consumer.assign(assignment)
            ends = await consumer.end_offsets(assignment)
            # An explicit seek: seek_to_beginning() resets lazily and was seen to race with the
            # reset that assign() starts, leaving the position at the end.
            for tp, begin in (await consumer.beginning_offsets(assignment)).items():
                consumer.seek(tp, begin)
            records: list[ConsumerRecord] = []
            remaining = {tp for tp in assignment if ends[tp] > 0}
            while remaining:
                for tp in list(remaining):
                    if await consumer.position(tp) >= ends[tp]:
                        remaining.discard(tp)
                if not remaining:
                    break
                batches = await consumer.getmany(*remaining, timeout_ms=500)
                for tp, batch in batches.items():
                    records.extend(r for r in batch if r.offset < ends[tp])
            return sorted(records, key=lambda r: (r.timestamp, r.partition, r.offset))
        finally:
            await consumer.stop()

    async def _read_one(self, topic: str, partition: int, offset: int) -> ConsumerRecord | None:
        consumer = self._consumer()
        try:
            await consumer.start()
            if partition not in await _partitions(consumer, topic):
                return None
            tp = TopicPartition(topic, partition)
            consumer.assign([tp])
            end = (await consumer.end_offsets([tp]))[tp]
            begin = (await consumer.beginning_offsets([tp]))[tp]
            if not begin <= offset < end:
                return None
            consumer.seek(tp, offset)
            while True:
                batch = (await consumer.getmany(tp, timeout_ms=1000, max_records=1)).get(tp, [])
                for record in batch:
                    return record if record.offset == offset else None  # a compacted gap: not there
                if await consumer.position(tp) >= end:
                    return None
        finally:
            await consumer.stop()

    async def _replays(self) -> dict[str, list[Replay]]:
        receipts: dict[str, list[Replay]] = {}
        for record in await self._read_all(DEAD_LETTER_REPLAYS.name):
            try:
                body = json.loads(record.value)
                replay = Replay(**{**body, "replayed_at": datetime.fromisoformat(body["replayed_at"])})
            except (ValueError, TypeError, KeyError):
                continue  # not a receipt of ours
            receipts.setdefault(replay.dead_letter_id, []).append(replay)
        return receipts


async def _partitions(consumer: AIOKafkaConsumer, topic: str) -> set[int]:
    partitions = consumer.partitions_for_topic(topic)
    if partitions is None:
        await consumer._client.force_metadata_update()  # noqa: SLF001 - no public call for a fresh topic list
        partitions = consumer.partitions_for_topic(topic)
    return set(partitions or ())


def _dead_letter(record: ConsumerRecord, replays: dict[str, list[Replay]]) -> DeadLetter:
    headers = {k: v.decode(errors="replace") for k, v in record.headers or ()}
    h = lambda name: headers.get(f"{DLQ_HEADER_PREFIX}{name}")  # noqa: E731
    event_id, event_type = headers.get("ce_id"), headers.get("ce_type")
    if event_id is None or event_type is None:
        try:
            body = json.loads(record.value or b"")
            if isinstance(body, dict):
                event_id = event_id or _str(body.get("id"))
                event_type = event_type or _str(body.get("type"))
        except ValueError:
            pass
    dead_letter_id = f"{record.partition}-{record.offset}"
    failed_at = h("failed-at")
    return DeadLetter(
        id=dead_letter_id,
        partition=record.partition,
        offset=record.offset,
        dead_lettered_at=datetime.fromisoformat(failed_at) if failed_at else datetime.fromtimestamp(record.timestamp / 1000, UTC),
        group=h("consumer-group"),
        original_topic=h("original-topic"),
        original_partition=_int(h("original-partition")),
        original_offset=_int(h("original-offset")),
        error=h("error") or "",
        attempts=_int(h("attempts")),
        event_id=event_id,
        event_type=event_type,
        replay_of=headers.get(REPLAY_OF_HEADER),
        key=record.key,
        value=record.value or b"",
        headers=headers,
        replays=replays.get(dead_letter_id, []),
    )


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


async def wait_for_dead_letter(
    dead_letters: DeadLetters, *, timeout: float = 20.0, **filters: Any
) -> list[DeadLetter]:
    """Poll until at least one dead letter matches `filters` (tests and scripts)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        found = await dead_letters.list(**filters)
        if found or asyncio.get_running_loop().time() > deadline:
            return found
        await asyncio.sleep(0.3)
