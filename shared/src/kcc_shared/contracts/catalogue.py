"""The topic catalogue: every topic, its events, partitions and retention.

Topic names carry the major version (`kcc.<domain>.<event>.v1`). Within a version only
optional fields may be added (compatibility mode "backward"); a breaking change is a new
model on a new topic, published side by side during the migration.
"""

import re
from dataclasses import dataclass, field
from functools import cached_property
from typing import Annotated, Any, Literal

from pydantic import Field, TypeAdapter

from kcc_shared.contracts import events as ev
from kcc_shared.contracts.envelope import CloudEvent

DAY_MS = 24 * 60 * 60 * 1000


@dataclass(frozen=True)
class TopicSpec:
    name: str
    description: str
    events: tuple[type[CloudEvent], ...]
    key: str = ""  # the data field used as the Kafka key, so one subject stays in order
    partitions: int = 6
    retention_ms: int = 30 * DAY_MS
    compatibility_mode: Literal["backward", "none"] = "backward"
    extra_config: dict[str, str] = field(default_factory=dict)

    @cached_property
    def adapter(self) -> TypeAdapter[Any]:
        """Parses any event of this topic into its model, discriminated on `type`."""
        if not self.events:
            raise ValueError(f"{self.name} carries no typed events")
        if len(self.events) == 1:
            return TypeAdapter(self.events[0])
        return TypeAdapter(Annotated[_union(self.events), Field(discriminator="type")])

    @property
    def config(self) -> dict[str, str]:
        return {"retention.ms": str(self.retention_ms), **self.extra_config}


def _union(models: tuple[type[CloudEvent], ...]) -> Any:
    union: Any = models[0]
    for model in models[1:]:
        union = union | model
    return union


CONTACT_RECEIVED = TopicSpec(
    name="kcc.contact.received.v1",
    description="Every citizen contact from every channel, once (the contactmoment).",
    events=(ev.ContactReceived,),
    key="contact_id",
    partitions=12,
    retention_ms=30 * DAY_MS,
)
CONTACT_ROUTED = TopicSpec(
    name="kcc.contact.routed.v1",
    description="Routing's decision per contact: KCC, warm transfer, call-back or forward.",
    events=(ev.ContactRouted,),
    key="contact_id",
    partitions=12,
)
CONTACT_RESOLVED = TopicSpec(
    name="kcc.contact.resolved.v1",
    description="A contact closed by an agent, with its outcome and handle time.",
    events=(ev.ContactResolved,),
    key="contact_id",
    partitions=12,
)
CONTACT_ACKNOWLEDGED = TopicSpec(
    name="kcc.contact.acknowledged.v1",
    description="Acknowledgements of receipt sent to the citizen (letters: by the post room; e-mail: the auto-reply).",
    events=(ev.ContactAcknowledged,),
    key="contact_id",
    partitions=12,
)
CONTACT_ANSWERED = TopicSpec(
    name="kcc.contact.answered.v1",
    description="Answers sent to citizens (e-mail, letter, social), and answers that did not arrive (bounces).",
    events=(ev.ContactAnswered, ev.ContactReplyUndelivered),
    key="contact_id",
    partitions=12,
)
SURVEY_ANSWERED = TopicSpec(
    name="kcc.survey.answered.v1",
    description="Satisfaction survey answers: a rapportcijfer 1-10 for one contact.",
    events=(ev.SurveyAnswered,),
    key="contact_id",
    partitions=6,
)
AGENT_STATUS = TopicSpec(
    name="kcc.agent.status.v1",
    description="KCC agents' status (available, busy, away, offline) as their desktop reports it, keyed by agent.",
    events=(ev.AgentStatusChanged,),
    key="agent_id",
    partitions=3,
)
CALL_EVENTS = TopicSpec(
    name="kcc.call.events.v1",
    description="Telephone call life cycle from the CTI, keyed by call id so a call stays in order.",
    events=(
        ev.CallOffered,
        ev.CallAnswered,
        ev.CallAbandoned,
        ev.CallTransferred,
        ev.CallEnded,
        ev.CallCallbackRequested,
    ),
    key="call_id",
    partitions=12,
)
COUNTER_EVENTS = TopicSpec(
    name="kcc.counter.events.v1",
    description="Counter (balie) queue tickets and planner appointments, keyed by location.",
    events=(ev.CounterVisit, ev.CounterAppointment),
    key="location",
    partitions=6,
)
CALLBACK_REQUESTED = TopicSpec(
    name="kcc.callback.requested.v1",
    description="Call-back promises made to citizens (interne taak 'Terugbellen').",
    events=(ev.CallbackRequested,),
    key="callback_id",
)
CALLBACK_SCHEDULED = TopicSpec(
    name="kcc.callback.scheduled.v1",
    description="A call-back booked into a department's slot, with its deadline.",
    events=(ev.CallbackScheduled,),
    key="callback_id",
)

