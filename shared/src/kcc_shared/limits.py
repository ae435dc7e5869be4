"""Abuse limits: a request body size limit for every service, a per-client rate limit.

The size limit reads at most `max_body_bytes` (declared or streamed) before answering 413, so
a huge or endless upload never reaches a handler. The rate limit is a token bucket per client
(the token's subject, or the client address for requests without a valid token), kept in the
process so a request costs no store round trip; with `SharedBuckets` the replicas of a service
tell each other, through the store, what each client used, so the limit holds for the service
as a whole (see there for how closely).
"""

import asyncio
import json
import logging
import math
import time
from collections import OrderedDict
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from pymongo import UpdateOne

from pydantic import BaseModel, Field
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from kcc_shared.tasks import stop_tasks

if TYPE_CHECKING:
    from pymongo.asynchronous.collection import AsyncCollection

log = logging.getLogger(__name__)


class RateLimitSettings(BaseModel):
    """Per-client token bucket (e.g. env `KCC_INTAKE_RATE_LIMIT__PER_SECOND`)."""

    enabled: bool = True
    per_second: float = Field(default=100.0, gt=0, description="Sustained requests per second per client")
    burst: int = Field(default=200, ge=1, description="Requests a client may send at once")
    max_clients: int = Field(default=100_000, ge=100, description="Clients tracked; the least recent are forgotten")
    share_interval_s: float = Field(
        default=0.5, ge=0, le=60, description="How often the replicas share what each client used (0: each limits on its own)"
    )


class RateLimiter:
    """Token buckets keyed by client; `take` returns None if allowed, else seconds to wait."""

    def __init__(self, settings: RateLimitSettings, *, clock=time.monotonic) -> None:
        self.settings = settings
        self._clock = clock
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()
        self.used: dict[str, int] = {}  # requests allowed per client since `SharedBuckets` last looked

    def _refilled(self, key: str, now: float) -> float:
        s = self.settings
        tokens, last = self._buckets.pop(key, (float(s.burst), now))
        return min(float(s.burst), tokens + (now - last) * s.per_second)

    def take(self, key: str) -> float | None:
        s, now = self.settings, self._clock()
        tokens = self._refilled(key, now)
        allowed = tokens >= 1.0
        if allowed:
            tokens -= 1.0
            self.used[key] = self.used.get(key, 0) + 1
        self._buckets[key] = (tokens, now)
        if len(self._buckets) > s.max_clients:
            self._buckets.popitem(last=False)
        return None if allowed else (1.0 - tokens) / s.per_second

    def charge(self, key: str, requests: int) -> None:
        """Take what other replicas let this client use out of its bucket here (down to one
        burst of debt: a client is never locked out longer than a burst takes to refill)."""
        now = self._clock()
        tokens = max(self._refilled(key, now) - requests, -float(self.settings.burst))
        self._buckets[key] = (tokens, now)


class SharedBuckets:
    """The replicas' rate limiters, kept in step through the store.

    Every `interval_s` each replica writes, per client it served since, its running total of
    that client's requests (`by.<replica>`, one bulk upsert), reads the totals of those clients
    (one `$in` read) and charges its own buckets with what the others served since it last
    looked. A client that spreads requests over the replicas so gets one service-wide rate, to
    within one interval's requests; a replica that meets a client for the first time does not
    charge it the others' past use. What counts is what a replica let through, malformed or not
    (a request refused with 429 used nothing). Documents of clients not seen for `keep` expire (TTL)."""

    def __init__(
        self, collection: "AsyncCollection", limiter: RateLimiter, *, replica: str, interval_s: float = 0.5,
        keep: timedelta = timedelta(minutes=10),
    ) -> None:
        self._usage, self._limiter, self._interval_s, self._keep = collection, limiter, interval_s, keep
        self._replica = replica.replace(".", "_").replace("$", "_")
        self._own: dict[str, int] = {}  # this replica's running totals per client
        self._others: dict[str, int] = {}  # the others' totals when this replica last looked
        self._task: asyncio.Task[None] | None = None

    async def ensure_indexes(self) -> None:
        await self._usage.create_index("seen_at", name="ttl", expireAfterSeconds=int(self._keep.total_seconds()))

    async def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name="rate-limit-sync")

    async def stop(self) -> None:
        if self._task is not None:
            await stop_tasks([self._task])
            self._task = None

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(self._interval_s)
            try:
                await self.sync()
            except Exception:  # noqa: BLE001 - the store may be away: limit locally meanwhile
                log.warning("rate limits not shared this round", exc_info=True)

    async def sync(self) -> None:
        used, self._limiter.used = self._limiter.used, {}
        if not used:
            return
        now = datetime.now(UTC)
        for key, count in used.items():
            self._own[key] = self._own.get(key, 0) + count
        await self._usage.bulk_write(
            [UpdateOne({"_id": key}, {"$set": {f"by.{self._replica}": self._own[key], "seen_at": now}}, upsert=True) for key in used],
            ordered=False,
        )
        async for doc in self._usage.find({"_id": {"$in": list(used)}}, {"by": 1}):
            key = doc["_id"]
            others = sum(n for replica, n in (doc.get("by") or {}).items() if replica != self._replica)
            seen = self._others.get(key)
            self._others[key] = others
            if seen is not None and others > seen:
                self._limiter.charge(key, others - seen)
        if len(self._own) > self._limiter.settings.max_clients:  # forget the least recent clients
            for key in list(self._own)[: len(self._own) - self._limiter.settings.max_clients]:
                self._own.pop(key, None)
                self._others.pop(key, None)


