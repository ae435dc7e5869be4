"""Back-office webhook deliveries, off the consumers' path: a queue per department.

A decision's outbox hands a department's work item to this queue, and routing's call-back
consumer the reminders and overdue notices (one document per event and department, so a repeat
is the same delivery). A worker, on one replica at a time
under a lease, posts what is due: each department in its own task, so a slow or failing
back-office delays only its own deliveries, never another department's contacts nor the topic
partitions routing consumes. A failed attempt is tried again after 25·4ⁿ seconds (n = attempts
so far − 1: 25 s, 100 s, 400 s, …) as Open Notificaties does; after the last of `tries` it goes
to the dead-letter topic with the reason, and an error line and a metric alert ops.

At least once: a worker that dies after a post and before marking it posts it again; the
receiver de-duplicates on `ce-id` (the event id).
"""

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from opentelemetry import context as otel_context
from opentelemetry import propagate
from opentelemetry.sdk.trace import TracerProvider
from prometheus_client import CollectorRegistry, Counter, Gauge
from pymongo import ASCENDING
from pymongo.asynchronous.collection import AsyncCollection

from kcc_shared.leases import Lease
from kcc_shared.mongo import insert_once
from kcc_shared.tasks import stop_tasks
from kcc_shared.telemetry import TracingTransport

log = logging.getLogger(__name__)

Post = Callable[[str, bytes, dict[str, str]], Awaitable[None]]
GiveUp = Callable[[dict[str, Any], str], Awaitable[None]]

PENDING, DELIVERED, DEAD = "pending", "delivered", "dead"


def _reason(exc: Exception) -> str:
    """What went wrong, short enough for a listing: the HTTP status first when there is one."""
    if isinstance(exc, httpx.HTTPStatusError):
        return f"HTTP {exc.response.status_code}"
    if isinstance(exc, TimeoutError):
        return "timeout"
    return f"{type(exc).__name__}: {exc}"[:500]


def backoff(attempts: int, *, base_s: float) -> timedelta:
    """The wait after the `attempts`-th failed attempt: base·4^(attempts−1)."""
    return timedelta(seconds=base_s * 4 ** (attempts - 1))


class DeliveryRepository:
    def __init__(self, collection: AsyncCollection) -> None:
        self._deliveries = collection

    async def ensure_indexes(self) -> None:
        await self._deliveries.create_index([("status", ASCENDING), ("next_at", ASCENDING)], name="due")
        await self._deliveries.create_index(
            [("department_id", ASCENDING), ("status", ASCENDING), ("next_at", ASCENDING)], name="due_per_department"
        )

    async def enqueue(self, delivery: dict[str, Any]) -> bool:
        """Queue a delivery once (its `_id` names the department and the event); False when it was queued before."""
        return await insert_once(self._deliveries, delivery)

    async def due_departments(self, *, now: datetime, limit: int = 1000) -> set[str]:
        cursor = self._deliveries.find({"status": PENDING, "next_at": {"$lte": now}}, {"department_id": 1}).limit(limit)
        return {doc["department_id"] async for doc in cursor}

    async def due(self, department_id: str, *, now: datetime, limit: int = 50) -> list[dict[str, Any]]:
        query = {"department_id": department_id, "status": PENDING, "next_at": {"$lte": now}}
        return await self._deliveries.find(query).sort("next_at", ASCENDING).limit(limit).to_list(None)

    async def delivered(self, delivery_id: str, *, attempts: int, now: datetime) -> None:
        await self._deliveries.update_one(
            {"_id": delivery_id, "status": PENDING},
            {"$set": {"status": DELIVERED, "attempts": attempts, "delivered_at": now}, "$unset": {"body": ""}},
        )

    async def retry(self, delivery_id: str, *, attempts: int, next_at: datetime, error: str) -> None:
        await self._deliveries.update_one(
            {"_id": delivery_id, "status": PENDING}, {"$set": {"attempts": attempts, "next_at": next_at, "last_error": error}}
        )

    async def dead(self, delivery_id: str, *, attempts: int, error: str, now: datetime) -> None:
        await self._deliveries.update_one(
            {"_id": delivery_id, "status": PENDING},
            {"$set": {"status": DEAD, "attempts": attempts, "last_error": error, "dead_at": now}},
        )

    async def get(self, delivery_id: str) -> dict[str, Any] | None:
        return await self._deliveries.find_one({"_id": delivery_id})

    async def pending_count(self) -> int:
        return await self._deliveries.count_documents({"status": PENDING})


def delivery_id(department_id: str, event_id: str) -> str:
    """One delivery per event and department (an overdue notice may go to two)."""
    return f"{department_id}:{event_id}"


def delivery(*, event_id: str, department_id: str, url: str, body: bytes, key: str, now: datetime) -> dict[str, Any]:
    """A queued delivery, due at once, carrying the current trace so its post joins the contact's
    trace; `key` (the contact or call-back) keys its dead letter, as on the department's topic."""
    trace: dict[str, str] = {}
    propagate.inject(trace)
    return {
        "_id": delivery_id(department_id, event_id), "event_id": event_id, "department_id": department_id, "url": url,
        "body": body, "key": key, "created_at": now, "next_at": now, "attempts": 0, "status": PENDING, "trace": trace,
    }


