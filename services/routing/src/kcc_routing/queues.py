"""Agent work queues: contacts the KCC answers, per channel and skill, with priority and ageing.

An item's priority is its channel's base priority plus points for every minute it waited, so
an old e-mail eventually overtakes a fresh call. Claiming is exclusive and leased: a claim
that is not resolved before its lease ends puts the item back in the queue; the agent who holds
it renews the lease while working (`renew`).

A live contact also ends when the citizen goes away: a call abandoned while waiting, a visitor
who left the counter hall unserved. The channel says so on its own topic with its own id (the
call, the ticket), so the queue links that reference to the contact and records closures. Both
are inserts with unique ids, so they may arrive in either order and a redelivery changes nothing;
claims and queue reads skip a closed contact. Once the contact is known, one update also takes
its item out of the waiting set, so queue reads never fetch closed items. No resolution is published: none of
the outcomes fits, and the call and counter events already tell everyone the citizen went away.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from typing import Any, Literal, Protocol

from kcc_shared import outbox
from kcc_shared.contracts.events.counter import visit_key
from kcc_shared.contracts import CONTACT_RESOLVED, Channel, ContactResolved, ContactResolvedData, ContactRoutedData, derived_id

Outcome = Literal["answered_in_kcc", "transferred", "callback", "forwarded"]

LIVE_CHANNELS = (Channel.TELEPHONE.value, Channel.COUNTER.value)  # the citizen waits in person, and may go away

BASE_PRIORITY: dict[Channel, int] = {
    Channel.TELEPHONE: 100,
    Channel.COUNTER: 90,
    Channel.SOCIAL: 50,
    Channel.WEB: 40,
    Channel.EMAIL: 40,
    Channel.LETTER: 20,
}


CLOSED_BECAUSE = {
    "abandoned": "the caller hung up while waiting", "left": "the visitor left the counter hall",
    "callback": "the caller chose a call-back in the phone menu",
}


class NotFound(LookupError):
    pass


class Conflict(RuntimeError):
    pass


class WorkStore(Protocol):
    async def enqueue(self, item: dict[str, Any]) -> None: ...
    async def get(self, contact_id: str) -> dict[str, Any] | None: ...
    async def available(self, *, now: datetime, channel: str | None, skill: str | None, limit: int) -> list[dict[str, Any]]: ...
    async def claim(self, *, contact_id: str, agent_id: str, now: datetime, lease_until: datetime) -> dict[str, Any] | None: ...
    async def resolve(
        self, *, contact_id: str, agent_id: str, now: datetime, outcome: str, handle_time_s: float, outbox: list[dict[str, Any]]
    ) -> dict[str, Any] | None: ...
    async def count_transfer(self, *, contact_id: str, limit: int) -> dict[str, Any] | None: ...
    async def queue_once(self, *, contact_id: str, key: str, entry: dict[str, Any]) -> list[dict[str, Any]]: ...
    async def link(self, *, ref: str, contact_id: str) -> None: ...
    async def contact_of(self, ref: str) -> str | None: ...
    async def close(self, *, key: str, reason: str, at: datetime, contact_id: str | None) -> None: ...
    async def closure(self, key: str) -> dict[str, Any] | None: ...
    async def mark_closed(self, *, contact_id: str, reason: str, at: datetime) -> None: ...
    async def reopen(self, *, contact_id: str, reason: str, at: datetime, item: dict[str, Any]) -> None: ...


def call_ref(call_id: str) -> str:
    """The channel reference of a telephone call (intake's `channel_message_id` is the call id)."""
    return f"call:{call_id}"


def visit_ref(*, location: str, ticket_id: str, at: datetime, tz: tzinfo) -> str:
    """The channel reference of a counter ticket: ticket numbers restart per hall and day."""
    return f"visit:{visit_key(location=location, ticket_id=ticket_id, at=at, tz=tz)}"


@dataclass(frozen=True)
class QueueEntry:
    contact_id: str
    channel: Channel
    skill: str
    upl_uri: str | None
    upl_name: str | None
    subject: str | None
    received_at: datetime
    waiting_s: float
    base_priority: int
    priority: float
    due_at: datetime | None
    claimed_by: str | None  # set when a lease expired: the previous holder


# The queue of contacts whose subject the classifier is not sure of: an agent reads them first.
TRIAGE_SKILL = "triage"


def work_item(
    decision: ContactRoutedData, *, subject: str | None, text: str | None, phone_key: str | None, received_at: datetime,
    now: datetime, citizen: dict[str, str] | None = None, skill: str | None = None,
) -> dict[str, Any]:
    """The work item for a contact the KCC answers; the skill is the owning department's domain
    (or `TRIAGE_SKILL` when the subject is uncertain)."""
    return {
        "_id": decision.contact_id,
        "channel": decision.channel.value,
        "skill": skill or decision.department_id,
        "upl_uri": decision.upl_uri,
        "upl_name": decision.upl_name,
        "subject": subject,
        "text": text,
        "phone_key": phone_key,  # pseudonym of the number, for a later call-back request
        "citizen": citizen or {},  # pseudonyms only: routing never holds the clear identifiers
        "received_at": received_at,
        "enqueued_at": now,
        "due_at": decision.due_at,
        "status": "waiting",
        "claimed_by": None,
        "lease_until": None,
        "transfers": decision.transfers_so_far,
    }


class WorkQueues:
    def __init__(self, *, store: WorkStore, lease: timedelta, ageing_per_minute: float, source: str) -> None:
        self._store, self._lease, self._ageing, self._source = store, lease, ageing_per_minute, source

    async def enqueue(self, item: dict[str, Any]) -> None:
        await self._store.enqueue(item)

    async def queue(self, *, now: datetime, channel: Channel | None = None, skill: str | None = None, limit: int = 50) -> list[QueueEntry]:
        """Waiting contacts, highest priority (base + ageing) first."""
        docs = await self._store.available(now=now, channel=channel.value if channel else None, skill=skill, limit=1000)
        # A closed contact normally left the waiting set already (`_closed`); this covers the
        # moment in between, and a claim on it that expired. Only live contacts can be closed.
        closed = {doc["_id"] for doc in docs if doc["channel"] in LIVE_CHANNELS and await self._store.closure(doc["_id"]) is not None}
        docs = [doc for doc in docs if doc["_id"] not in closed]
        entries = [self._entry(doc, now) for doc in docs]
        entries.sort(key=lambda e: (-e.priority, e.received_at, e.contact_id))
        return entries[:limit]

    def _entry(self, doc: dict[str, Any], now: datetime) -> QueueEntry:
        channel = Channel(doc["channel"])
        waiting_s = max((now - doc["received_at"]).total_seconds(), 0.0)
        base = BASE_PRIORITY[channel]
        return QueueEntry(
            contact_id=doc["_id"],
            channel=channel,
            skill=doc["skill"],
            upl_uri=doc.get("upl_uri"),
            upl_name=doc.get("upl_name"),
            subject=doc.get("subject"),
            received_at=doc["received_at"],
            waiting_s=round(waiting_s, 1),
            base_priority=base,
            priority=round(base + self._ageing * waiting_s / 60, 2),
            due_at=doc.get("due_at"),
            claimed_by=doc.get("claimed_by"),
        )

    async def claim(self, *, contact_id: str, agent_id: str, now: datetime) -> dict[str, Any]:
        """Take a contact exclusively until the lease ends; Conflict if another agent holds it or the citizen went away."""
        closure = await self._store.closure(contact_id)
        if closure is not None:
            raise Conflict(f"contact {contact_id} is closed: {CLOSED_BECAUSE.get(closure['reason'], closure['reason'])}")
        claimed = await self._store.claim(contact_id=contact_id, agent_id=agent_id, now=now, lease_until=now + self._lease)
        if claimed is not None:
            return claimed
        existing = await self._store.get(contact_id)
        if existing is None:
            raise NotFound(contact_id)
        if existing["status"] == "resolved":
            raise Conflict(f"contact {contact_id} is already resolved")
        if existing.get("claimed_by") and existing.get("lease_until"):
            raise Conflict(f"contact {contact_id} is claimed by {existing['claimed_by']} until {existing['lease_until'].isoformat()}")
        raise Conflict(f"contact {contact_id} was just claimed by another agent")

    async def renew(self, *, contact_id: str, agent_id: str, now: datetime) -> dict[str, Any]:
        """Extend the lease of the agent who holds the contact (a heartbeat while the agent works)."""
        existing = await self._store.get(contact_id)
        if existing is None:
            raise NotFound(contact_id)
        if existing["status"] == "resolved":
            raise Conflict(f"contact {contact_id} is already resolved")
        if existing["status"] != "claimed" or existing.get("claimed_by") != agent_id:
            raise Conflict(f"contact {contact_id} is not claimed by {agent_id}")
        if existing["lease_until"] < now:
            raise Conflict(f"the lease of {agent_id} on contact {contact_id} has expired: claim it again")
        renewed = await self._store.claim(contact_id=contact_id, agent_id=agent_id, now=now, lease_until=now + self._lease)
        if renewed is None or renewed.get("claimed_by") != agent_id:
            raise Conflict(f"contact {contact_id} was just claimed by another agent")
        return renewed

    async def link(self, *, ref: str, contact_id: str) -> None:
        """Remember which contact a call or ticket is; if the citizen already went away, close it now."""
        await self._store.link(ref=ref, contact_id=contact_id)
        # Written first, read second (as `close` does the other way round): whichever of the
        # two comes last sees the other, so a closure that arrived early is never lost.
        early = await self._store.closure(ref)
        if early is not None:
            await self._closed(contact_id=contact_id, reason=early["reason"], at=early["closed_at"])

    async def close(self, *, ref: str, reason: Literal["abandoned", "left", "callback"], at: datetime) -> str | None:
        """The citizen went away: the contact of that call or ticket waits no more. Its id, when routing knows it yet."""
        await self._store.close(key=ref, reason=reason, at=at, contact_id=None)
        contact_id = await self._store.contact_of(ref)
        if contact_id is not None:
            await self._closed(contact_id=contact_id, reason=reason, at=at)
        return contact_id

    async def _closed(self, *, contact_id: str, reason: str, at: datetime) -> None:
        await self._store.close(key=contact_id, reason=reason, at=at, contact_id=contact_id)  # the record that counts
        # Then take it out of the waiting set, or queue reads would fetch ever more closed items.
        # One update per citizen who went away (a resolution costs one too).
        await self._store.mark_closed(contact_id=contact_id, reason=reason, at=at)

    async def resolve(
        self, *, contact_id: str, agent_id: str, outcome: Outcome, handle_time_s: float, now: datetime
    ) -> tuple[ContactResolved, list[dict[str, Any]]]:
        """Close a claimed contact; the event announcing it, and the item's outbox entries still to
        send (the event is saved in the item's outbox in the same write that resolves it)."""
        item = await self._store.get(contact_id)
        if item is None:
            raise NotFound(contact_id)
        resolved = self._resolved(item, agent_id=agent_id, outcome=outcome, handle_time_s=handle_time_s, at=now)
        queued = [outbox.entry(CONTACT_RESOLVED, resolved, at=now)]
        done = await self._store.resolve(
            contact_id=contact_id, agent_id=agent_id, now=now, outcome=outcome, handle_time_s=handle_time_s, outbox=queued
        )
        if done is not None:
            return resolved, queued
        existing = await self._store.get(contact_id) or item
        if existing["status"] == "resolved" and self._same_resolution(existing, agent_id, outcome, handle_time_s):
            # A retry (the answer got lost): the same event under the same id, and what of it is
            # still unsent; consumers count it once.
            again = self._resolved(existing, agent_id=agent_id, outcome=outcome, handle_time_s=handle_time_s, at=existing["resolved_at"])
            return again, existing.get("outbox") or []
        if existing["status"] == "resolved":
            raise Conflict(f"contact {contact_id} is already resolved")
        if existing.get("claimed_by") != agent_id:
            raise Conflict(f"contact {contact_id} is not claimed by {agent_id}")
        raise Conflict(f"the lease of {agent_id} on contact {contact_id} has expired: claim it again")

    def _resolved(self, item: dict[str, Any], *, agent_id: str, outcome: Outcome, handle_time_s: float, at: datetime) -> ContactResolved:
        contact_id = item["_id"]
        return ContactResolved.create(
            data=ContactResolvedData(
                contact_id=contact_id,
                channel=Channel(item["channel"]),
                outcome=outcome,
                resolved_at=at,
                resolved_by=agent_id,
                handle_time_s=handle_time_s,
                upl_uri=item.get("upl_uri"),
                department_id=item.get("skill"),
            ),
            source=self._source,
            subject=contact_id,
            event_id=derived_id(contact_id, "resolved"),
            time=at,
        )

    @staticmethod
    def _same_resolution(item: dict[str, Any], agent_id: str, outcome: str, handle_time_s: float) -> bool:
        return (item.get("claimed_by"), item.get("outcome"), item.get("handle_time_s")) == (agent_id, outcome, handle_time_s)

    async def reopen(
        self, *, contact_id: str, channel: str, skill: str | None, received_at: datetime, reason: str, at: datetime
    ) -> None:
        """Put a contact back in the waiting set (resolved or not); a contact the KCC never
        queued (it went to a department) gets an item now, for the department's skill."""
        await self._store.reopen(
            contact_id=contact_id, reason=reason, at=at,
            item={
                "_id": contact_id, "channel": channel, "skill": skill, "upl_uri": None, "upl_name": None, "subject": None,
                "text": None, "phone_key": None, "citizen": {}, "received_at": received_at, "enqueued_at": at, "due_at": None,
                "transfers": 0,
            },
        )

    async def request_callback(self, *, contact_id: str, request_id: str, entry: dict[str, Any]) -> list[dict[str, Any]]:
        """Queue a call-back request in the item's outbox once per request; what of the outbox is unsent."""
        return await self._store.queue_once(contact_id=contact_id, key=request_id, entry=entry)

    async def contact_of(self, ref: str) -> str | None:
        """The contact a call or ticket is, once routing has seen it."""
        return await self._store.contact_of(ref)

    async def find(self, contact_id: str) -> dict[str, Any] | None:
        return await self._store.get(contact_id)

    async def get(self, contact_id: str) -> dict[str, Any]:
        item = await self._store.get(contact_id)
        if item is None:
            raise NotFound(contact_id)
        return item

    async def count_transfer(self, *, contact_id: str, limit: int) -> bool:
        return await self._store.count_transfer(contact_id=contact_id, limit=limit) is not None
