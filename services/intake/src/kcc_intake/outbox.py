"""The outbox: the only path by which intake publishes.

Every event is first written to the store (a contact in `contacts`, a channel life-cycle
event in `outbox`, many requests' documents in one group commit), then handed to the relay in
memory. The relay publishes what queued in acceptance order, in one acks=all round per batch
(every send handed to the producer, then every acknowledgement awaited), wakes the requests
waiting for it, and records in the store behind it what the broker acknowledged, so the next
batch does not wait for that write; a request answers 202 either way, because the event is
safe in the store.

How the store knows what is unpublished: a life-cycle event carries `unpublished: true` until
it is marked (one update per collection for all acknowledged meanwhile). A contact instead
names its group commit (`batch`), whose record in `commits` was written before the contacts
and stays there until every contact of it was acknowledged (then one delete for all batches
closed meanwhile), where marking each contact cost the local store more than inserting it. (Contacts stored
before the group commit may still carry `unpublished: true`; recovery reads both.)

While Kafka is down the relay's sends stay pending: aiokafka retries them and they complete
once, so an outage costs neither an event nor a duplicate. After a restart the relay loads
what is still unpublished from the store. Only a crash between the broker's ack and the
mark republishes an event, with the same id, which consumers de-duplicate.
"""

import asyncio
import itertools
import logging
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from faststream.kafka import KafkaBroker
from opentelemetry import context as otel_context
from opentelemetry import propagate
from prometheus_client import CollectorRegistry, Gauge

from kcc_shared.contracts import CONTENT_TYPE, CloudEvent, TopicSpec
from kcc_shared.kafka import FATAL_PRODUCER_ERRORS, current_producer, kafka_reachable, replace_producer
from kcc_shared.tasks import stop_tasks

from kcc_intake.repository import PendingStore

log = logging.getLogger(__name__)

_counter = itertools.count()
RECOVERY_INTERVAL_S = 600.0  # also at start-up; in between only events a crash orphaned
STUCK_AFTER_S = 60.0  # a stall this long shows on /readyz (the gauges show it from the start)
REPLACE_GRACE_S = 5.0  # an old producer that just reconnected delivers within this, or is stuck
RECOVERY_BATCH = 10_000  # unpublished events read per collection and recovery round
MARK_RETRY_S = 1.0  # a failed mark is tried again after this (the store may be away)


def next_seq() -> int:
    """Strictly increasing within a process, roughly time-ordered across processes (int64)."""
    return time.time_ns() // 1000 * 1000 + next(_counter) % 1000


def outbox_fields(event: CloudEvent, *, topic: TopicSpec) -> dict[str, Any]:
    """What the store keeps so the event can be published (again) after a restart."""
    carrier: dict[str, str] = {}
    propagate.inject(carrier)  # the request's trace continues in the relay's publish
    return {
        "seq": next_seq(),
        "topic": topic.name,
        "key": getattr(event.data, topic.key) if topic.key else event.subject,
        "payload": event.model_dump_json(),
        "event_type": event.type,
        "trace": carrier,
        "unpublished": True,  # unset once the broker acknowledged it
    }


@dataclass
class Pending:
    collection: str
    doc_id: str
    event_id: str
    fields: dict[str, Any]
    waiters: list[asyncio.Future[None]] = field(default_factory=list)
    queued_at: float = field(default_factory=time.monotonic)
    acknowledged: bool = False
    batch: str | None = None  # its group commit's record, closed once all of the batch is acknowledged


