"""Who is calling: OAuth2 bearer JWTs checked against the municipality's keys.

Every service validates the token itself (signature, issuer, audience, expiry) with keys from
a JWKS URL (the OIDC provider's `jwks_uri`), a JWKS file, or one static PEM public key, all
configured once through `KCC_AUTH_*`. The token's `roles` claim says what the caller may do;
`kcc_shared.access` holds the table of route × role and enforces it.
"""

import asyncio
import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import jwt
from cryptography.hazmat.primitives.serialization import load_pem_public_key
from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

log = logging.getLogger(__name__)

DEV_ISSUER = "https://auth.contact-stad.local/dev"
DEFAULT_AUDIENCE = "contact-stad"
REALM = "contact-stad"
CACHE_S = 60.0  # longest a checked token is trusted without checking its signature again
CACHE_SIZE = 4096


class AuthSettings(BaseSettings):
    """How tokens are validated (env `KCC_AUTH_*`, the same for every service)."""

    model_config = SettingsConfigDict(env_prefix="KCC_AUTH_", extra="ignore")

    issuer: str = Field(default=DEV_ISSUER, description="Expected `iss`: the OIDC provider's issuer URL")
    audience: str = Field(default=DEFAULT_AUDIENCE, description="Expected `aud`")
    jwks_url: str | None = Field(default=None, description="The provider's JWKS (keys fetched and cached)")
    jwks_file: Path | None = Field(default=None, description="A JWKS document on disk")
    public_key_file: Path | None = Field(default=None, description="One PEM public key (static)")
    algorithms: list[str] = Field(default=["RS256", "ES256"], description="Accepted signature algorithms")
    leeway_s: float = Field(default=30.0, ge=0, le=300, description="Clock skew allowed on exp/nbf/iat")
    roles_claim: str = Field(default="roles", description="Claim holding the list of roles")
    jwks_cache_s: float = Field(default=300.0, gt=0)
    service_token: SecretStr | None = Field(
        default=None, description="Bearer this service sends when it calls another service (role service:<name>)"
    )


class InvalidToken(Exception):
    """The bearer token is missing, malformed, expired, foreign or tampered with."""


@dataclass(frozen=True)
class Principal:
    """The authenticated caller: token subject and roles."""

    subject: str
    roles: frozenset[str]
    claims: dict[str, Any]

    def scoped(self, kind: str) -> set[str]:
        """The ids of `kind:<id>` roles, e.g. the departments of `department:<id>`."""
        prefix = f"{kind}:"
        return {r[len(prefix):] for r in self.roles if r.startswith(prefix)}


class TokenValidator:
    """Checks a JWT against the configured keys; raises InvalidToken with the reason."""

    def __init__(self, settings: AuthSettings) -> None:
        self.settings = settings
        self._checked: dict[str, tuple[Principal, float]] = {}  # token -> (principal, valid until)
        self._static: dict[str | None, Any] = {}
        self._jwks_client = jwt.PyJWKClient(settings.jwks_url, lifespan=settings.jwks_cache_s) if settings.jwks_url else None
        if settings.jwks_file is not None:
            keyset = jwt.PyJWKSet.from_dict(json.loads(settings.jwks_file.read_text(encoding="utf-8")))
            self._static.update({k.key_id: k for k in keyset.keys})
        if settings.public_key_file is not None:
            self._static[None] = load_pem_public_key(settings.public_key_file.read_bytes())
        if not self._static and self._jwks_client is None:
            log.warning("no token keys configured (KCC_AUTH_JWKS_URL, _JWKS_FILE or _PUBLIC_KEY_FILE): every API call gets 401")

    @property
    def configured(self) -> bool:
        return bool(self._static) or self._jwks_client is not None

    async def _key_for(self, token: str, header: dict[str, Any]) -> Any:
        kid = header.get("kid")
        if kid in self._static:
            return self._static[kid]
        if None in self._static and (kid is None or self._jwks_client is None):
            return self._static[None]
        if self._jwks_client is not None:
            try:  # PyJWKClient fetches synchronously: keep it off the event loop
                return await asyncio.to_thread(self._jwks_client.get_signing_key_from_jwt, token)
            except jwt.PyJWKClientError as exc:
                raise InvalidToken(f"no key for this token: {exc}") from exc
        raise InvalidToken("no key for this token" if self.configured else "no token keys configured")

    async def validate(self, token: str) -> Principal:
        """The token's principal. A token checked before is taken from a small cache until its
        `exp` or for `CACHE_S` at most (a key withdrawn from the JWKS stops it within that): a
        client sends the same token with every request. Checking it each time cost intake 0.3 of
        its 1.6 ms of CPU per accepted contact (benchmarks/intake_web.py: 470 -> 563 contacts/s)."""
        now = time.time()
        cached = self._checked.get(token)
        if cached is not None:
            principal, until = cached
            if now < until:
                return principal
            del self._checked[token]
        principal = await self._validate(token)
        exp = principal.claims.get("exp")
        until = min(now + CACHE_S, float(exp) if isinstance(exp, int | float) else now)
        if until > now:
            if len(self._checked) >= CACHE_SIZE:
                del self._checked[next(iter(self._checked))]  # the oldest entry
            self._checked[token] = (principal, until)
        return principal

    async def _validate(self, token: str) -> Principal:
        s = self.settings
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise InvalidToken(f"malformed token: {exc}") from exc
        if header.get("alg") not in s.algorithms:
            raise InvalidToken(f"algorithm {header.get('alg')!r} not accepted")
        key = await self._key_for(token, header)
        try:
            claims = jwt.decode(
                token, key, algorithms=s.algorithms, audience=s.audience, issuer=s.issuer, leeway=s.leeway_s,
                options={"require": ["exp", "iss", "aud", "sub"]},
            )
        except jwt.ExpiredSignatureError as exc:
            raise InvalidToken("token expired") from exc
        except jwt.PyJWTError as exc:
            raise InvalidToken(str(exc) or type(exc).__name__) from exc
        roles = claims.get(s.roles_claim, [])
        if not isinstance(roles, list) or not all(isinstance(r, str) for r in roles):
            raise InvalidToken(f"claim {s.roles_claim!r} must be a list of strings")
        return Principal(subject=str(claims["sub"]), roles=frozenset(roles), claims=claims)


def bearer(authorization: str | None) -> str | None:
    """The token of an `Authorization: Bearer <token>` header, else None."""
    if not authorization:
        return None
    scheme, _, token = authorization.partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


class ServiceAuth(httpx.Auth):
    """httpx auth for calls from one service to another: sends `KCC_AUTH_SERVICE_TOKEN`."""

    def __init__(self, settings: AuthSettings) -> None:
        self._token = settings.service_token

    def auth_flow(self, request: httpx.Request):
        if self._token is not None:
            request.headers["Authorization"] = f"Bearer {self._token.get_secret_value()}"
        yield request
