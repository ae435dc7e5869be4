"""kcc.citizen.erasure-requested.v1 and kcc.citizen.erasure-completed.v1: the right to erasure.

Intake receives an erasure request (by BSN, phone or e-mail), erases its own store and
publishes the request with pseudonyms and contact ids only; every service that stores
citizen data erases its part and reports what it removed, so the result shows per service.
"""

from typing import Literal

from pydantic import AwareDatetime, Field

from kcc_shared.contracts.envelope import CloudEvent, Contract
from kcc_shared.contracts.events.common import PSEUDONYM


class CitizenErasureRequestedData(Contract):
    erasure_id: str
    pseudonyms: list[str] = Field(
        default_factory=list,
        description="Every keyed pseudonym of the citizen's identifiers (never the values), incl. their citizen keys",
        json_schema_extra={"items": {"pattern": PSEUDONYM}},
    )
    contact_ids: list[str] = Field(default_factory=list, description="The citizen's contacts, as intake knew them")
    requested_by: str = Field(min_length=1, description="Who asked: the subject of the authenticated token")
    reference: str | None = Field(default=None, description="The asker's reference for the request (e.g. an AVG case number)")
    requested_at: AwareDatetime


class CitizenErasureRequested(CloudEvent):
    """A citizen's data must be erased from every store (AVG art. 17)."""

    type: Literal["nl.contactstad.citizen.erasure-requested"] = "nl.contactstad.citizen.erasure-requested"
    data: CitizenErasureRequestedData


class CitizenErasureCompletedData(Contract):
    erasure_id: str
    service: str = Field(min_length=1, description="The service that erased its part")
    removed: dict[str, int] = Field(
        default_factory=dict, description="Documents removed (or made anonymous) per collection"
    )
    completed_at: AwareDatetime


class CitizenErasureCompleted(CloudEvent):
    """One service erased its part of an erasure request."""

    type: Literal["nl.contactstad.citizen.erasure-completed"] = "nl.contactstad.citizen.erasure-completed"
    data: CitizenErasureCompletedData
