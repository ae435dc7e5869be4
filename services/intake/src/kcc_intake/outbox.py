"""The outbox relay: the only path by which intake publishes.

A channel request stores its event in the outbox (the store), wakes the relay and waits up to
`accept_wait_s` for the broker's acknowledgement. When Kafka is down the request still gets
its 202 (the event is safe in the store) and the relay publishes it once Kafka is back, in
acceptance order. The relay never abandons a send it started: aiokafka keeps retrying it and
it completes once, which is why a broker outage yields no duplicates. Only a crash between
the broker's ack and `mark_published` republishes, with the same event id, which consumers
de-duplicate.
"""

import asyncio
import itertools
import logging
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from faststream.kafka import KafkaBroker
from opentelemetry import context as otel_context
from opentelemetry import propagate
from prometheus_client import CollectorRegistry, Gauge

from kcc_shared.contracts import CONTACT_RECEIVED, CONTENT_TYPE, CloudEvent, ContactReceived, TopicSpec

from kcc_intake.repository import ContactRepository, OutboxRepository

log = logging.getLogger(__name__)

_counter = itertools.count()


def _next_seq() -> int:
    """Strictly increasing within a process, roughly time-ordered across processes."""
    return time.time_ns() // 1000 * 1000 + next(_counter) % 1000  # fits Mongo's int64


class OutboxRelay:
    def __init__(
        self,
        *,
        outbox: OutboxRepository,
        contacts: ContactRepository,
        broker: KafkaBroker,
        registry: CollectorRegistry,
        batch_size: int = 200,
    ) -> None:
        self._outbox, self._contacts, self._broker = outbox, contacts, broker
        self._batch_size = batch_size
        self._wake = asyncio.Event()
        self._waiters: dict[str, list[asyncio.Future[None]]] = {}
        self._task: asyncio.Task[None] | None = None
        self._pending = Gauge("kcc_intake_outbox_pending", "Events accepted but not yet acknowledged by Kafka", registry=registry)

    async def enqueue(self, event: CloudEvent, *, topic: TopicSpec) -> None:
        """Persist the event for publishing; the current trace context goes with it."""
        carrier: dict[str, str] = {}
        propagate.inject(carrier)
        key = getattr(event.data, topic.key) if topic.key else event.subject
        await self._outbox.add(
            {
                "_id": event.id,
                "seq": _next_seq(),
                "topic": topic.name,
                "key": key,
                "payload": event.model_dump_json(),
                "headers": {"content-type": CONTENT_TYPE, "ce_type": event.type, "ce_id": event.id},
                "trace": carrier,
                "created_at": datetime.now(UTC),
            }
        )
        self._wake.set()

    async def wait_published(self, event_id: str, *, timeout: float) -> bool:
        waiter = asyncio.get_running_loop().create_future()
        self._waiters.setdefault(event_id, []).append(waiter)
        self._wake.set()
        try:
            await asyncio.wait_for(asyncio.shield(waiter), timeout)
            return True
        except TimeoutError:
            return False
        finally:
            waiters = self._waiters.get(event_id, [])
            if waiter in waiters:
                waiters.remove(waiter)
            if not waiters:
                self._waiters.pop(event_id, None)

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="outbox-relay")

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def _run(self) -> None:
        last_repair = 0.0
        while True:
            try:
                if time.monotonic() - last_repair > 30:
                    await self._repair()
                    last_repair = time.monotonic()
                published = await self.relay_once()
                self._pending.set(await self._outbox.count_pending())
                if not published:
                    self._wake.clear()
                    try:
                        await asyncio.wait_for(self._wake.wait(), timeout=1.0)
                    except TimeoutError:
                        pass
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("outbox relay failed; retrying")
                await asyncio.sleep(1.0)

    async def relay_once(self) -> int:
        """Publish one batch of pending events in order; returns how many were acknowledged."""
        batch = await self._outbox.pending(limit=self._batch_size)
        if not batch:
            return 0
        in_flight: list[tuple[dict[str, Any], asyncio.Future[Any]]] = []
        failed: list[BaseException] = []
        for entry in batch:
            try:
                in_flight.append((entry, await self._send(entry)))
            except Exception as exc:  # noqa: BLE001 - not handed to the producer: stop here, keep the order
                failed.append(exc)
                break
        results = await asyncio.gather(*(future for _, future in in_flight), return_exceptions=True)
        done = [entry["_id"] for (entry, _), result in zip(in_flight, results) if not isinstance(result, BaseException)]
        failed += [result for result in results if isinstance(result, BaseException)]
        await self._outbox.mark_published(done)
        for event_id in done:
            for waiter in self._waiters.pop(event_id, []):
                if not waiter.done():
                    waiter.set_result(None)
        if failed:
            log.warning("outbox publish failed", extra={"failed": len(failed), "error": repr(failed[0])})
            await asyncio.sleep(0.5)
        return len(done)

    async def _send(self, entry: dict[str, Any]) -> "asyncio.Future[Any]":
        token = otel_context.attach(propagate.extract(entry.get("trace") or {}))
        try:
            return await self._broker.publish(
                entry["payload"].encode(),
                topic=entry["topic"],
                key=entry["key"].encode() if entry.get("key") else None,
                headers=entry["headers"],
                correlation_id=entry["_id"],
                no_confirm=True,
            )
        finally:
            otel_context.detach(token)

    async def _repair(self) -> None:
        """Requeue contacts whose event a crash kept out of the outbox (same event id)."""
        for stored in await self._contacts.not_outboxed(older_than=timedelta(seconds=10)):
            await self.enqueue(ContactReceived.model_validate(stored["event"]), topic=CONTACT_RECEIVED)
            await self._contacts.mark_outboxed(stored["_id"])
