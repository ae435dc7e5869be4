"""The live documents behind `GET /v1/realtime`, pure: one keyed document per counter visit,
call-back and contact, holding each of its events under the event's id (a redelivery rewrites
the same entry; a late or out-of-order event joins whenever it comes), flagged `open` while it
still waits; and one document per queue and local day a contact was queued on, so a queue with
nobody waiting still shows. The realtime request reads the open documents and the queues of the
last days: what is waiting now, not the events of the period. Calls have theirs in calls.py.

Documents keep only what the live picture needs: never the citizen key (erasure touches facts only)."""

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from kcc_metrics.kpis.written import _aware
from kcc_metrics.realtime import LIVE_CHANNELS
QUEUED_DECISIONS = ("answer_in_kcc", "forward_to_department")


@dataclass(frozen=True)
class Entity:
    collection: str
    key: str  # the fact field naming the document
    fields: tuple[str, ...]  # what an entry keeps of its fact
    day_from: tuple[str, ...]  # facts (kind or event) whose local day dates the document (the latest one)


VISIT = Entity("visits", "visit_key", ("event", "at", "location", "appointment_id"), ("drawn",))
CALLBACK = Entity("callbacks", "callback_id", ("event", "at", "deadline", "department_id", "contact_id"), ("scheduled",))
CONTACT = Entity(
    "contacts", "contact_id",
    ("kind", "channel", "received_at", "decision", "department_id", "routed_at", "due_at", "resolved_at"), ("routed",),
)
# Kind of fact -> the document it goes to.
ENTITIES: dict[str, Entity] = {"counter": VISIT, "callback": CALLBACK, "received": CONTACT, "routed": CONTACT, "resolved": CONTACT}


def entry_key(event_id: str) -> str:
    """An event id as a field name (no dots or dollars in a document path)."""
    return event_id.replace(".", "_").replace("$", "_")


def updates(entity: Entity, facts: Iterable[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """document id -> the update adding a batch's facts to it (`$set` of entries, `$max` of the day)."""
    found: dict[str, dict[str, Any]] = defaultdict(lambda: {"$set": {}})
    for fact in facts:
        update = found[fact[entity.key]]
        update["$set"][f"events.{entry_key(fact['_id'])}"] = {k: fact[k] for k in entity.fields if fact.get(k) is not None}
        if fact["kind"] in entity.day_from or fact.get("event") in entity.day_from:
            update["$max"] = {"day": max(fact["day"], update.get("$max", {}).get("day", ""))}
    return found


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


def is_open(entity: Entity, document: dict[str, Any]) -> bool:
    """Whether the document still waits: a ticket not yet called, a call-back not yet done, a queued contact unresolved."""
    kinds = {e.get("event") or e.get("kind") for e in document.get("events", {}).values()}
    if entity is VISIT:
        return "drawn" in kinds and not kinds & {"called", "left", "served"}
    if entity is CALLBACK:
        return "scheduled" in kinds and not kinds & {"completed", "failed", "cancelled"}
    routed = [e for e in document.get("events", {}).values() if e.get("kind") == "routed"]
    return any(queued(e) for e in routed) and "resolved" not in kinds


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
