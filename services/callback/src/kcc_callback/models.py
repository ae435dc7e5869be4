"""The call-back promise, its state machine and its representation as an *interne taak*."""

from datetime import datetime
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from kcc_shared.contracts import TimeWindow
from kcc_shared.contracts.events import Actor, AttemptOutcome

Status = Literal["requested", "scheduled", "attempted", "reached", "completed", "failed", "cancelled"]
TERMINAL: frozenset[str] = frozenset({"completed", "failed", "cancelled"})
OPEN: tuple[str, ...] = ("requested", "scheduled", "attempted", "reached")


class InvalidTransition(Exception):
    """The call-back's status does not allow this action (HTTP 409)."""

    def __init__(self, *, callback_id: str, status: str, action: str) -> None:
        super().__init__(f"call-back {callback_id} is {status}: cannot {action}")
        self.callback_id, self.status, self.action = callback_id, status, action


class Conflict(Exception):
    """Someone else changed the call-back at the same moment (HTTP 409; retry)."""


class Attempt(BaseModel):
    number: int
    outcome: AttemptOutcome
    agent_id: str
    attempted_at: datetime
    note: str | None = None


class Callback(BaseModel):
    """A call-back promise as stored (without the phone number, which only the store holds)."""

    callback_id: str
    contact_id: str
    department_id: str
    status: Status
    upl_uri: str | None = None
    reason: str | None = Field(default=None, description="interne taak toelichting")
    preferred_windows: list[TimeWindow] = Field(default_factory=list)
    requested_at: datetime
    norm_working_days: int
    deadline: datetime | None = None
    slot_start: datetime | None = None
    slot_end: datetime | None = None
    at_risk: bool = False
    slot_id: str | None = Field(default=None, description="The slot this call-back holds a place in")
    booking: int = Field(default=0, description="1 for the first booking, +1 per reschedule")
    max_attempts: int = 3
    attempts: list[Attempt] = Field(default_factory=list)
    assigned_to: Actor | None = None
    closed_at: datetime | None = None
    closed_by: str | None = None
    revision: int = 0

    def require(self, action: str, allowed: tuple[str, ...]) -> None:
        if self.status not in allowed:
            raise InvalidTransition(callback_id=self.callback_id, status=self.status, action=action)


class InterneTaak(BaseModel):
    """A call-back as the VNG Klantinteracties *interne taak* (gevraagdeHandeling "Terugbellen")."""

    callback_id: str
    contact_id: str = Field(description="klantcontact the task came from")
    department_id: str
    gevraagde_handeling: Literal["Terugbellen"] = "Terugbellen"
    toelichting: str | None = None
    interne_taak_status: Literal["te_verwerken", "verwerkt"]
    status: Status = Field(description="Our finer life-cycle status")
    toegewezen_aan_actoren: list[Actor]
    afgehandeld_op: datetime | None = None
    upl_uri: str | None = None
    requested_at: datetime
    deadline: datetime | None = None
    slot_start: datetime | None = None
    slot_end: datetime | None = None
    at_risk: bool
    attempts: list[Attempt]
    max_attempts: int
    preferred_windows: list[TimeWindow]

    @classmethod
    def of(cls, callback: Callback) -> "InterneTaak":
        actors = [Actor(soort="organisatorische_eenheid", id=callback.department_id)]
        if callback.assigned_to is not None and callback.assigned_to not in actors:
            actors.append(callback.assigned_to)
        return cls(
            **callback.model_dump(
                include={
                    "callback_id", "contact_id", "department_id", "status", "upl_uri", "requested_at",
                    "deadline", "slot_start", "slot_end", "at_risk", "attempts", "max_attempts",
                    "preferred_windows",
                }
            ),
            toelichting=callback.reason,
            interne_taak_status="verwerkt" if callback.status in TERMINAL else "te_verwerken",
            toegewezen_aan_actoren=actors,
            afgehandeld_op=callback.closed_at,
        )


# --- API bodies ---------------------------------------------------------------------------


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ClaimBody(Body):
    employee_id: str | None = Field(default=None, min_length=1, description="Assign to this employee")
    team_id: str | None = Field(default=None, min_length=1, description="Or to this team")

    @model_validator(mode="after")
    def _exactly_one(self) -> "ClaimBody":
        if (self.employee_id is None) == (self.team_id is None):
            raise ValueError("give exactly one of employee_id or team_id")
        return self

    def actor(self) -> Actor:
        if self.employee_id is not None:
            return Actor(soort="medewerker", id=self.employee_id)
        return Actor(soort="organisatorische_eenheid", id=self.team_id or "")


class AttemptBody(Body):
    agent_id: str = Field(min_length=1)
    outcome: AttemptOutcome
    note: str | None = Field(default=None, max_length=1000)


class CompleteBody(Body):
    agent_id: str = Field(min_length=1)


class RescheduleBody(Body):
    agent_id: str = Field(min_length=1)
    preferred_windows: list[TimeWindow] = Field(default_factory=list, description="The citizen's new windows")
    not_before: AwareDatetime | None = Field(default=None, description="No slot before this moment")

    @model_validator(mode="after")
    def _windows_in_order(self) -> "RescheduleBody":
        for window in self.preferred_windows:
            if window.end <= window.start:
                raise ValueError("a preferred window must end after it starts")
        return self


class CancelBody(Body):
    agent_id: str = Field(min_length=1)
    reason: str | None = Field(default=None, max_length=1000)


class FreeSlot(BaseModel):
    """A call-back slot with room left: what an agent can promise the citizen."""

    start: AwareDatetime
    end: AwareDatetime
    free: int = Field(description="Places left in this slot")
    capacity: int = Field(description="Call-backs per slot")
