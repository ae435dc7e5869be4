"""Abuse limits: a request body size limit for every service, a per-client rate limit.

The size limit reads at most `max_body_bytes` (declared or streamed) before answering 413, so
a huge or endless upload never reaches a handler. The rate limit is a token bucket per client
(the token's subject, or the client address for requests without a valid token) held in the
process: each instance limits on its own.
"""

import json
import math
import time
from collections import OrderedDict

from pydantic import BaseModel, Field
from starlette.types import ASGIApp, Message, Receive, Scope, Send


class RateLimitSettings(BaseModel):
    """Per-client token bucket (e.g. env `KCC_INTAKE_RATE_LIMIT__PER_SECOND`)."""

    enabled: bool = True
    per_second: float = Field(default=100.0, gt=0, description="Sustained requests per second per client")
    burst: int = Field(default=200, ge=1, description="Requests a client may send at once")
    max_clients: int = Field(default=100_000, ge=100, description="Clients tracked; the least recent are forgotten")


class RateLimiter:
    """Token buckets keyed by client; `take` returns None if allowed, else seconds to wait."""

    def __init__(self, settings: RateLimitSettings, *, clock=time.monotonic) -> None:
        self.settings = settings
        self._clock = clock
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()

    def take(self, key: str) -> float | None:
        s, now = self.settings, self._clock()
        tokens, last = self._buckets.pop(key, (float(s.burst), now))
        tokens = min(float(s.burst), tokens + (now - last) * s.per_second)
        allowed = tokens >= 1.0
        if allowed:
            tokens -= 1.0
        self._buckets[key] = (tokens, now)
        if len(self._buckets) > s.max_clients:
            self._buckets.popitem(last=False)
        return None if allowed else (1.0 - tokens) / s.per_second


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
