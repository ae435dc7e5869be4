"""Group commit: the store writes of many concurrent requests in one bulk round.

A contact must be in the store before its request answers: the store keeps what the event
may not carry (the citizen's identifiers and message as written, the registry's values), and
its unique index decides which request is a repeat. One insert per request made every contact
pay a store round trip of its own (about 28 ms for the contact and 19 ms for the registry on
the local store under load), and the store, not Kafka, set intake's pace.

So requests queue their documents here and wait. One task writes whatever queued while the
previous write ran (after a short linger when it was idle): first the batch's record in
`commits` (pending until Kafka acknowledged all of it, so a crash at any point leaves every
stored contact either published or listed there for recovery), then one unordered
`insert_many` per collection plus one for the registry, side by side. The unique indexes pick
the first of repeats, across batches, restarts and replicas alike. The new events go to the
outbox relay in acceptance order, which publishes them in one acks=all round; each request
gets its document (and the relay's handle on its event), or the earlier document that holds
its key. A failed write fails every request of its batch (503: the caller retries, and a
repeat finds whatever part of the batch did land).

Up to `max_in_flight` batches are written at once: a batch's round trips (its record, then
its documents, each answer waiting its turn on a busy event loop) would otherwise leave the
store idle in between. Batches still hand their events to the relay in the order they were
formed, so acceptance order holds on the topic.
"""

import asyncio
import logging
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Protocol

from opentelemetry import trace
from opentelemetry.trace import Link, NonRecordingSpan, SpanContext, TracerProvider
from prometheus_client import CollectorRegistry, Histogram

from kcc_intake.outbox import OutboxRelay, Pending
from kcc_intake.repository import CONTACTS, OUTBOX, PendingStore

from kcc_shared.tasks import stop_tasks

log = logging.getLogger(__name__)


class BulkInsert(Protocol):
    async def insert_many(self, docs: list[dict[str, Any]]) -> dict[int, dict[str, Any] | None]: ...


class RegistryWriter(Protocol):
    async def register(self, entries: list[dict[str, Any]]) -> None: ...


@dataclass
class Write:
    collection: str
    doc: dict[str, Any]
    registry: list[dict[str, Any]]
    span: SpanContext
    done: asyncio.Future[tuple[dict[str, Any], bool, Pending | None]]
    queued_at: float = field(default_factory=time.perf_counter)


class Vanished(RuntimeError):
    """The document that held a key was gone when looked up (erased in between): write again."""


