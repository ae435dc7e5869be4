"""Building blocks several events share."""

import re
from enum import StrEnum
from typing import Any

from pydantic import AwareDatetime, Field, field_validator

from kcc_shared.contracts.envelope import Contract


class Channel(StrEnum):
    """How the citizen reached the municipality (klantcontact.kanaal)."""

    TELEPHONE = "telephone"
    EMAIL = "email"
    WEB = "web"
    COUNTER = "counter"
    LETTER = "letter"
    SOCIAL = "social"


class CitizenIdentifiers(Contract):
    """How to recognise the citizen; personal data (AVG), normalised at intake. Never in an
    event: intake keeps these in its own store and events carry `CitizenPseudonyms`."""

    bsn: str | None = Field(default=None, pattern=r"^\d{9}$", description="BSN, 11-proef checked")
    phone: str | None = Field(default=None, pattern=r"^\+[1-9]\d{6,14}$", description="E.164")
    email: str | None = Field(default=None, description="Lower-cased e-mail address")
    social_handle: str | None = Field(default=None, description="platform:handle on social media")


PSEUDONYM = r"^(bsn|email|phone|social_handle):[0-9a-f]{32}$"


class CitizenPseudonyms(Contract):
    """How events name the citizen: a keyed pseudonym per identifier the citizen gave (never the
    value itself). Presence is the pseudonym being set (e.g. `phone` set = a call-back is possible);
    a service that needs the clear value asks intake's registry with its token."""

    bsn: str | None = Field(default=None, pattern=PSEUDONYM, description="Pseudonym of the BSN")
    phone: str | None = Field(default=None, pattern=PSEUDONYM, description="Pseudonym of the E.164 phone number")
    email: str | None = Field(default=None, pattern=PSEUDONYM, description="Pseudonym of the e-mail address")
    social_handle: str | None = Field(default=None, pattern=PSEUDONYM, description="Pseudonym of platform:handle")

    @field_validator("bsn", "phone", "email", "social_handle", mode="before")
    @classmethod
    def _only_pseudonyms(cls, value: Any) -> Any:
        """Events from before pseudonymisation carried clear values in these fields: read them as
        absent, so a replay neither fails on them nor passes them on."""
        if isinstance(value, str) and not re.match(PSEUDONYM, value):
            return None
        return value


class Attachment(Contract):
    """What came with a message: described, not carried (the content stays with intake)."""

    filename: str
    content_type: str
    size: int = Field(ge=0, description="Bytes")
    attachment_id: str | None = Field(
        default=None, description="Intake's id of the stored content: GET /v1/contacts/{contact_id}/attachments/{attachment_id}"
    )
    sha256: str | None = Field(default=None, pattern=r"^[0-9a-f]{64}$", description="SHA-256 of the content, hex")


class TimeWindow(Contract):
    start: AwareDatetime
    end: AwareDatetime
