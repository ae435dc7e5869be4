"""The call-back topics: requested, scheduled and the rest of the life cycle."""

from typing import Literal

from pydantic import AwareDatetime, Field

from kcc_shared.contracts.envelope import CloudEvent, Contract
from kcc_shared.contracts.events.common import PSEUDONYM, TimeWindow


# --- kcc.callback.requested.v1 / kcc.callback.scheduled.v1 --------------------------------

class CallbackRequestedData(Contract):
    callback_id: str
    contact_id: str
    department_id: str
    phone_key: str | None = Field(
        default=None, pattern=PSEUDONYM,
        description="Pseudonym of the number to call; the callback service resolves it at intake's registry. "
        "Always set, except on events from before pseudonymisation (then no number is known)",
    )
    upl_uri: str | None = None
    reason: str | None = Field(default=None, description="interne taak toelichting")
    preferred_windows: list[TimeWindow] = Field(default_factory=list)
    norm_working_days: int = Field(default=1, ge=0)
    requested_at: AwareDatetime


class CallbackRequested(CloudEvent):
    """The KCC promised a call-back (interne taak, gevraagdeHandeling "Terugbellen")."""

    type: Literal["nl.contactstad.callback.requested"] = "nl.contactstad.callback.requested"
    data: CallbackRequestedData


class CallbackScheduledData(Contract):
    callback_id: str
    contact_id: str
    department_id: str
    slot_start: AwareDatetime
    slot_end: AwareDatetime
    deadline: AwareDatetime
    at_risk: bool = False
    rescheduled: bool = Field(default=False, description="A new slot for an earlier booking")


class CallbackScheduled(CloudEvent):
    type: Literal["nl.contactstad.callback.scheduled"] = "nl.contactstad.callback.scheduled"
    data: CallbackScheduledData


# --- call-back life cycle: kcc.callback.{assigned,attempted,completed,failed,cancelled,
#     reminder,overdue}.v1 (each keyed by callback_id) -------------------------------------

AttemptOutcome = Literal["no_answer", "voicemail", "wrong_number", "reached"]


class Actor(Contract):
    """Who a call-back is assigned to (VNG Klantinteracties *actor*)."""

    soort: Literal["medewerker", "organisatorische_eenheid"] = Field(description="actor.soortActor")
    id: str = Field(min_length=1, description="Employee id or department id")


class CallbackAssignedData(Contract):
    callback_id: str
    department_id: str
    assigned_to: Actor = Field(description="interne taak toegewezenAanActoren")
    assigned_at: AwareDatetime


class CallbackAssigned(CloudEvent):
    """A call-back was claimed by, or assigned to, an employee or team."""

    type: Literal["nl.contactstad.callback.assigned"] = "nl.contactstad.callback.assigned"
    data: CallbackAssignedData


class CallbackAttemptedData(Contract):
    callback_id: str
    department_id: str
    attempt: int = Field(ge=1, description="1 for the first attempt")
    max_attempts: int = Field(ge=1)
    outcome: AttemptOutcome
    agent_id: str
    attempted_at: AwareDatetime


class CallbackAttempted(CloudEvent):
    """An agent tried to call the citizen back, with the outcome."""

    type: Literal["nl.contactstad.callback.attempted"] = "nl.contactstad.callback.attempted"
    data: CallbackAttemptedData


class CallbackCompletedData(Contract):
    callback_id: str
    contact_id: str
    department_id: str
    completed_at: AwareDatetime = Field(description="interne taak afgehandeldOp")
    completed_by: str
    deadline: AwareDatetime
    within_deadline: bool = Field(description="Whether the promise was kept")
    attempts: int = Field(ge=0)


class CallbackCompleted(CloudEvent):
    """The citizen was called back and the question handled (interne taak verwerkt)."""

    type: Literal["nl.contactstad.callback.completed"] = "nl.contactstad.callback.completed"
    data: CallbackCompletedData


class CallbackFailedData(Contract):
    callback_id: str
    contact_id: str
    department_id: str
    failed_at: AwareDatetime
    reason: Literal["max_attempts", "wrong_number"]
    attempts: int = Field(ge=0)
    escalate_to: str | None = Field(default=None, description="The department's coordinator")


class CallbackFailed(CloudEvent):
    """The call-back gave up: the last allowed attempt failed, or the number is wrong."""

    type: Literal["nl.contactstad.callback.failed"] = "nl.contactstad.callback.failed"
    data: CallbackFailedData


class CallbackCancelledData(Contract):
    callback_id: str
    department_id: str
    cancelled_at: AwareDatetime
    cancelled_by: str
    reason: str | None = None


class CallbackCancelled(CloudEvent):
    """The call-back is no longer needed (e.g. the citizen called again and was helped)."""

    type: Literal["nl.contactstad.callback.cancelled"] = "nl.contactstad.callback.cancelled"
    data: CallbackCancelledData


class CallbackReminderData(Contract):
    callback_id: str
    department_id: str
    slot_start: AwareDatetime
    slot_end: AwareDatetime
    assigned_to: Actor | None = None
    remind_at: AwareDatetime


class CallbackReminder(CloudEvent):
    """A booked call-back slot starts soon (emitted once per booking)."""

    type: Literal["nl.contactstad.callback.reminder"] = "nl.contactstad.callback.reminder"
    data: CallbackReminderData


class CallbackOverdueData(Contract):
    callback_id: str
    contact_id: str
    department_id: str
    deadline: AwareDatetime
    status: str = Field(description="The call-back's status when the deadline passed")
    attempts: int = Field(ge=0)
    escalate_to: str = Field(description="The department's coordinator, who must act")


class CallbackOverdue(CloudEvent):
    """The deadline passed without the call-back being completed: escalated to the coordinator."""

    type: Literal["nl.contactstad.callback.overdue"] = "nl.contactstad.callback.overdue"
    data: CallbackOverdueData