class GroupCommit:
    def __init__(
        self, *, contacts: BulkInsert, outbox: BulkInsert, registry: RegistryWriter | None, batches: PendingStore,
        relay: OutboxRelay, tracer_provider: TracerProvider, metrics: CollectorRegistry, linger_s: float = 0.002,
        max_batch: int = 500, max_in_flight: int = 2,
    ) -> None:
        self._collections = {CONTACTS: contacts, OUTBOX: outbox}
        self._batches, self._relay = batches, relay
        self._registry, self._linger_s, self._max_batch = registry, linger_s, max_batch
        self._tracer = tracer_provider.get_tracer("kcc_intake.groupcommit")
        self._queue: deque[Write] = deque()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._in_flight = asyncio.Semaphore(max_in_flight)
        self._writing: set[asyncio.Task[None]] = set()
        self._handed: asyncio.Future[None] | None = None  # the latest batch's hand-over to the relay
        self._batch_size = Histogram(
            "kcc_intake_commit_batch_size", "Documents per group commit to the store",
            buckets=(1, 2, 5, 10, 20, 50, 100, 200, 500, 1000), registry=metrics,
        )
        self._wait = Histogram(
            "kcc_intake_commit_seconds", "From queueing a document to its group commit's end", registry=metrics,
        )

    async def write(
        self, *, collection: str, doc: dict[str, Any], registry: list[dict[str, Any]] | None = None
    ) -> tuple[dict[str, Any], bool, Pending | None]:
        """Store `doc` with the next group commit: (the stored document, False, the relay's
        handle on its event), or (the earlier document that holds its key, True, None)."""
        if self._task is None or self._task.done():
            self.start()
        for _ in range(2):  # a second round only if the holder of the key vanished in between
            done = asyncio.get_running_loop().create_future()
            span = trace.get_current_span().get_span_context()
            self._queue.append(Write(collection, doc, registry or [], span, done))
            self._wake.set()
            try:
                return await asyncio.shield(done)  # a cancelled request does not cancel its batch
            except Vanished:
                continue
        raise Vanished(f"{collection}: the document holding the key of {doc['_id']} keeps vanishing")

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="group-commit")

    async def stop(self) -> None:
        await stop_tasks([self._task])
        await asyncio.gather(*self._writing, return_exceptions=True)  # batches being written finish
        for write in self._queue:
            if not write.done.done():
                write.done.set_exception(RuntimeError("intake is stopping"))

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            if self._linger_s and len(self._queue) < self._max_batch:
                await asyncio.sleep(self._linger_s)  # let the requests arriving just now join
            self._wake.clear()
            batch = [self._queue.popleft() for _ in range(min(self._max_batch, len(self._queue)))]
            if len(self._queue):
                self._wake.set()
            if not batch:
                continue
            await self._in_flight.acquire()
            previous, self._handed = self._handed, asyncio.get_running_loop().create_future()
            task = asyncio.create_task(self._write_batch(batch, previous, self._handed), name="group-commit-batch")
            self._writing.add(task)
            task.add_done_callback(self._writing.discard)

    async def _write_batch(self, batch: list[Write], previous: asyncio.Future[None] | None, handed: asyncio.Future[None]) -> None:
        try:
            await self._commit(batch, previous, handed)
        except Exception as exc:  # noqa: BLE001 - a bug here must not leave requests waiting for ever
            log.exception("group commit failed")
            for write in batch:
                if not write.done.done():
                    write.done.set_exception(exc)
        finally:
            if not handed.done():
                handed.set_result(None)
            self._in_flight.release()

    async def _commit(self, batch: list[Write], previous: asyncio.Future[None] | None, handed: asyncio.Future[None]) -> None:
        # The batch's spans (the bulk inserts) sit in the trace of its first request; every
        # other request's trace is linked, and its own publish span stays in its own trace.
        parent = trace.set_span_in_context(NonRecordingSpan(batch[0].span))
        links = [Link(w.span) for w in batch[1:] if w.span.is_valid][:128]
        with self._tracer.start_as_current_span(
            "intake group commit", context=parent, links=links, attributes={"kcc.batch_size": len(batch)},
        ) as span:
            batch_id = str(uuid.uuid4())
            try:
                held = await self._insert(batch, batch_id)
            except Exception as exc:  # noqa: BLE001 - every request of the batch gets the store's error
                span.record_exception(exc)
                for write in batch:
                    if not write.done.done():
                        write.done.set_exception(exc)
                return
        if previous is not None:
            await previous  # the batch formed before this one hands its events over first
        ended = time.perf_counter()
        self._batch_size.observe(len(batch))
        new = [write for position, write in enumerate(batch) if position not in held]
        if any(write.collection == CONTACTS for write in batch):
            self._relay.expect(batch_id, sum(write.collection == CONTACTS for write in new))
        for position, write in enumerate(batch):
            self._wait.observe(ended - write.queued_at)
            pending = None
            if position not in held:  # stored: to the relay now, in acceptance order, whatever its request does
                pending = self._relay.submit(
                    collection=write.collection, doc_id=write.doc["_id"], event_id=write.doc["event_id"], fields=write.doc,
                    batch=batch_id if write.collection == CONTACTS else None,
                )
            if write.done.done():
                continue
            if pending is not None:
                write.done.set_result((write.doc, False, pending))
            elif held[position] is None:
                write.done.set_exception(Vanished())
            else:
                write.done.set_result((held[position], True, None))
        handed.set_result(None)

    async def _insert(self, batch: list[Write], batch_id: str) -> dict[int, dict[str, Any] | None]:
        """The batch's record, then one unordered insert per collection and one for the registry,
        side by side; for each position in the batch whose key was taken, the document that holds it."""
        contacts = [write.doc for write in batch if write.collection == CONTACTS]
        for doc in contacts:  # unpublished while its batch's record is pending
            doc.pop("unpublished", None)
            doc["batch"] = batch_id
        if contacts:
            await self._batches.open_batch(batch_id, [(CONTACTS, doc["_id"]) for doc in contacts])
        positions: dict[str, list[int]] = {}
        for position, write in enumerate(batch):
            positions.setdefault(write.collection, []).append(position)
        entries = {entry["_id"]: entry for write in batch for entry in write.registry}
        names = list(positions)
        writes = [self._collections[name].insert_many([batch[p].doc for p in positions[name]]) for name in names]
        if entries and self._registry is not None:
            writes.append(self._registry.register(list(entries.values())))
        results = await asyncio.gather(*writes, return_exceptions=True)
        for result in results:
            if isinstance(result, BaseException):
                raise result
        held: dict[int, dict[str, Any] | None] = {}
        for name, result in zip(names, results, strict=False):
            for index, holder in result.items():
                held[positions[name][index]] = holder
        return held