class BodySizeLimit:
    """ASGI middleware: 413 for a body over `max_bytes`, declared or streamed (chunked)."""

    def __init__(self, app: ASGIApp, *, max_bytes: int) -> None:
        self.app, self.max_bytes = app, max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        declared = headers.get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await self._too_large(send)
            return
        if declared is None and b"transfer-encoding" not in headers:
            await self.app(scope, receive, send)  # no body
            return
        messages: list[Message] = []
        size = 0
        while True:
            message = await receive()
            messages.append(message)
            if message["type"] != "http.request":
                break
            size += len(message.get("body", b""))
            if size > self.max_bytes:
                await self._too_large(send)
                return
            if not message.get("more_body", False):
                break

        async def replay() -> Message:
            return messages.pop(0) if messages else await receive()

        await self.app(scope, replay, send)

    async def _too_large(self, send: Send) -> None:
        body = ('{"detail":"body larger than %d bytes"}' % self.max_bytes).encode()
        await send({"type": "http.response.start", "status": 413, "headers": [
            (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
        ]})
        await send({"type": "http.response.body", "body": body})


INT64 = (-(2**63), 2**63 - 1)


class _BadNumber(ValueError):
    pass


class StrictJsonNumbers:
    """ASGI middleware: 422 naming the field for a JSON body with `NaN`, `Infinity` or a number
    the store cannot hold (an integer outside 64 bits, a float that overflows).

    Python's JSON parser accepts those where JSON does not; they would pass validation and fail
    later, in serialisation or in the store, as a 500. Bodies that are not JSON are left to the
    route (which answers 415 or 422 itself)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("method") not in ("POST", "PUT", "PATCH"):
            await self.app(scope, receive, send)
            return
        content_type = dict(scope.get("headers") or []).get(b"content-type", b"")
        if not content_type.split(b";")[0].strip().endswith(b"json"):
            await self.app(scope, receive, send)
            return
        messages: list[Message] = []
        body = b""
        while True:
            message = await receive()
            messages.append(message)
            if message["type"] != "http.request":
                break
            body += message.get("body", b"")
            if not message.get("more_body", False):
                break
        problem = _number_problem(body)
        if problem is not None:
            await _unprocessable(send, *problem)
            return

        async def replay() -> Message:
            return messages.pop(0) if messages else await receive()

        await self.app(scope, replay, send)


def _number_problem(body: bytes) -> tuple[list[str | int], str] | None:
    """The path and reason of the first number JSON or the store cannot take, or None."""

    def constant(token: str) -> float:
        raise _BadNumber(f"{token} is not a JSON number")

    def integer(text: str) -> int:
        if len(text) > 20 or not INT64[0] <= int(text) <= INT64[1]:
            raise _BadNumber(f"integer {text[:24]}{'…' if len(text) > 24 else ''} is outside the 64-bit range")
        return int(text)

    def real(text: str) -> float:
        value = float(text)
        if math.isinf(value):
            raise _BadNumber(f"number {text[:24]} is too large")
        return value

    try:
        json.loads(body, parse_constant=constant, parse_int=integer, parse_float=real)
    except _BadNumber as exc:
        return _locate(body), str(exc)
    except (ValueError, UnicodeDecodeError):
        return None  # not JSON: the route says so
    return None


def _locate(body: bytes) -> list[str | int]:
    """Where the offending number is: parse leniently and find the first non-finite or oversized value."""
    try:
        document = json.loads(body, parse_int=lambda text: _Big(text) if not INT64[0] <= int(text) <= INT64[1] else int(text))
    except ValueError:
        return ["body"]

    def walk(node: object, path: list[str | int]) -> list[str | int] | None:
        if isinstance(node, _Big) or (isinstance(node, float) and not math.isfinite(node)):
            return path
        if isinstance(node, dict):
            items = node.items()
        elif isinstance(node, list):
            items = enumerate(node)
        else:
            return None
        for key, value in items:
            found = walk(value, [*path, key])
            if found is not None:
                return found
        return None

    return walk(document, ["body"]) or ["body"]


class _Big(int):
    pass


async def _unprocessable(send: Send, location: list[str | int], reason: str) -> None:
    field = ".".join(str(part) for part in location[1:]) or "body"
    body = json.dumps({"detail": [{"loc": location, "msg": f"{field}: {reason}", "type": "value_error.number"}]}).encode()
    await send({"type": "http.response.start", "status": 422, "headers": [
        (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
    ]})
    await send({"type": "http.response.body", "body": body})
