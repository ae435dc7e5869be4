"""Routing's store: decisions, the agents' work items, back-office presence, department changes.

Every write is a single-document atomic update (FerretDB and MongoDB alike): a claim is a
`find_one_and_update` that only matches an unclaimed item or one whose lease has expired.
"""

import time
from datetime import datetime, timedelta
from typing import Any

from pymongo import ASCENDING, DESCENDING, ReturnDocument
from pymongo.errors import DuplicateKeyError
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase

from kcc_shared.contracts import ContactRouted, ContactRoutedData


class DecisionRepository:
    """Every decision about a contact: the first on arrival, more when an agent transfers."""

    def __init__(self, collection: AsyncCollection) -> None:
        self._decisions = collection

    async def ensure_indexes(self) -> None:
        await self._decisions.create_index([("contact_id", ASCENDING), ("routed_at", DESCENDING)], name="contact")

    async def save(self, routed: ContactRouted) -> ContactRouted:
        """Keep the first version of a decision event; a redelivery returns that one unchanged."""
        stored = await self._decisions.find_one_and_update(
            {"_id": routed.id},
            {
                "$setOnInsert": {
                    "contact_id": routed.data.contact_id,
                    "routed_at": routed.data.routed_at,
                    "saved_ns": time.time_ns(),  # orders decisions made within the same moment
                    "event": routed.model_dump(mode="json"),
                }
            },
            upsert=True,
            return_document=ReturnDocument.AFTER,
        )
        return ContactRouted.model_validate(stored["event"])

    async def get(self, contact_id: str) -> ContactRoutedData | None:
        """The latest decision for a contact."""
        cursor = self._decisions.find({"contact_id": contact_id}).sort([("routed_at", DESCENDING), ("saved_ns", DESCENDING)]).limit(1)
        async for stored in cursor:
            return ContactRouted.model_validate(stored["event"]).data
        return None


class WorkRepository:
    """Contacts waiting for a KCC agent, one document per contact.

    Beside it, insert-only: `claims` (one document per claim generation and transfer),
    `channel_refs` (a call or ticket -> its contact) and `closures` (a citizen who went away,
    keyed by the channel reference and, once known, by the contact id).
    """

    def __init__(
        self, collection: AsyncCollection, claims: AsyncCollection,
        refs: AsyncCollection | None = None, closures: AsyncCollection | None = None,
    ) -> None:
        self._work, self._claims = collection, claims
        self._refs = refs if refs is not None else collection.database["channel_refs"]
        self._closures = closures if closures is not None else collection.database["closures"]

    async def ensure_indexes(self) -> None:
        await self._work.create_index([("status", ASCENDING), ("channel", ASCENDING), ("skill", ASCENDING)], name="queue")

    async def link(self, *, ref: str, contact_id: str) -> None:
        """Record once which contact a channel reference is."""
        try:
            await self._refs.insert_one({"_id": ref, "contact_id": contact_id})
        except DuplicateKeyError:
            pass  # a redelivery: the first link stands

    async def contact_of(self, ref: str) -> str | None:
        doc = await self._refs.find_one({"_id": ref})
        return doc["contact_id"] if doc else None

    async def close(self, *, key: str, reason: str, at: datetime, contact_id: str | None) -> None:
        """Record once that the citizen went away (key: a channel reference, or the contact id)."""
        doc = {"_id": key, "kind": "contact" if contact_id else "channel", "contact_id": contact_id, "reason": reason, "closed_at": at}
        try:
            await self._closures.insert_one(doc)
        except DuplicateKeyError:
            pass  # already closed: the first closure stands

    async def closure(self, key: str) -> dict[str, Any] | None:
        return await self._closures.find_one({"_id": key})

    async def mark_closed(self, *, contact_id: str, reason: str, at: datetime) -> None:
        """Take a waiting item out of the waiting set (an agent's live claim is left alone)."""
        await self._work.update_one(
            {"_id": contact_id, "status": "waiting"}, {"$set": {"status": "closed", "closed_reason": reason, "closed_at": at}}
        )

    async def enqueue(self, item: dict[str, Any]) -> None:
        """Add a work item once; a redelivered contact leaves the existing one as it is."""
        await self._work.update_one({"_id": item["_id"]}, {"$setOnInsert": item}, upsert=True)

    async def get(self, contact_id: str) -> dict[str, Any] | None:
        return await self._work.find_one({"_id": contact_id})

    async def available(self, *, now: datetime, channel: str | None, skill: str | None, limit: int) -> list[dict[str, Any]]:
        """Items nobody holds: waiting, or claimed with a lease that has run out."""
        query: dict[str, Any] = {"$or": [{"status": "waiting"}, {"status": "claimed", "lease_until": {"$lt": now}}]}
        if channel:
            query["channel"] = channel
        if skill:
            query["skill"] = skill
        return [doc async for doc in self._work.find(query).limit(limit)]

    async def claim(self, *, contact_id: str, agent_id: str, now: datetime, lease_until: datetime) -> dict[str, Any] | None:
        """Atomically take an item for one agent; None when someone else holds it (or it is closed).

        Exclusivity rests on the one guarantee every MongoDB-compatible store gives under
        concurrency, a unique `_id`: each claim generation of an item is one document in
        `claims`, and only one insert of it can succeed. (FerretDB 1.x does not run the match
        and the write of a findAndModify atomically, so a conditional update alone let two
        agents win.) A claim whose lease ran out is superseded by the next generation.
        """
        item = await self._work.find_one({"_id": contact_id})
        if item is None or item["status"] in ("resolved", "closed"):
            return None
        generation = item.get("generation", 0)
        if item["status"] == "claimed":
            if item["claimed_by"] == agent_id and item["lease_until"] >= now:
                return await self._set_claim(contact_id, generation, agent_id, now, lease_until)  # renew own lease
            if item["lease_until"] >= now:
                return None
        try:
            await self._claims.insert_one({"_id": f"{contact_id}#{generation + 1}", "agent_id": agent_id, "claimed_at": now})
        except DuplicateKeyError:
            return None
        return await self._set_claim(contact_id, generation + 1, agent_id, now, lease_until)

    async def _set_claim(self, contact_id: str, generation: int, agent_id: str, now: datetime, lease_until: datetime) -> dict[str, Any] | None:
        return await self._work.find_one_and_update(
            {"_id": contact_id, "status": {"$ne": "resolved"}},
            {"$set": {"status": "claimed", "claimed_by": agent_id, "claimed_at": now, "lease_until": lease_until, "generation": generation}},
            return_document=ReturnDocument.AFTER,
        )

    async def resolve(self, *, contact_id: str, agent_id: str, now: datetime, outcome: str, handle_time_s: float) -> dict[str, Any] | None:
        """Close an item the agent holds with a live lease; None otherwise."""
        return await self._work.find_one_and_update(
            {"_id": contact_id, "status": "claimed", "claimed_by": agent_id, "lease_until": {"$gte": now}},
            # Note: the match and the write are not atomic on FerretDB 1.x; a resolve racing a
            # re-claim after expiry is the one window left, and the resolved event says who did it.
            {"$set": {"status": "resolved", "resolved_at": now, "outcome": outcome, "handle_time_s": handle_time_s}},
            return_document=ReturnDocument.AFTER,
        )

    async def count_transfer(self, *, contact_id: str, limit: int) -> dict[str, Any] | None:
        """Count one more transfer unless the limit is reached; None when refused.

        Like a claim, the n-th transfer is a unique document, so two racing transfers cannot
        both be the last one allowed.
        """
        item = await self._work.find_one({"_id": contact_id})
        if item is None or item.get("transfers", 0) >= limit:
            return None
        number = item.get("transfers", 0) + 1
        try:
            await self._claims.insert_one({"_id": f"{contact_id}#transfer-{number}"})
        except DuplicateKeyError:
            return None
        return await self._work.find_one_and_update(
            {"_id": contact_id}, {"$max": {"transfers": number}}, return_document=ReturnDocument.AFTER
        )


