"""Request guards for channel endpoints: 415 for non-JSON bodies, 413 for oversized ones.

A plain ASGI middleware that looks at the headers only: Starlette's `BaseHTTPMiddleware`
(what `@app.middleware("http")` builds) costs a task group, memory streams and a streaming
response per request, a good part of intake's CPU per contact. A body whose size is not
declared, or is declared falsely, is counted as it streams by the shared `BodySizeLimit`
(same limit, same 413)."""

import json

from fastapi import FastAPI
from starlette.types import ASGIApp, Receive, Scope, Send


def add_request_limits(app: FastAPI, *, max_body_bytes: int) -> None:
    app.add_middleware(JsonBodyGuard, max_body_bytes=max_body_bytes)


class JsonBodyGuard:
    def __init__(self, app: ASGIApp, *, max_body_bytes: int) -> None:
        self.app, self.max_body_bytes = app, max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] in {"POST", "PUT", "PATCH"}:
            headers = dict(scope["headers"])
            content_type = headers.get(b"content-type", b"").decode("latin-1").split(";")[0].strip().lower()
            if content_type != "application/json":
                await _answer(send, 415, f"content-type must be application/json, not {content_type or 'missing'}")
                return
            declared = headers.get(b"content-length", b"")
            if declared.isdigit() and int(declared) > self.max_body_bytes:
                await _answer(send, 413, f"body larger than {self.max_body_bytes} bytes")
                return
        await self.app(scope, receive, send)


async def _answer(send: Send, status: int, detail: str) -> None:
    body = json.dumps({"detail": detail}).encode()
    await send({"type": "http.response.start", "status": status, "headers": [
        (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
    ]})
    await send({"type": "http.response.body", "body": body})
