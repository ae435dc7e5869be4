"""Keyed pseudonyms: how events name a citizen without carrying BSN, phone or e-mail in clear.

A pseudonym is HMAC-SHA256 over the kind and the normalised value with a secret only the
platform holds, so the same citizen gets the same pseudonym on every channel and in every
service, while someone reading a topic cannot reverse it or test a guess without the secret.
"""

import hashlib
import hmac

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

DEVELOPMENT_SECRET = "contact-stad-development-pseudonym-secret"

# Strongest first: a BSN names one person; an e-mail address or phone number may be shared.
IDENTIFIER_KINDS = ("bsn", "email", "phone", "social_handle")


class PrivacySettings(BaseSettings):
    """Secrets for personal data (env `KCC_PRIVACY_*`); production sets its own secret."""

    model_config = SettingsConfigDict(env_prefix="KCC_PRIVACY_", extra="ignore")

    pseudonym_secret: SecretStr = Field(
        default=SecretStr(DEVELOPMENT_SECRET), description="HMAC key for citizen pseudonyms; the same in every service"
    )


class Pseudonymiser:
    def __init__(self, secret: str) -> None:
        self._key = secret.encode()

    def pseudonym(self, kind: str, value: str) -> str:
        digest = hmac.new(self._key, f"{kind}:{value}".encode(), hashlib.sha256).hexdigest()
        return f"{kind}:{digest[:32]}"

    def of(self, identifiers: dict[str, str | None]) -> dict[str, str]:
        """A pseudonym per identifier kind given, e.g. {"phone": "phone:…"}."""
        return {kind: self.pseudonym(kind, value) for kind in IDENTIFIER_KINDS if (value := identifiers.get(kind))}

    def citizen_key(self, identifiers: dict[str, str | None]) -> str | None:
        """The pseudonym of the strongest identifier given; None for an anonymous contact."""
        for kind in IDENTIFIER_KINDS:
            value = identifiers.get(kind)
            if value:
                return self.pseudonym(kind, value)
        return None
