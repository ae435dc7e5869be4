"""One HTTP client for every call the CLI makes to the platform, with the two hooks security
needs: `headers_for(role)` (a bearer token per role, from the environment) and `sign(source,
body)` (a webhook signature, a no-op until a secret is configured). Wiring real tokens and
signatures after the security work lands is a change in this file only.

Roles: `integrator_telephone`, `integrator_counter`, `integrator_web`, `integrator_email`,
`integrator_letter`, `integrator_social` (channel adapters posting to intake), `agent` (queues,
call-backs), `backoffice` (presence), `ops` (metrics). A token is read from
`KCC_TOKEN_<ROLE>` (e.g. `KCC_TOKEN_AGENT`), else `KCC_TOKEN_INTEGRATOR` for any integrator
role, else `KCC_TOKEN` for all; without one no Authorization header is sent.
"""

import asyncio
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx

from kcc_shared.webhooks import FreshSigner

DEFAULT_URLS = {
    "intake": "http://127.0.0.1:8001",
    "routing": "http://127.0.0.1:8002",
    "callback": "http://127.0.0.1:8003",
    "metrics": "http://127.0.0.1:8004",
}
SERVICES = tuple(DEFAULT_URLS)


def urls_from_env(env: Mapping[str, str] | None = None, **overrides: str | None) -> dict[str, str]:
    """Base URLs: explicit flags first, then `KCC_<SERVICE>_URL`, then the local defaults."""
    env = os.environ if env is None else env
    urls = {}
    for service, default in DEFAULT_URLS.items():
        urls[service] = (overrides.get(service) or env.get(f"KCC_{service.upper()}_URL") or default).rstrip("/")
    return urls


def headers_for(role: str, env: Mapping[str, str] | None = None) -> dict[str, str]:
    """The Authorization header for a role, from the environment; empty when no token is set."""
    env = os.environ if env is None else env
    candidates = [f"KCC_TOKEN_{role.upper()}"]
    if role.startswith("integrator"):
        candidates.append("KCC_TOKEN_INTEGRATOR")
    candidates.append("KCC_TOKEN")
    for name in candidates:
        if token := env.get(name):
            return {"Authorization": f"Bearer {token}"}
    return {}


_signer = FreshSigner()


def sign(source: str, body: bytes, env: Mapping[str, str] | None = None) -> dict[str, str]:
    """Signature headers for a webhook post from `source` (the README's scheme, HMAC-SHA256 over
    timestamp and body); none when no secret for that source is configured
    (`KCC_WEBHOOK_SECRETS` as JSON, or `KCC_WEBHOOK_SECRETS__<SOURCE>`)."""
    env = os.environ if env is None else env
    secrets = json.loads(env.get("KCC_WEBHOOK_SECRETS") or "{}")
    secret = env.get(f"KCC_WEBHOOK_SECRETS__{source.upper()}") or secrets.get(source)
    return _signer.sign(secret, body) if secret else {}


@dataclass
class Response:
    status: int
    body: Any

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300


