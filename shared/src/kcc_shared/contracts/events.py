"""Event models, one per event type, grouped per topic in `catalogue`.

Fields map onto the VNG Klantinteracties API where it has a notion of them: a contact is a
*klantcontact* (kanaal, onderwerp, inhoud, plaatsgevondenOp, taal, vertrouwelijk); a call-back
request is an *interne taak* with gevraagdeHandeling "Terugbellen".
"""

from enum import StrEnum
from typing import Literal

from pydantic import AwareDatetime, Field

from kcc_shared.contracts.envelope import CloudEvent, Contract


class Channel(StrEnum):
    """How the citizen reached the municipality (klantcontact.kanaal)."""

    TELEPHONE = "telephone"
    EMAIL = "email"
    WEB = "web"
    COUNTER = "counter"
    LETTER = "letter"
    SOCIAL = "social"


class CitizenIdentifiers(Contract):
    """How to recognise the citizen; personal data (AVG), normalised at intake."""

    bsn: str | None = Field(default=None, pattern=r"^\d{9}$", description="BSN, 11-proef checked")
    phone: str | None = Field(default=None, pattern=r"^\+[1-9]\d{6,14}$", description="E.164")
    email: str | None = Field(default=None, description="Lower-cased e-mail address")
    social_handle: str | None = Field(default=None, description="platform:handle on social media")


class Attachment(Contract):
    """What came with a message: described, not carried (the content stays with intake)."""

    filename: str
    content_type: str
    size: int = Field(ge=0, description="Bytes")


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


# --- kcc.call.events.v1 (one call's life cycle, keyed by call id) -------------------------


class CallOfferedData(Contract):
    call_id: str
    dialled_number: str
    caller_number: str | None = Field(default=None, description="E.164, personal data")
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
    phone: str = Field(pattern=r"^\+[1-9]\d{6,14}$", description="E.164 number to call back, personal data")
    requested_at: AwareDatetime


class CallCallbackRequested(CloudEvent):
    """The caller chose a call-back in the IVR instead of waiting."""

    type: Literal["nl.contactstad.call.callback-requested"] = "nl.contactstad.call.callback-requested"
    data: CallCallbackRequestedData


# --- kcc.counter.events.v1 (counter visits and appointments) ------------------------------


class CounterVisitData(Contract):
    ticket_id: str
    location: str = Field(description="Which counter hall (balie)")
    stage: Literal["drawn", "called", "served", "left"]
    at: AwareDatetime
    contact_id: str | None = Field(default=None, description="The contact this visit is")
    service_line: str | None = None
    desk: str | None = None
    appointment_id: str | None = Field(default=None, description="Set when the visitor had an appointment")


class CounterVisit(CloudEvent):
    """A queue ticket moved on: drawn at the entrance, called to a desk, served, or left unserved."""

    type: Literal["nl.contactstad.counter.visit"] = "nl.contactstad.counter.visit"
    data: CounterVisitData


class CounterAppointmentData(Contract):
    appointment_id: str
    location: str
    status: Literal["booked", "cancelled", "no_show", "served"]
    scheduled_for: AwareDatetime
    at: AwareDatetime
    product: str | None = Field(default=None, description="What the appointment is for, e.g. paspoort")
    contact_id: str | None = None


class CounterAppointment(CloudEvent):
    """An appointment in the counter planner was booked, cancelled, missed or served."""

    type: Literal["nl.contactstad.counter.appointment"] = "nl.contactstad.counter.appointment"
    data: CounterAppointmentData


# --- kcc.callback.requested.v1 / kcc.callback.scheduled.v1 --------------------------------


class TimeWindow(Contract):
    start: AwareDatetime
    end: AwareDatetime


class CallbackRequestedData(Contract):
    callback_id: str
    contact_id: str
    department_id: str
    phone: str = Field(pattern=r"^\+[1-9]\d{6,14}$", description="E.164, personal data")
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


class DepartmentContactAssigned(CloudEvent):
    """Work for one department's back-office; only its own topic carries the content."""

    type: Literal["nl.contactstad.department.contact-assigned"] = (
        "nl.contactstad.department.contact-assigned"
    )
    data: DepartmentContactAssignedData


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
    note: str | None = None


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
