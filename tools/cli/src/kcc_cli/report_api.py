"""The metrics API as `kcc report` reads it: where it is, the bearer token, and the calls.

The token is read here and nowhere else: `KCC_TOKEN_OPS` (an operator's token) or else
`KCC_TOKEN`; without either the requests go unauthenticated, as the API allows until
authentication is switched on."""

import asyncio
from collections.abc import Callable
from datetime import date
from typing import Any

import httpx
from pydantic import SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

# Used when the API's OpenAPI document names no channel list (it does: the `channel` query enum).
FALLBACK_CHANNELS = ("telephone", "email", "web", "counter", "letter", "social", "callback")


class ApiSettings(BaseSettings):
    """Where the CLI finds the platform's APIs and which token it presents."""

    model_config = SettingsConfigDict(env_prefix="KCC_", extra="ignore")

    metrics_url: str = "http://127.0.0.1:8004"
    token_ops: SecretStr | None = None
    token: SecretStr | None = None

    def bearer(self) -> str | None:
        secret = self.token_ops or self.token
        return secret.get_secret_value() if secret and secret.get_secret_value() else None


def auth_headers(settings: ApiSettings) -> dict[str, str]:
    """`Authorization: Bearer …` when a token is configured, else nothing."""
    token = settings.bearer()
    return {"Authorization": f"Bearer {token}"} if token else {}


def metrics_client(base_url: str, settings: ApiSettings, *, timeout_s: float = 600.0) -> httpx.AsyncClient:
    # The service computes each KPI from its facts when asked: a city's working day takes it
    # seconds per request on a small machine, a long period minutes (benchmarks/report.py).
    return httpx.AsyncClient(base_url=base_url, headers=auth_headers(settings), timeout=timeout_s)


class ApiError(RuntimeError):
    """The metrics API answered with an error or could not be reached; the message says which."""


class MetricsApi:
    """The two metrics endpoints the report needs, plus the channel list from the OpenAPI document.
    At most `concurrency` requests are in flight: the service computes KPIs on one CPU, so more
    would only queue there (and run into the timeout) without finishing sooner."""

    def __init__(
        self, client: httpx.AsyncClient, *, concurrency: int = 2, progress: Callable[[int], None] | None = None
    ) -> None:
        self._client, self._gate = client, asyncio.Semaphore(concurrency)
        self._progress, self.answered = progress, 0

    async def _get(self, path: str, params: dict[str, str] | None = None) -> Any:
        async with self._gate:
            try:
                response = await self._client.get(path, params=params)
            except httpx.TimeoutException as exc:
                raise ApiError(f"metrics API at {self._client.base_url} did not answer GET {path} {params or ''} in time: {exc!r}") from exc
            except httpx.HTTPError as exc:
                raise ApiError(f"metrics API at {self._client.base_url} not reachable: {exc!r}") from exc
        self.answered += 1
        if self._progress:
            self._progress(self.answered)
        if response.status_code != 200:
            raise ApiError(f"GET {path} {params or ''} answered {response.status_code}: {response.text[:500]}")
        return response.json()

    async def service_norms(self, *, first: date, last: date, channel: str | None = None) -> dict[str, Any]:
        params = {"from": first.isoformat(), "to": last.isoformat()}
        if channel:
            params["channel"] = channel
        return await self._get("/v1/service-norms", params)

    async def daily_counts(self, day: date) -> dict[str, Any]:
        return await self._get("/v1/counts/daily", {"day": day.isoformat()})

    async def channels(self) -> list[str]:
        """The channels the service-norms endpoint accepts, as its OpenAPI document lists them."""
        try:
            document = await self._get("/openapi.json")
        except ApiError:
            return list(FALLBACK_CHANNELS)
        parameters = document.get("paths", {}).get("/v1/service-norms", {}).get("get", {}).get("parameters", [])
        for parameter in parameters:
            if parameter.get("name") == "channel":
                found = _enum(parameter.get("schema", {}), document)
                if found:
                    return found
        return list(FALLBACK_CHANNELS)


def _enum(schema: dict[str, Any], document: dict[str, Any], depth: int = 0) -> list[str]:
    """The first `enum` in a JSON schema, following `$ref`, `anyOf` and `oneOf`."""
    if depth > 8:
        return []
    if "enum" in schema:
        return [str(v) for v in schema["enum"] if v is not None]
    if "$ref" in schema:
        node: Any = document
        for part in schema["$ref"].lstrip("#/").split("/"):
            node = node.get(part, {}) if isinstance(node, dict) else {}
        return _enum(node, document, depth + 1)
    for key in ("anyOf", "oneOf", "allOf"):
        for option in schema.get(key, []):
            found = _enum(option, document, depth + 1)
            if found:
                return found
    return []
