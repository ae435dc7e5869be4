"""The live documents behind `GET /v1/realtime`, pure: one keyed document per counter visit,
call-back and contact, holding each of its events under the event's id (a redelivery rewrites
the same entry; a late or out-of-order event joins whenever it comes), with a `state` that only
moves forward (`$max`): OPEN once it waits (a ticket drawn, a call-back booked, a contact queued),
CLOSED once it no longer does, whichever event comes first; one document per agent and local day with its latest status; and one document per queue and
local day something was queued in, so a queue with nobody waiting still shows. The realtime request reads the open documents and the queues of the
last days: what is waiting now, not the events of the period. Calls have theirs in calls.py.

Documents keep only what the live picture needs: never the citizen key (erasure touches facts only)."""

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from kcc_metrics.kpis.written import _aware
from kcc_metrics.realtime import LIVE_CHANNELS
QUEUED_DECISIONS = ("answer_in_kcc", "forward_to_department")


OPEN, CLOSED = 1, 2


@dataclass(frozen=True)
class Entity:
    collection: str
    key: str  # the fact field naming the document
    fields: tuple[str, ...]  # what an entry keeps of its fact
    opens: tuple[str, ...]  # events that make it wait; their local day dates the document (the latest one)
    closes: tuple[str, ...]  # events after which it no longer waits


VISIT = Entity("visits", "visit_key", ("event", "at", "location", "appointment_id"), ("drawn",), ("called", "left", "served"))
CALLBACK = Entity(
    "callbacks", "callback_id", ("event", "at", "deadline", "department_id", "contact_id"), ("scheduled",),
    ("completed", "failed", "cancelled"),
)
# A contact waits once routed into a queue realtime shows (`queued`), until resolved.
CONTACT = Entity(
    "contacts", "contact_id",
    ("kind", "channel", "received_at", "decision", "department_id", "routed_at", "due_at", "resolved_at"), ("routed",),
    ("resolved",),
)
# Kind of fact -> the document it goes to.
ENTITIES: dict[str, Entity] = {"counter": VISIT, "callback": CALLBACK, "received": CONTACT, "routed": CONTACT, "resolved": CONTACT}


def agent_latest(facts: Iterable[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """`<agent>|<day>` -> the `$max` keeping the agent's latest status that local day, as one
    sortable string `<UTC time>|<status>` (the later time wins, whatever the order of arrival)."""
    found: dict[str, dict[str, Any]] = {}
    for fact in facts:
        at = _aware(fact["at"]).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        key = f"{fact['agent_id']}|{fact['day']}"
        latest = max(found.get(key, {}).get("$max", {}).get("latest", ""), f"{at}|{fact['status']}")
        found[key] = {"$set": {"agent_id": fact["agent_id"], "day": fact["day"]}, "$max": {"latest": latest}}
    return found


def agent_statuses(documents: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """The agents' latest statuses of a day, as the agent facts realtime.available_agents reads."""
    found = []
    for document in documents:
        at, status = document["latest"].split("|", 1)
        found.append({"agent_id": document["agent_id"], "at": datetime.strptime(at, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC),
                      "status": status})
    return found


def entry_key(event_id: str) -> str:
    """An event id as a field name (no dots or dollars in a document path)."""
    return event_id.replace(".", "_").replace("$", "_")


def updates(entity: Entity, facts: Iterable[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """document id -> the update adding a batch's facts to it (`$set` of entries, `$max` of day and state).

    Telephone and counter contacts never wait in a KCC or department queue (their calls and
    tickets do): their facts make no contact document."""
    found: dict[str, dict[str, Any]] = defaultdict(lambda: {"$set": {}})
    for fact in facts:
        if entity is CONTACT and fact.get("channel") in LIVE_CHANNELS:
            continue
        update = found[fact[entity.key]]
        update["$set"][f"events.{entry_key(fact['_id'])}"] = {k: fact[k] for k in entity.fields if fact.get(k) is not None}
        stage = fact.get("event") or fact["kind"]
        state = CLOSED if stage in entity.closes else OPEN if stage in entity.opens and (entity is not CONTACT or queued(fact)) else None
        if state is not None:
            highest = update.setdefault("$max", {})
            highest["state"] = max(state, highest.get("state", 0))
            if state == OPEN:
                highest["day"] = max(fact["day"], highest.get("day", ""))
    return dict(found)


def entries(document: dict[str, Any]) -> list[dict[str, Any]]:
    """A document's entries, earliest first (ties by event id), each with the document's key."""
    items = sorted(document.get("events", {}).items(), key=lambda item: (_aware(_moment(item[1])), item[0]))
    return [entry for _, entry in items]


def _moment(entry: dict[str, Any]) -> Any:
    return entry.get("at") or entry.get("routed_at") or entry.get("resolved_at") or entry.get("received_at")


def queued(routed: dict[str, Any]) -> str | None:
    """The queue a routing decision puts a written or web contact in (None: not a queue realtime shows)."""
    if routed.get("channel") in (None, *LIVE_CHANNELS) or routed.get("decision") not in QUEUED_DECISIONS:
        return None
    return f"kcc:{routed['channel']}" if routed["decision"] == "answer_in_kcc" else f"department:{routed['department_id']}"


def seen_queues(facts: Iterable[dict[str, Any]]) -> dict[str, dict[str, str]]:
    """`<queue>|<day>` -> {queue, day}: the queues a batch's facts put something in, per local day."""
    seen = {}
    for fact in facts:
        if fact["kind"] == "call" and fact.get("event") == "offered":
            queue = f"telephone:{fact.get('service_line') or 'algemeen'}"
        elif fact["kind"] == "counter" and fact.get("event") == "drawn":
            queue = f"counter:{fact['location']}"
        elif fact["kind"] == "routed":
            queue = queued(fact)
        else:
            queue = None
        if queue is not None:
            seen[f"{queue}|{fact['day']}"] = {"queue": queue, "day": fact["day"]}
    return seen