class PresenceRepository:
    """Who is available in each department's back-office, as the department last reported.

    A report holds for `ttl`: a back-office that stops reporting (its presence system down, a
    desk left signed in) counts as nobody present after that, so no warm transfer is announced
    to an empty room. Back-offices send a fresh report within the ttl, changed or not.
    """

    def __init__(self, collection: AsyncCollection, *, ttl: timedelta) -> None:
        self._presence = collection
        self.ttl = ttl

    async def report(self, *, department_id: str, agents: list[str], now: datetime) -> dict[str, Any]:
        return await self._presence.find_one_and_update(
            {"_id": department_id},
            {"$set": {"agents": sorted(set(agents)), "reported_at": now}},
            upsert=True,
            return_document=ReturnDocument.AFTER,
        )

    async def get(self, department_id: str) -> dict[str, Any] | None:
        return await self._presence.find_one({"_id": department_id})

    async def available(self, department_id: str, *, now: datetime) -> int:
        doc = await self.get(department_id)
        if doc is None or doc["reported_at"] + self.ttl <= now:
            return 0
        return len(doc["agents"])


class DepartmentChanges:
    """Departments added or changed at runtime, applied over the configuration file."""

    def __init__(self, collection: AsyncCollection) -> None:
        self._changes = collection

    async def put(self, *, department: dict[str, Any], now: datetime) -> None:
        await self._changes.update_one(
            {"_id": department["id"]}, {"$set": {"department": department, "changed_at": now}}, upsert=True
        )

    async def all(self) -> list[dict[str, Any]]:
        return [doc async for doc in self._changes.find({}).sort("changed_at", ASCENDING)]


def repositories(
    db: AsyncDatabase, *, presence_ttl: timedelta
) -> tuple[DecisionRepository, WorkRepository, PresenceRepository, DepartmentChanges]:
    return (
        DecisionRepository(db["decisions"]),
        WorkRepository(db["work"], db["claims"]),
        PresenceRepository(db["presence"], ttl=presence_ttl),
        DepartmentChanges(db["departments"]),
    )
