"""kcc.call.events.v1: one call's life cycle, keyed by call id."""

from typing import Literal

from pydantic import AwareDatetime, Field

from kcc_shared.contracts.envelope import CloudEvent, Contract
from kcc_shared.contracts.events.common import PSEUDONYM


# --- kcc.call.events.v1 (one call's life cycle, keyed by call id) -------------------------


class CallOfferedData(Contract):
    call_id: str
    dialled_number: str
    caller_key: str | None = Field(
        default=None, pattern=PSEUDONYM, description="Pseudonym of the caller's number (None when withheld)"
    )
    ivr_choice: str | None = None
    service_line: str | None = None
    offered_at: AwareDatetime


class CallOffered(CloudEvent):
    type: Literal["nl.contactstad.call.offered"] = "nl.contactstad.call.offered"
    data: CallOfferedData


class CallAnsweredData(Contract):
    call_id: str
    agent_id: str
    wait_s: float = Field(ge=0)
    answered_at: AwareDatetime


class CallAnswered(CloudEvent):
    type: Literal["nl.contactstad.call.answered"] = "nl.contactstad.call.answered"
    data: CallAnsweredData


class CallAbandonedData(Contract):
    call_id: str
    wait_s: float = Field(ge=0)
    abandoned_at: AwareDatetime


class CallAbandoned(CloudEvent):
    type: Literal["nl.contactstad.call.abandoned"] = "nl.contactstad.call.abandoned"
    data: CallAbandonedData


class CallTransferredData(Contract):
    call_id: str
    target: str = Field(description="Department id or line the call went to")
    warm: bool
    announced: bool
    transferred_at: AwareDatetime


class CallTransferred(CloudEvent):
    type: Literal["nl.contactstad.call.transferred"] = "nl.contactstad.call.transferred"
    data: CallTransferredData


class CallEndedData(Contract):
    call_id: str
    talk_s: float = Field(ge=0)
    hold_s: float = Field(default=0, ge=0)
    wrap_up_s: float = Field(default=0, ge=0)
    ended_at: AwareDatetime


class CallEnded(CloudEvent):
    type: Literal["nl.contactstad.call.ended"] = "nl.contactstad.call.ended"
    data: CallEndedData


class CallCallbackRequestedData(Contract):
    call_id: str
    phone_key: str | None = Field(
        default=None, pattern=PSEUDONYM,
        description="Pseudonym of the number to call back (intake's registry resolves it); "
        "always set, except on events from before pseudonymisation",
    )
    requested_at: AwareDatetime


class CallCallbackRequested(CloudEvent):
    """The caller chose a call-back in the IVR instead of waiting."""

    type: Literal["nl.contactstad.call.callback-requested"] = "nl.contactstad.call.callback-requested"
    data: CallCallbackRequestedData