class OutboxRelay:
    def __init__(
        self, *, store: PendingStore, broker: KafkaBroker, registry: CollectorRegistry, batch_size: int = 1000,
        ack_timeout_s: float = 15.0,
    ) -> None:
        self._store, self._broker, self._batch_size = store, broker, batch_size
        self._ack_timeout_s = ack_timeout_s
        self._stalled_since: float | None = None
        self._producer: Any = None  # the producer the batch in flight was sent with
        self._queue: deque[Pending] = deque()
        self._queued: dict[str, Pending] = {}
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        # Acknowledged, not yet recorded in the store: event id → its Pending.
        self._unmarked: dict[str, Pending] = {}
        self._open: dict[str, int] = {}  # group commit record → its events not yet acknowledged
        self._closing: set[str] = set()  # group commit records whose events all were acknowledged
        self._mark_wake = asyncio.Event()
        self._marker: asyncio.Task[None] | None = None
        self._gauge = Gauge("kcc_intake_outbox_pending", "Events stored but not yet acknowledged by Kafka", registry=registry)
        self._oldest = Gauge(
            "kcc_intake_outbox_oldest_pending_seconds", "Age of the oldest event not yet acknowledged by Kafka", registry=registry
        )

    def expect(self, batch: str, count: int) -> None:
        """A group commit stored `count` new events under `batch`; they are submitted next."""
        if count:
            self._open[batch] = count
        else:  # every document of it was a repeat: nothing to wait for
            self._closing.add(batch)
            self._mark_wake.set()

    def submit(
        self, *, collection: str, doc_id: str, event_id: str, fields: dict[str, Any], batch: str | None = None
    ) -> Pending:
        """Hand a stored, unpublished event to the relay (once per event id)."""
        pending = self._queued.get(event_id) or self._unmarked.get(event_id)
        if pending is None:
            pending = self._queued[event_id] = Pending(collection, doc_id, event_id, fields, batch=batch)
            self._queue.append(pending)
            self._update_gauges()
            self._wake.set()
        return pending

    def knows(self, event_id: str) -> bool:
        """Whether this relay publishes (or just published) the event: one it was handed or recovered."""
        return event_id in self._queued or event_id in self._unmarked

    def pending(self, event_id: str) -> Pending | None:
        """The event as this relay holds it, if it does."""
        return self._queued.get(event_id) or self._unmarked.get(event_id)

    async def published(self, stored: dict[str, Any]) -> bool:
        """Whether a stored event another process handled is acknowledged, as far as the store knows."""
        if stored.get("unpublished"):
            return False
        if stored.get("batch"):
            return not await self._store.batch_open(stored["batch"])
        return True

    async def wait(self, pending: Pending, *, timeout: float) -> bool:
        """True once the broker acknowledged, False if that takes longer than `timeout`."""
        if pending.acknowledged:
            return True
        waiter = asyncio.get_running_loop().create_future()
        pending.waiters.append(waiter)
        try:
            await asyncio.wait_for(waiter, timeout)
            return True
        except TimeoutError:
            return False

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="outbox-relay")
        self._marker = asyncio.create_task(self._mark_behind(), name="outbox-marker")

    async def stop(self) -> None:
        await stop_tasks([self._task, self._marker])
        if self._unmarked or self._closing:  # a last try: what stays unmarked is published again after a restart (same id)
            try:
                await asyncio.wait_for(self.mark_acknowledged(), MARK_RETRY_S * 5)
            except Exception as exc:  # noqa: BLE001
                log.warning("could not mark acknowledged events before stopping", extra={"error": repr(exc)})

    async def mark_acknowledged(self) -> int:
        """Record everything acknowledged so far: marks per document (one update per collection)
        and closed group commits (one update for all)."""
        marking = {event_id: p for event_id, p in self._unmarked.items() if p.batch is None}
        closing = set(self._closing)
        if marking:
            await self._store.mark_published([(p.collection, p.doc_id) for p in marking.values()])
        if closing:
            await self._store.close_batches(sorted(closing))
            self._closing -= closing
        for event_id in marking:
            self._unmarked.pop(event_id, None)
        if closing:
            for event_id in [e for e, p in self._unmarked.items() if p.batch in closing]:
                del self._unmarked[event_id]
        return len(marking) + len(closing)

    async def _mark_behind(self) -> None:
        while True:
            await self._mark_wake.wait()
            self._mark_wake.clear()
            try:
                await self.mark_acknowledged()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - kept, and tried again; a restart would republish (same id)
                log.warning("could not mark acknowledged events; retrying", extra={"error": repr(exc)})
                await asyncio.sleep(MARK_RETRY_S)
                self._mark_wake.set()

    async def _run(self) -> None:
        last_recovery = -RECOVERY_INTERVAL_S
        while True:
            try:
                if time.monotonic() - last_recovery >= RECOVERY_INTERVAL_S:
                    await self.recover()
                    last_recovery = time.monotonic()
                self._wake.clear()  # before looking: a submit from now on wakes the wait below
                if not await self.relay_once():
                    try:
                        await asyncio.wait_for(self._wake.wait(), timeout=5.0)
                    except TimeoutError:
                        pass
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("outbox relay failed; retrying")
                await asyncio.sleep(1.0)

    async def recover(self) -> int:
        """Queue what the store holds unpublished and the relay does not know (after a restart)."""
        found = 0
        for collection, doc in await self._store.unpublished(limit=RECOVERY_BATCH):
            if not self.knows(doc["event_id"]):
                self.submit(collection=collection, doc_id=doc["_id"], event_id=doc["event_id"], fields=doc)
                found += 1
        for batch, docs in await self._store.open_batches(limit=RECOVERY_BATCH):
            if batch in self._open or batch in self._closing:
                continue  # this process's own, in flight
            fresh = [(collection, doc) for collection, doc in docs if not self.knows(doc["event_id"])]
            self.expect(batch, len(fresh))
            for collection, doc in fresh:
                self.submit(collection=collection, doc_id=doc["_id"], event_id=doc["event_id"], fields=doc, batch=batch)
            found += len(fresh)
        if found:
            log.info("outbox recovered unpublished events", extra={"count": found})
        return found

    async def relay_once(self) -> int:
        """Publish one batch in order; returns how many the broker acknowledged."""
        batch = [self._queue.popleft() for _ in range(min(self._batch_size, len(self._queue)))]
        if not batch:
            return 0
        in_flight: list[tuple[Pending, asyncio.Future[Any]]] = []
        self._producer = current_producer(self._broker)
        try:
            for pending in batch:
                in_flight.append((pending, await self._send(pending)))
        except Exception as exc:  # noqa: BLE001 - not handed to the producer: retry from here, in order
            log.warning("outbox publish failed", extra={"error": repr(exc)})
        acknowledged = await self._acknowledged(in_flight)
        done = [p for p, _ in in_flight if p.event_id in acknowledged]
        retry = [p for p in batch if p.event_id not in acknowledged]
        for pending in done:
            pending.acknowledged = True
            self._queued.pop(pending.event_id, None)
            self._unmarked[pending.event_id] = pending
            if pending.batch is not None and pending.batch in self._open:
                self._open[pending.batch] -= 1
                if not self._open[pending.batch]:
                    del self._open[pending.batch]
                    self._closing.add(pending.batch)
            for waiter in pending.waiters:
                if not waiter.done():
                    waiter.set_result(None)
        if done:
            self._mark_wake.set()  # the store learns it behind us: the waiters need only the broker's ack
        self._queue.extendleft(reversed(retry))
        self._update_gauges()
        if retry:
            await asyncio.sleep(0.5)
        return len(done)

    async def _acknowledged(self, in_flight: list[tuple[Pending, "asyncio.Future[Any]"]]) -> set[str]:
        """Event ids the broker acknowledged. Waits while Kafka is away (the producer resends
        by itself then); a producer that stays silent or fails for good once Kafka answers is
        replaced, and what it held is sent again by the caller."""
        futures = {future: pending for pending, future in in_flight}
        acknowledged: set[str] = set()
        while futures:
            done, _ = await asyncio.wait(futures, timeout=self._ack_timeout_s)
            fatal = False
            for future in done:
                pending = futures.pop(future)
                error = future.exception()
                if error is None:
                    acknowledged.add(pending.event_id)
                else:
                    fatal = fatal or isinstance(error, FATAL_PRODUCER_ERRORS)
                    self._episode(f"send failed: {error!r}")
            if not futures and not fatal:
                break
            # Some sends are unanswered after the timeout, or failed for good. When Kafka
            # answers a new client, the old producer gets a grace period to deliver (it may just
            # have reconnected); if it still does not, it is stuck: replace it.
            if not await kafka_reachable(self._broker):
                self._episode(f"{len(futures)} events unacknowledged for {self._ack_timeout_s:g} s; Kafka unreachable, waiting")
                continue
            if futures and not fatal:
                late, _ = await asyncio.wait(futures, timeout=REPLACE_GRACE_S)
                for future in late:
                    pending = futures.pop(future)
                    if future.exception() is None:
                        acknowledged.add(pending.event_id)
                    else:
                        fatal = fatal or isinstance(future.exception(), FATAL_PRODUCER_ERRORS)
                if not futures and not fatal:
                    break
            self._episode("the producer stopped getting acknowledgements while Kafka answers; replacing it")
            if await replace_producer(self._broker, failed=self._producer):
                return acknowledged  # what the old producer held is sent again by the caller
            if not futures:
                break
        if acknowledged and self._stalled_since is not None:
            log.warning("outbox publishing again", extra={"stalled_s": round(time.monotonic() - self._stalled_since, 1)})
            self._stalled_since = None
        return acknowledged

    def _episode(self, what: str) -> None:
        """One log line per stall episode, however long it lasts (the client library logs plenty)."""
        if self._stalled_since is None:
            self._stalled_since = time.monotonic()
            log.warning("outbox stalled: %s", what, extra={"pending": len(self._queued)})

    def _update_gauges(self) -> None:
        self._gauge.set(len(self._queued))
        # Submitted in order and kept in that order until acknowledged: the first is the oldest.
        oldest = next(iter(self._queued.values())).queued_at if self._queued else None
        self._oldest.set(0.0 if oldest is None else time.monotonic() - oldest)

    @property
    def stalled_for_s(self) -> float:
        """How long publishing has been stalled (0 when it flows)."""
        return 0.0 if self._stalled_since is None else time.monotonic() - self._stalled_since

    def readiness(self) -> str:
        """"ok", or how long the outbox has not got through (a readiness check)."""
        stalled = self.stalled_for_s
        if stalled < STUCK_AFTER_S:
            return "ok"
        return f"outbox stalled for {stalled:.0f} s with {len(self._queued)} events unpublished"

    async def _send(self, pending: Pending) -> "asyncio.Future[Any]":
        f = pending.fields
        token = otel_context.attach(propagate.extract(f.get("trace") or {}))
        try:
            return await self._broker.publish(
                f["payload"].encode(),
                topic=f["topic"],
                key=f["key"].encode() if f.get("key") else None,
                headers={"content-type": CONTENT_TYPE, "ce_type": f["event_type"], "ce_id": pending.event_id},
                correlation_id=pending.event_id,
                no_confirm=True,
            )
        finally:
            otel_context.detach(token)