def _callback_topic(event: str, description: str, model: type[CloudEvent]) -> TopicSpec:
    return TopicSpec(name=f"kcc.callback.{event}.v1", description=description, events=(model,), key="callback_id")


CALLBACK_ASSIGNED = _callback_topic("assigned", "A call-back claimed by or assigned to an employee or team.", ev.CallbackAssigned)
CALLBACK_ATTEMPTED = _callback_topic("attempted", "Each attempt to call a citizen back, with its outcome.", ev.CallbackAttempted)
CALLBACK_COMPLETED = _callback_topic(
    "completed", "Call-backs done (interne taak verwerkt), and whether the deadline was kept.", ev.CallbackCompleted
)
CALLBACK_FAILED = _callback_topic(
    "failed", "Call-backs given up after the last allowed attempt or a wrong number.", ev.CallbackFailed
)
CALLBACK_CANCELLED = _callback_topic("cancelled", "Call-backs no longer needed.", ev.CallbackCancelled)
CALLBACK_REMINDER = _callback_topic("reminder", "Reminders shortly before a booked call-back slot.", ev.CallbackReminder)
CALLBACK_OVERDUE = _callback_topic(
    "overdue", "Call-backs whose deadline passed without completion, escalated to the coordinator.", ev.CallbackOverdue
)
ERASURE_REQUESTED = TopicSpec(
    name="kcc.citizen.erasure-requested.v1",
    description="A citizen's data must be erased from every store; pseudonyms and contact ids only.",
    events=(ev.CitizenErasureRequested,),
    key="erasure_id",
    partitions=3,
)
ERASURE_COMPLETED = TopicSpec(
    name="kcc.citizen.erasure-completed.v1",
    description="One service erased its part of an erasure request: what it removed per collection.",
    events=(ev.CitizenErasureCompleted,),
    key="erasure_id",
    partitions=3,
)
DEAD_LETTER = TopicSpec(
    name="kcc.deadletter.v1",
    description=(
        "Messages a consumer could not process after its retries: the original bytes and "
        "headers, plus kcc-dlq-* headers with the original topic, partition, offset, consumer "
        "group, error and attempt count."
    ),
    events=(),
    partitions=3,
    retention_ms=90 * DAY_MS,
)

DEAD_LETTER_REPLAYS = TopicSpec(
    name="kcc.deadletter.replayed.v1",
    description=(
        "A receipt per replay of a dead letter (JSON, keyed by the dead letter's id "
        "`<partition>-<offset>` on kcc.deadletter.v1): where it went, when and by whom, so a "
        "second replay of the same dead letter is visible and refused unless forced."
    ),
    events=(),
    partitions=1,
    retention_ms=90 * DAY_MS,
)

TOPICS: tuple[TopicSpec, ...] = (
    CONTACT_RECEIVED,
    CONTACT_ROUTED,
    CONTACT_RESOLVED,
    CONTACT_ACKNOWLEDGED,
    CONTACT_ANSWERED,
    CALL_EVENTS,
    COUNTER_EVENTS,
    CALLBACK_REQUESTED,
    CALLBACK_SCHEDULED,
    CALLBACK_ASSIGNED,
    CALLBACK_ATTEMPTED,
    CALLBACK_COMPLETED,
    CALLBACK_FAILED,
    CALLBACK_CANCELLED,
    CALLBACK_REMINDER,
    CALLBACK_OVERDUE,
    SURVEY_ANSWERED,
    AGENT_STATUS,
    ERASURE_REQUESTED,
    ERASURE_COMPLETED,
    DEAD_LETTER,
    DEAD_LETTER_REPLAYS,
)

_DEPARTMENT_ID = re.compile(r"^[a-z][a-z0-9-]{1,40}$")


def department_topic(department_id: str) -> TopicSpec:
    """The topic one department's back-office subscribes to: its work items, and the reminders
    and overdue notices of its call-backs (each keyed by its subject: the contact, the call-back)."""
    if not _DEPARTMENT_ID.match(department_id):
        raise ValueError(f"department id {department_id!r} must match {_DEPARTMENT_ID.pattern}")
    return TopicSpec(
        name=f"kcc.dept.{department_id}.contacts.v1",
        description=(
            f"Contacts for department '{department_id}' with their content, and reminders and overdue "
            "notices of its call-backs (also those escalated to it)."
        ),
        events=(ev.DepartmentContactAssigned, ev.CallbackReminder, ev.CallbackOverdue),
        partitions=3,
    )


DEPARTMENT_TOPIC_PATTERN = "kcc.dept.{department}.contacts.v1"

EVENT_TYPES: tuple[type[CloudEvent], ...] = tuple(  # each once: a department's topic carries call-back notices too
    dict.fromkeys(model for spec in (*TOPICS, department_topic("example")) for model in spec.events)
)
