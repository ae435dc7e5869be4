"""kcc.dept.<department>.contacts.v1."""

from typing import Literal

from pydantic import AwareDatetime, Field

from kcc_shared.contracts.envelope import CloudEvent, Contract
from kcc_shared.contracts.events.common import Channel, CitizenPseudonyms
from kcc_shared.contracts.events.contact import Decision


# --- kcc.dept.<department>.contacts.v1 ----------------------------------------------------


class DepartmentContactAssignedData(Contract):
    contact_id: str
    department_id: str
    channel: Channel
    decision: Decision
    received_at: AwareDatetime
    subject: str | None = None
    text: str | None = None
    upl_uri: str | None = None
    due_at: AwareDatetime | None = None
    citizen: CitizenPseudonyms = Field(
        default_factory=CitizenPseudonyms, description="Who asked, as pseudonyms; intake's registry resolves them"
    )


class DepartmentContactAssigned(CloudEvent):
    """Work for one department's back-office; only its own topic carries the content."""

    type: Literal["nl.contactstad.department.contact-assigned"] = (
        "nl.contactstad.department.contact-assigned"
    )
    data: DepartmentContactAssignedData
