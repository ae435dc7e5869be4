"""Abuse limits: a request body size limit for every service, a per-client rate limit.

The size limit reads at most `max_body_bytes` (declared or streamed) before answering 413, so
a huge or endless upload never reaches a handler. The rate limit is a token bucket per client
(the token's subject, or the client address for requests without a valid token) held in the
process: each instance limits on its own.
"""

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