class WebhookPoster:
    """POSTs a delivery as a client span of the contact's trace (with `traceparent` for the back-office)."""

    def __init__(self, tracer_provider: TracerProvider) -> None:
        self._tracer_provider = tracer_provider

    async def post(self, url: str, body: bytes, headers: dict[str, str]) -> None:
        async with httpx.AsyncClient(timeout=30.0, transport=TracingTransport(self._tracer_provider)) as http:
            (await http.post(url, content=body, headers=headers)).raise_for_status()


class DeliveryWorker:
    """Posts due deliveries, one task per department, while this replica holds the lease."""

    def __init__(
        self, repository: DeliveryRepository, *, post: Post, give_up: GiveUp, lease: Lease | None, registry: CollectorRegistry,
        tries: int = 7, backoff_s: float = 25.0, timeout_s: float = 10.0, poll_s: float = 1.0,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._repository, self._post, self._give_up, self._lease = repository, post, give_up, lease
        self._tries, self._backoff_s, self._timeout_s, self._poll_s, self._clock = tries, backoff_s, timeout_s, poll_s, clock
        self._running: dict[str, asyncio.Task[None]] = {}
        self._loop_task: asyncio.Task[None] | None = None
        self._outcomes = Counter(
            "kcc_routing_webhook_deliveries", "Back-office webhook attempts by outcome (delivered, retry, dead)",
            ["department", "outcome"], registry=registry,
        )
        self._pending = Gauge("kcc_routing_webhook_deliveries_pending", "Webhook deliveries not yet delivered nor given up", registry=registry)

    async def start(self) -> None:
        self._loop_task = asyncio.create_task(self._loop(), name="webhook-deliveries")

    async def stop(self) -> None:
        await stop_tasks([self._loop_task, *self._running.values()])
        self._loop_task, self._running = None, {}
        if self._lease is not None and self._lease.token is not None:
            with contextlib.suppress(Exception):  # the store may be gone at shutdown; it lapses then
                await self._lease.release()

    async def _loop(self) -> None:
        while True:
            try:
                await self.run_once()
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - the store may be away; try again next round
                log.warning("webhook delivery round failed", exc_info=True)
            await asyncio.sleep(self._poll_s)

    async def run_once(self) -> None:
        """Start a task for every department with due deliveries that has none running."""
        if self._lease is not None and await self._lease.acquire() is None:
            return
        self._running = {d: t for d, t in self._running.items() if not t.done()}
        for department_id in await self._repository.due_departments(now=self._clock()):
            if department_id not in self._running:
                self._running[department_id] = asyncio.create_task(self.drain(department_id), name=f"deliveries-{department_id}")
        self._pending.set(await self._repository.pending_count())

    async def drain(self, department_id: str) -> int:
        """Post a department's due deliveries, oldest due first; returns how many were delivered."""
        delivered = 0
        while batch := await self._repository.due(department_id, now=self._clock()):
            for item in batch:
                delivered += await self._attempt(item)
            if len(batch) < 50:
                break
        return delivered

    async def _attempt(self, item: dict[str, Any]) -> int:
        attempts = item["attempts"] + 1
        headers = {"content-type": "application/cloudevents+json; charset=utf-8", "ce-id": item["event_id"]}
        token = otel_context.attach(propagate.extract(item.get("trace") or {}))
        try:
            await asyncio.wait_for(self._post(item["url"], item["body"], headers), self._timeout_s)
        except Exception as exc:  # noqa: BLE001 - any failure is an attempt that counts
            error = _reason(exc)
            await self._failed(item, attempts=attempts, error=error)
            return 0
        finally:
            otel_context.detach(token)
        await self._repository.delivered(item["_id"], attempts=attempts, now=self._clock())
        self._outcomes.labels(item["department_id"], "delivered").inc()
        return 1

    async def _failed(self, item: dict[str, Any], *, attempts: int, error: str) -> None:
        department_id = item["department_id"]
        if attempts < self._tries:
            next_at = self._clock() + backoff(attempts, base_s=self._backoff_s)
            await self._repository.retry(item["_id"], attempts=attempts, next_at=next_at, error=error)
            self._outcomes.labels(department_id, "retry").inc()
            log.info("webhook delivery failed; tried again later", extra={
                "department_id": department_id, "event_id": item["_id"], "attempts": attempts, "next_at": next_at.isoformat(), "error": error,
            })
            return
        reason = f"{error} from the webhook after {attempts} tries: {item['url']}"
        await self._give_up(item, reason)  # first the dead letter, then the mark: a crash between posts it again
        await self._repository.dead(item["_id"], attempts=attempts, error=error, now=self._clock())
        self._outcomes.labels(department_id, "dead").inc()
        log.error("webhook delivery given up: sent to the dead-letter topic", extra={
            "department_id": department_id, "event_id": item["_id"], "attempts": attempts, "error": error,
        })
