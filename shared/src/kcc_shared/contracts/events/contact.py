"""kcc.contact.received.v1, kcc.contact.routed.v1 and kcc.contact.resolved.v1."""

from typing import Literal

from pydantic import AwareDatetime, Field

from kcc_shared.contracts.envelope import CloudEvent, Contract
from kcc_shared.contracts.events.common import Attachment, Channel, CitizenIdentifiers


# --- kcc.contact.received.v1 -------------------------------------------------------------


class ContactReceivedData(Contract):
    contact_id: str = Field(description="Our id of the contactmoment")
    channel: Channel = Field(description="klantcontact.kanaal")
    received_at: AwareDatetime = Field(description="klantcontact.plaatsgevondenOp")
    subject: str | None = Field(default=None, description="klantcontact.onderwerp")
    text: str | None = Field(default=None, description="klantcontact.inhoud")
    language: str = Field(default="nl", description="klantcontact.taal (ISO 639-1)")
    confidential: bool = Field(default=False, description="klantcontact.vertrouwelijk")
    channel_message_id: str | None = Field(
        default=None, description="The channel's own id of the message, for de-duplication"
    )
    citizen: CitizenIdentifiers = Field(default_factory=CitizenIdentifiers)
    citizen_key: str | None = Field(
        default=None,
        description="Keyed pseudonym of the citizen (HMAC of the strongest identifier: BSN, e-mail, phone, social handle); "
        "the same citizen has the same key on every channel; None when anonymous",
    )
    service_line: str | None = Field(default=None, description="Phone: line the IVR chose")
    reference: str | None = Field(default=None, description="Reference number given to the citizen")
    attachments: list[Attachment] = Field(default_factory=list)
    thread_id: str | None = Field(default=None, description="E-mail or social conversation it belongs to")
    platform: str | None = Field(default=None, description="Social: the platform, e.g. facebook, whatsapp")
    acknowledge_due_at: AwareDatetime | None = Field(default=None, description="Letter: acknowledge by (5 working days)")
    answer_due_at: AwareDatetime | None = Field(default=None, description="Letter: answer by (6 weeks)")


class ContactReceived(CloudEvent):
    """A citizen contact arrived on any channel."""

    type: Literal["nl.contactstad.contact.received"] = "nl.contactstad.contact.received"
    data: ContactReceivedData


# --- kcc.contact.routed.v1 ---------------------------------------------------------------

Decision = Literal["answer_in_kcc", "warm_transfer", "callback", "forward_to_department"]



class ContactRoutedData(Contract):
    contact_id: str
    channel: Channel
    decision: Decision
    reason: str = Field(min_length=1, description="Why this decision, for people")
    department_id: str | None = Field(default=None, description="Owning department, if any")
    upl_uri: str | None = Field(default=None, description="UPL product the contact is about")
    upl_name: str | None = None
    due_at: AwareDatetime | None = Field(default=None, description="Answer due by channel norm")
    transfers_so_far: int = Field(default=0, ge=0)
    routed_at: AwareDatetime


class ContactRouted(CloudEvent):
    """Routing decided who answers a contact and why."""

    type: Literal["nl.contactstad.contact.routed"] = "nl.contactstad.contact.routed"
    data: ContactRoutedData


# --- kcc.contact.resolved.v1 -------------------------------------------------------------


class ContactResolvedData(Contract):
    contact_id: str
    channel: Channel
    outcome: Literal["answered_in_kcc", "transferred", "callback", "forwarded"]
    resolved_at: AwareDatetime
    resolved_by: str | None = Field(default=None, description="Agent id (actor)")
    handle_time_s: float | None = Field(default=None, ge=0)
    upl_uri: str | None = None
    department_id: str | None = None


class ContactResolved(CloudEvent):
    """An agent closed a contact with an outcome."""

    type: Literal["nl.contactstad.contact.resolved"] = "nl.contactstad.contact.resolved"
    data: ContactResolvedData


# --- kcc.contact.acknowledged.v1 ---------------------------------------------------------


class ContactAcknowledgedData(Contract):
    contact_id: str
    channel: Channel
    acknowledged_at: AwareDatetime = Field(description="When the acknowledgement (ontvangstbevestiging) was sent")
    means: Literal["letter", "email", "other"] = Field(
        default="letter", description="How it was sent: a letter from the post room, an automatic e-mail reply"
    )


class ContactAcknowledged(CloudEvent):
    """The citizen was told their letter or message arrived (the ontvangstbevestiging went out)."""

    type: Literal["nl.contactstad.contact.acknowledged"] = "nl.contactstad.contact.acknowledged"
    data: ContactAcknowledgedData
