"""kcc.contact.answered.v1: the answers sent to citizens, and those that did not arrive."""

from typing import Literal

from pydantic import AwareDatetime, Field

from kcc_shared.contracts.envelope import CloudEvent, Contract
from kcc_shared.contracts.events.common import Attachment, Channel

ReplyChannel = Literal["email", "letter", "social"]


class ContactAnsweredData(Contract):
    contact_id: str
    reply_id: str = Field(description="Intake's id of the reply; a contact may get more than one")
    channel: Channel = Field(description="The channel the contact came in on")
    reply_channel: ReplyChannel = Field(description="How the answer went out")
    answered_at: AwareDatetime = Field(
        description="When the answer left us: the relay accepted the e-mail, the integrator's webhook took the "
        "social reply, the letter's PDF was ready for the post room"
    )
    replied_by: str | None = Field(default=None, description="The agent's or back-office's id (actor), as in its token")
    department_id: str | None = Field(default=None, description="Owning department, when routing named one")
    attachments: list[Attachment] = Field(
        default_factory=list, description="Referenced by id and checksum, never embedded"
    )
    readability: float | None = Field(default=None, description="Letter: Flesch-Douma score of the answer (higher = easier)")
    above_b1: bool | None = Field(default=None, description="Letter: the answer reads above language level B1")


class ContactAnswered(CloudEvent):
    """An answer to a contact went out on the citizen's channel (no text: that stays with intake)."""

    type: Literal["nl.contactstad.contact.answered"] = "nl.contactstad.contact.answered"
    data: ContactAnsweredData


class ContactReplyUndeliveredData(Contract):
    contact_id: str
    reply_id: str
    channel: Channel = Field(description="The channel the contact came in on")
    reply_channel: ReplyChannel
    received_at: AwareDatetime = Field(description="When the contact came in, for its place in the queue")
    department_id: str | None = None
    reason: str = Field(min_length=1, description="Why, for people: the bounce's status, the relay's refusal")
    undelivered_at: AwareDatetime


class ContactReplyUndelivered(CloudEvent):
    """An answer did not reach the citizen (a bounce, a permanent refusal): the contact needs work again."""

    type: Literal["nl.contactstad.contact.reply-undelivered"] = "nl.contactstad.contact.reply-undelivered"
    data: ContactReplyUndeliveredData
