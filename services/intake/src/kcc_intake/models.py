"""What channels post to intake, validated at the edge before it becomes a contract event."""

from datetime import date
from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator

from kcc_intake.identifiers import is_valid_bsn, normalise_email, normalise_phone

EMAIL = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"


class ChannelInput(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class CitizenFields(ChannelInput):
    """Identifiers a citizen may give; normalised so one citizen looks the same everywhere."""

    bsn: str | None = Field(default=None, description="Burgerservicenummer, checked with the 11-proef")
    email: str | None = Field(default=None, pattern=EMAIL, max_length=254)
    phone: str | None = Field(default=None, max_length=40, description="Any common notation; stored as E.164")

    @field_validator("bsn")
    @classmethod
    def _bsn(cls, value: str | None) -> str | None:
        if value and not is_valid_bsn(value):
            raise ValueError("not a valid BSN (11-proef)")
        return value or None

    @field_validator("phone")
    @classmethod
    def _phone(cls, value: str | None) -> str | None:
        return normalise_phone(value) if value else None

    @field_validator("email")
    @classmethod
    def _email(cls, value: str | None) -> str | None:
        return normalise_email(value) if value else None


class AttachmentUpload(ChannelInput):
    """A file sent along, its content base64-encoded in the JSON body."""

    filename: str = Field(min_length=1, max_length=255, examples=["uittreksel.pdf"])
    content_type: str = Field(default="application/octet-stream", min_length=3, max_length=200, pattern=r"^[\w.+-]+/[\w.+-]+$")
    content_base64: str = Field(min_length=1, description="The file's bytes, base64 (standard alphabet)")


class WebFormSubmission(CitizenFields):
    """A contact form or e-form submitted on the municipality's website."""

    form_id: str = Field(min_length=1, max_length=100, examples=["contactformulier"])
    submission_id: str | None = Field(
        default=None, max_length=200, description="The form system's id; a resubmission with the same id is one contact"
    )
    subject: str = Field(min_length=1, max_length=200, examples=["Paspoort verlopen"])
    message: str = Field(min_length=1, max_length=20_000)
    name: str | None = Field(default=None, max_length=200)
    submitted_at: AwareDatetime | None = None
    attachments: list[AttachmentUpload] = Field(
        default_factory=list, max_length=20, description="Kept by intake; events reference them by id and SHA-256"
    )


class WebAppointmentBooking(CitizenFields):
    """An appointment booked online for the counter."""

    booking_id: str = Field(min_length=1, max_length=200)
    product: str = Field(min_length=1, max_length=200, examples=["paspoort"])
    location: str = Field(min_length=1, max_length=100)
    scheduled_for: AwareDatetime
    booked_at: AwareDatetime | None = None


class CallEventBase(ChannelInput):
    call_id: str = Field(min_length=1, max_length=200)
    at: AwareDatetime


class CallOfferedIn(CallEventBase):
    event: Literal["offered"]
    dialled_number: str = Field(min_length=3, max_length=20)
    caller_number: str | None = Field(default=None, max_length=40, description="Withheld numbers are null")
    ivr_choice: str | None = Field(default=None, max_length=50)


class CallAnsweredIn(CallEventBase):
    event: Literal["answered"]
    agent_id: str = Field(min_length=1)
    wait_s: float = Field(ge=0)


class CallAbandonedIn(CallEventBase):
    event: Literal["abandoned"]
    wait_s: float = Field(ge=0)


class CallTransferredIn(CallEventBase):
    event: Literal["transferred"]
    target: str = Field(min_length=1)
    warm: bool
    announced: bool


class CallEndedIn(CallEventBase):
    event: Literal["ended"]
    talk_s: float = Field(ge=0)
    hold_s: float = Field(default=0, ge=0)
    wrap_up_s: float = Field(default=0, ge=0)


class CallCallbackRequestedIn(CallEventBase):
    event: Literal["callback_requested"]
    phone: str = Field(max_length=40)

    @field_validator("phone")
    @classmethod
    def _phone(cls, value: str) -> str:
        return normalise_phone(value)


CallEventIn = Annotated[
    CallOfferedIn | CallAnsweredIn | CallAbandonedIn | CallTransferredIn | CallEndedIn | CallCallbackRequestedIn,
    Field(discriminator="event"),
]


class CounterVisitIn(ChannelInput):
    """A queue-ticket system event at the counter (balie)."""

    ticket_id: str = Field(min_length=1, max_length=100)
    location: str = Field(min_length=1, max_length=100)
    stage: Literal["drawn", "called", "served", "left"]
    at: AwareDatetime
    service_line: str | None = Field(default=None, max_length=100)
    desk: str | None = Field(default=None, max_length=50)
    appointment_id: str | None = Field(default=None, max_length=200)


class CounterAppointmentIn(CitizenFields):
    """An appointment planner event."""

    appointment_id: str = Field(min_length=1, max_length=200)
    location: str = Field(min_length=1, max_length=100)
    status: Literal["booked", "cancelled", "no_show", "served"]
    scheduled_for: AwareDatetime
    at: AwareDatetime
    product: str | None = Field(default=None, max_length=200)


class LetterIn(CitizenFields):
    """A letter scanned in the post room, with its OCR text."""

    scan_reference: str = Field(min_length=1, max_length=200)
    received_on: date
    ocr_text: str = Field(min_length=1, max_length=100_000)
    subject: str | None = Field(default=None, max_length=200)
    sender_name: str | None = Field(default=None, max_length=200)


class SocialMessageIn(ChannelInput):
    """A message from a social or messaging platform."""

    platform: str = Field(min_length=1, max_length=50, examples=["facebook", "whatsapp", "x"])
    message_id: str = Field(min_length=1, max_length=200)
    handle: str = Field(min_length=1, max_length=200)
    text: str = Field(min_length=1, max_length=20_000)
    thread_id: str | None = Field(default=None, max_length=200)
    sent_at: AwareDatetime | None = None


class AttachmentIn(ChannelInput):
    filename: str = Field(min_length=1, max_length=255)
    content_type: str = Field(min_length=3, max_length=200)
    size: int = Field(ge=0)


class InboundEmailIn(ChannelInput):
    """Inbound mail as a mail provider's webhook posts it."""

    message_id: str = Field(min_length=1, max_length=998)
    from_address: str = Field(pattern=EMAIL, max_length=254)
    to: list[str] = Field(min_length=1)
    subject: str = Field(default="", max_length=998)
    text: str | None = Field(default=None, max_length=1_000_000)
    html: str | None = Field(default=None, max_length=2_000_000)
    attachments: list[AttachmentIn] = Field(default_factory=list)
    in_reply_to: str | None = None
    received_at: AwareDatetime | None = None

    @field_validator("from_address")
    @classmethod
    def _lower(cls, value: str) -> str:
        return normalise_email(value)


class Accepted(BaseModel):
    contact_id: str
    event_id: str
    reference: str | None = Field(default=None, description="Reference number for the citizen")
    duplicate: bool = Field(description="True when this message was already accepted before")
    published: bool = Field(
        description="False: safe in the outbox, published once Kafka is back (or, for a duplicate another "
        "replica accepted a moment ago, by that replica)"
    )


class AcknowledgementIn(BaseModel):
    """The post room (or another channel) sent the citizen an acknowledgement of receipt."""

    model_config = ConfigDict(extra="forbid")

    acknowledged_at: AwareDatetime | None = Field(default=None, description="When it was sent; default now")
    means: Literal["letter", "email", "other"] = "letter"


class Recorded(BaseModel):
    event_id: str
    contact_id: str | None = None
    published: bool


class TimelinePage(BaseModel):
    total: int
    page: int
    page_size: int
    contacts: list[dict]


class TimelineView(BaseModel):
    """One look at a citizen's timeline, as protocollering keeps it."""

    view_id: str
    at: AwareDatetime
    viewer: str = Field(description="The token's subject: who looked")
    roles: list[str] = Field(description="The roles the viewer's token carried")
    citizen_keys: list[str] = Field(description="Pseudonyms of the identifiers looked up (which citizen)")
    citizen_shown: dict[str, str] = Field(description="The identifiers looked up, masked (e.g. bsn ******782)")
    reason: str = Field(description="Why the viewer looked (doelbinding), as given with the request")
    contacts_shown: int = Field(description="How many contacts the answer held")
    page: int


class AccessLogPage(BaseModel):
    items: list[TimelineView]
class StoredAttachment(BaseModel):
    attachment_id: str
    filename: str
    content_type: str
    size: int
    sha256: str = Field(description="SHA-256 of the content, hex: the bytes served have this checksum")


class LetterAddress(ChannelInput):
    """Whom an answer letter goes to: the lines of the address window."""

    lines: list[str] = Field(min_length=1, max_length=6, examples=[["Mevrouw M. de Vries", "Herestraat 1", "9711 LA Groningen"]])


class ReplyIn(ChannelInput):
    """An answer to a contact, sent on the citizen's channel (or, for a call or visit, as a follow-up e-mail or letter)."""

    text: str = Field(
        min_length=1, max_length=20_000,
        description="The answer, as the citizen will read it; {naam}, {referentie}, {ontvangen} and {datum} are filled in",
    )
    channel: Literal["email", "letter", "social"] | None = Field(
        default=None, description="Default: the contact's own channel (web: e-mail). Telephone and counter contacts must name one"
    )
    subject: str | None = Field(default=None, max_length=200, description="Default: the contact's subject")
    email: str | None = Field(
        default=None, pattern=EMAIL, max_length=254,
        description="E-mail: where to send it when the contact has no address (the follow-up of a call or visit)",
    )
    name: str | None = Field(default=None, max_length=200, description="Fills {naam} in a reply template's text")
    salutation: str | None = Field(default=None, max_length=200, description="Letter: default 'Geachte heer, mevrouw,'")
    address: LetterAddress | None = Field(default=None, description="Letter: the address window")
    decision: bool | None = Field(
        default=None, description="Letter: the answer is a decision (besluit), so it carries the objection notice; "
        "default: when the owning department is one whose answers are decisions"
    )
    attachments: list[AttachmentUpload] = Field(default_factory=list, max_length=20)


class ReadabilityOut(BaseModel):
    flesch_douma: float = Field(description="Higher is easier; Douma's bands: <30 very hard, 30-45 hard, 45-60 fairly hard, 60-70 normal, >70 easy")
    band: str
    words: int
    sentences: int
    above_b1: bool
    warning: str | None = Field(description="Set when the answer reads above B1: rewrite it before it goes out")


class ReplyOut(BaseModel):
    reply_id: str
    contact_id: str
    channel: Literal["email", "letter", "social"]
    status: Literal["queued", "sent", "ready_for_post", "undelivered"]
    created_at: AwareDatetime
    sent_at: AwareDatetime | None = None
    message_id: str | None = Field(default=None, description="E-mail: the Message-ID the answer carries")
    attachments: list[StoredAttachment] = Field(default_factory=list)
    readability: ReadabilityOut | None = Field(default=None, description="Letters (and every answer): the plain-language check")
    letter_url: str | None = Field(default=None, description="Letter: where the post room fetches the PDF")
    undelivered_reason: str | None = None
    duplicate: bool = Field(default=False, description="True when this Idempotency-Key made this reply before")
