"""Client for intake's citizen registry: resolves a keyed pseudonym to the clear value.

Only services that must act on the value (the callback service dialling a number) use it, with
their own bearer token; the value is then kept in that service's store, never in an event.
"""

from typing import Any

import httpx
from pydantic import Field, SecretStr
from pydantic import BaseModel


class RegistrySettings(BaseModel):
    """Where intake's registry is and the token to ask it with."""

    url: str | None = Field(default=None, description="Intake's base URL, e.g. http://127.0.0.1:8001; unset = do not resolve")
    token: SecretStr | None = Field(default=None, description="Bearer token of this service (role service:<name>)")
    timeout_s: float = Field(default=5.0, gt=0)


class UnknownPseudonym(LookupError):
    """The registry has no value for this pseudonym (never registered, or erased)."""


class RegistryClient:
    def __init__(self, settings: RegistrySettings, *, transport: httpx.AsyncBaseTransport | None = None) -> None:
        self._settings, self._transport = settings, transport

    @property
    def configured(self) -> bool:
        return self._settings.url is not None or self._transport is not None

    async def resolve(self, pseudonym: str) -> dict[str, Any]:
        """{"pseudonym", "kind", "value"}; UnknownPseudonym on 404, httpx errors otherwise (retryable)."""
        headers = {}
        if self._settings.token is not None:
            headers["Authorization"] = f"Bearer {self._settings.token.get_secret_value()}"
        async with httpx.AsyncClient(
            base_url=self._settings.url or "http://intake", transport=self._transport, timeout=self._settings.timeout_s
        ) as http:
            response = await http.get(f"/v1/registry/pseudonyms/{pseudonym}", headers=headers)
        if response.status_code == 404:
            raise UnknownPseudonym(pseudonym)
        response.raise_for_status()
        return response.json()