@dataclass
class PlatformClient:
    """Talks to intake, routing, callback and metrics. `clients` may be injected (tests run the
    apps in-process); otherwise one pooled httpx client per service is created."""

    urls: dict[str, str] = field(default_factory=urls_from_env)
    clients: dict[str, httpx.AsyncClient] | None = None
    max_in_flight: int = 12
    timeout_s: float = 30.0
    env: Mapping[str, str] | None = None
    requests: int = 0
    errors: int = 0

    def __post_init__(self) -> None:
        self._own = self.clients is None
        if self.clients is None:
            limits = httpx.Limits(max_connections=self.max_in_flight, max_keepalive_connections=self.max_in_flight)
            self.clients = {
                s: httpx.AsyncClient(base_url=self.urls[s], timeout=self.timeout_s, limits=limits) for s in SERVICES
            }
        self._gate = asyncio.Semaphore(self.max_in_flight)

    async def aclose(self) -> None:
        if self._own and self.clients:
            for client in self.clients.values():
                await client.aclose()

    async def call(
        self, service: str, method: str, path: str, *, role: str, json_body: Any = None,
        params: dict[str, Any] | None = None, webhook_source: str | None = None, retries: int = 4,
        extra_headers: dict[str, str] | None = None,
    ) -> Response:
        """One request; connection errors and 503s are retried with a short back-off (the
        platform answers 503 with Retry-After while Kafka or the store is away)."""
        assert self.clients is not None
        headers = {**headers_for(role, self.env), **(extra_headers or {})}
        content = None
        if json_body is not None:
            content = json.dumps(json_body, default=str).encode()
            headers["content-type"] = "application/json"
        delay = 0.2
        for attempt in range(retries + 1):
            if webhook_source is not None and content is not None:
                # Signed afresh for every attempt: intake refuses a signature it has seen.
                headers.update(sign(webhook_source, content, self.env))
            try:
                async with self._gate:
                    self.requests += 1
                    reply = await self.clients[service].request(method, path, content=content, params=params, headers=headers)
            except httpx.TransportError:
                if attempt == retries:
                    self.errors += 1
                    return Response(599, None)
            else:
                if reply.status_code != 503 or attempt == retries:
                    if reply.status_code >= 500:
                        self.errors += 1
                    try:
                        body = reply.json()
                    except ValueError:
                        body = reply.text
                    return Response(reply.status_code, body)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 3.0)
        raise AssertionError("unreachable")

    # --- intake's channel adapters (integrators) -------------------------------------------

    async def post_channel(self, channel: str, path: str, payload: dict[str, Any]) -> Response:
        return await self.call(
            "intake", "POST", path, role=f"integrator_{channel}", json_body=payload, webhook_source=channel
        )

    # --- routing ------------------------------------------------------------------------------

    async def organisation(self) -> Response:
        return await self.call("routing", "GET", "/v1/organisation", role="ops")

    async def claim(self, contact_id: str, agent_id: str) -> Response:
        return await self.call("routing", "POST", f"/v1/queues/items/{contact_id}/claim", role="agent", json_body={"agent_id": agent_id})

    async def renew_lease(self, contact_id: str, agent_id: str) -> Response:
        return await self.call("routing", "POST", f"/v1/queues/items/{contact_id}/lease", role="agent", json_body={"agent_id": agent_id})

    async def resolve(self, contact_id: str, agent_id: str, outcome: str, handle_time_s: float) -> Response:
        body = {"agent_id": agent_id, "outcome": outcome, "handle_time_s": round(handle_time_s, 1)}
        return await self.call("routing", "POST", f"/v1/queues/items/{contact_id}/resolve", role="agent", json_body=body)

    async def transfer(self, contact_id: str, department_id: str | None, *, key: str | None = None) -> Response:
        """A hand-off; with `key` (sent as Idempotency-Key) a retried request is the same transfer, once."""
        return await self.call(
            "routing", "POST", f"/v1/contacts/{contact_id}/transfers", role="agent", json_body={"department_id": department_id},
            extra_headers={"Idempotency-Key": key} if key else None,
        )

    async def agent_status(self, agent_id: str, status: str) -> Response:
        return await self.call("routing", "PUT", f"/v1/agents/{agent_id}/status", role="agent", json_body={"status": status})

    async def presence(self, department_id: str, agents: list[str]) -> Response:
        return await self.call("routing", "PUT", f"/v1/presence/{department_id}", role="backoffice", json_body={"agents": agents})

    # --- callback -------------------------------------------------------------------------------

    async def callbacks_due_today(self, department_id: str) -> Response:
        return await self.call("callback", "GET", f"/v1/departments/{department_id}/callbacks/due-today", role="agent")

    async def callback_action(self, callback_id: str, action: str, body: dict[str, Any]) -> Response:
        return await self.call("callback", "POST", f"/v1/callbacks/{callback_id}/{action}", role="agent", json_body=body)

    # --- metrics --------------------------------------------------------------------------------

    async def metrics(self, path: str, params: dict[str, Any] | None = None) -> Response:
        return await self.call("metrics", "GET", path, role="ops", params=params, retries=2)
