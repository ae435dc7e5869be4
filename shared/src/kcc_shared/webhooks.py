"""Signed channel webhooks: HMAC-SHA256 over timestamp and body with a secret per source.

A sender (telephony platform, mail provider, social platform, counter system) adds

    X-KCC-Timestamp: <unix seconds>
    X-KCC-Signature: v1=<hex HMAC-SHA256(secret, "<timestamp>." + body)>

The receiver refuses (401) a missing or wrong signature, a timestamp more than `max_age_s`
(5 minutes) from its clock, and any signature it has seen before: each accepted signature is
inserted once into a store with a unique key, so a replay fails on the insert.
"""

import hashlib
import hmac
import time
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Protocol

import httpx
from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import DuplicateKeyError

TIMESTAMP_HEADER = "X-KCC-Timestamp"
SIGNATURE_HEADER = "X-KCC-Signature"
VERSION = "v1"


class WebhookSettings(BaseSettings):
    """Per-source secrets (env `KCC_WEBHOOK_SECRETS__<SOURCE>` or JSON `KCC_WEBHOOK_SECRETS`)."""

    model_config = SettingsConfigDict(env_prefix="KCC_WEBHOOK_", env_nested_delimiter="__", extra="ignore")

    secrets: dict[str, SecretStr] = Field(
        default_factory=dict, description="Secret per source: telephone, email, social, counter"
    )
    max_age_s: float = Field(default=300.0, gt=0, le=3600, description="Oldest (or most future) timestamp accepted")


def signature(secret: str, body: bytes, timestamp: int) -> str:
    """The `X-KCC-Signature` value for `body` sent at `timestamp`."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"{VERSION}={mac}"


def sign(secret: str, body: bytes, *, timestamp: int | None = None) -> dict[str, str]:
    """Headers that sign `body` with `secret` (now, unless a timestamp is given)."""
    ts = int(time.time()) if timestamp is None else timestamp
    return {TIMESTAMP_HEADER: str(ts), SIGNATURE_HEADER: signature(secret, body, ts)}


class FreshSigner:
    """Signs so that no two requests get the same signature: a body sent again within the same
    second (a retry, a test posting a duplicate) gets the next second's timestamp, since the
    receiver refuses a signature it has seen."""

    def __init__(self) -> None:
        self._last: dict[str, int] = {}

    def sign(self, secret: str, body: bytes) -> dict[str, str]:
        key = hashlib.sha256(secret.encode() + b"|" + body).hexdigest()
        ts = max(int(time.time()), self._last.get(key, 0) + 1)
        self._last[key] = ts
        if len(self._last) > 10_000:
            self._last.clear()
        return sign(secret, body, timestamp=ts)


class WebhookSigner(httpx.Auth):
    """httpx auth that signs requests to webhook paths: `paths` maps a URL path to its source."""

    requires_request_body = True

    def __init__(self, secrets: Mapping[str, str], paths: Mapping[str, str]) -> None:
        self._secrets, self._paths = dict(secrets), dict(paths)
        self._signer = FreshSigner()

    def auth_flow(self, request: httpx.Request):
        source = self._paths.get(request.url.path)
        if source is not None and source in self._secrets and SIGNATURE_HEADER not in request.headers:
            request.headers.update(self._signer.sign(self._secrets[source], request.content))
        yield request


class InvalidSignature(Exception):
    """Why a webhook request was refused."""


class SeenSignatures(Protocol):
    async def first_time(self, *, source: str, signature: str, at: datetime) -> bool: ...


class MongoSeenSignatures:
    """Signatures accepted so far, one document per signature (`_id`: the unique key).

    A signature is remembered for `keep` after its timestamp (by a TTL index): older ones fail
    the age check anyway, so the collection holds only the last minutes' requests."""

    def __init__(self, collection: AsyncCollection, *, keep: timedelta = timedelta(minutes=10)) -> None:
        self._collection, self._keep = collection, keep

    async def ensure_indexes(self) -> None:
        await self._collection.create_index("expires_at", name="ttl", expireAfterSeconds=0)

    async def first_time(self, *, source: str, signature: str, at: datetime) -> bool:
        try:
            await self._collection.insert_one(
                {"_id": f"{source}|{signature}", "source": source, "at": at, "expires_at": at + self._keep}
            )
        except DuplicateKeyError:
            return False
        return True


class WebhookVerifier:
    """Checks timestamp, signature and replay for one request of a given source."""

    def __init__(self, settings: WebhookSettings, seen: SeenSignatures, *, clock=lambda: datetime.now(UTC)) -> None:
        self._secrets = {k: v.get_secret_value() for k, v in settings.secrets.items()}
        self.max_age = timedelta(seconds=settings.max_age_s)
        self._seen = seen
        self._clock = clock

    async def verify(
        self, *, source: str, body: bytes, timestamp: str | None, signature_header: str | None, path: str = ""
    ) -> None:
        secret = self._secrets.get(source)
        if not secret:
            raise InvalidSignature(f"no secret configured for source {source!r}")
        if not timestamp or not signature_header:
            raise InvalidSignature(f"{TIMESTAMP_HEADER} and {SIGNATURE_HEADER} are required")
        try:
            ts = int(timestamp)
            sent = datetime.fromtimestamp(ts, UTC)
        except (ValueError, OverflowError, OSError) as exc:
            raise InvalidSignature(f"{TIMESTAMP_HEADER} must be unix seconds") from exc
        now = self._clock()
        if abs(now - sent) > self.max_age:
            raise InvalidSignature(f"{TIMESTAMP_HEADER} more than {int(self.max_age.total_seconds())} s from now")
        if not hmac.compare_digest(signature(secret, body, ts), signature_header.strip()):
            raise InvalidSignature("signature does not match")
        if not await self._seen.first_time(source=f"{source}|{path}", signature=signature_header.strip(), at=now):
            raise InvalidSignature("signature already used (replay)")
