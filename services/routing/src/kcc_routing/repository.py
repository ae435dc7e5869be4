"""Routing's store: decisions, the agents' work items, back-office presence, department changes.

Every write is a single-document atomic update (FerretDB and MongoDB alike): a claim is a
`find_one_and_update` that only matches an unclaimed item or one whose lease has expired.
"""

from datetime import datetime
from typing import Any

from pymongo import ASCENDING, DESCENDING, ReturnDocument
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
                    "event": routed.model_dump(mode="json"),
                }
            },
            upsert=True,
            return_document=ReturnDocument.AFTER,
        )
        return ContactRouted.model_validate(stored["event"])

    async def get(self, contact_id: str) -> ContactRoutedData | None:
        """The latest decision for a contact."""
        cursor = self._decisions.find({"contact_id": contact_id}).sort("routed_at", DESCENDING).limit(1)
        async for stored in cursor:
            return ContactRouted.model_validate(stored["event"]).data
        return None


class WorkRepository:
    """Contacts waiting for a KCC agent, one document per contact."""

    def __init__(self, collection: AsyncCollection) -> None:
        self._work = collection

    async def ensure_indexes(self) -> None:
        await self._work.create_index([("status", ASCENDING), ("channel", ASCENDING), ("skill", ASCENDING)], name="queue")

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
        """Atomically take an item for one agent; None when someone else holds it (or it is closed)."""
        return await self._work.find_one_and_update(
            {
                "_id": contact_id,
                "$or": [
                    {"status": "waiting"},
                    {"status": "claimed", "lease_until": {"$lt": now}},
                    {"status": "claimed", "claimed_by": agent_id},
                ],
            },
            {"$set": {"status": "claimed", "claimed_by": agent_id, "claimed_at": now, "lease_until": lease_until}},
            return_document=ReturnDocument.AFTER,
        )

    async def resolve(self, *, contact_id: str, agent_id: str, now: datetime, outcome: str, handle_time_s: float) -> dict[str, Any] | None:
        """Close an item the agent holds with a live lease; None otherwise."""
        return await self._work.find_one_and_update(
            {"_id": contact_id, "status": "claimed", "claimed_by": agent_id, "lease_until": {"$gte": now}},
            {"$set": {"status": "resolved", "resolved_at": now, "outcome": outcome, "handle_time_s": handle_time_s}},
            return_document=ReturnDocument.AFTER,
        )

    async def count_transfer(self, *, contact_id: str, limit: int) -> dict[str, Any] | None:
        """Count one more transfer unless the limit is reached (atomic); None when refused."""
        return await self._work.find_one_and_update(
            {"_id": contact_id, "transfers": {"$lt": limit}},
            {"$inc": {"transfers": 1}},
            return_document=ReturnDocument.AFTER,
        )


class PresenceRepository:
    """Who is available in each department's back-office, as the department last reported."""

    def __init__(self, collection: AsyncCollection) -> None:
        self._presence = collection

    async def report(self, *, department_id: str, agents: list[str], now: datetime) -> dict[str, Any]:
        return await self._presence.find_one_and_update(
            {"_id": department_id},
            {"$set": {"agents": sorted(set(agents)), "reported_at": now}},
            upsert=True,
            return_document=ReturnDocument.AFTER,
        )

    async def get(self, department_id: str) -> dict[str, Any] | None:
        return await self._presence.find_one({"_id": department_id})

    async def available(self, department_id: str) -> int:
        doc = await self.get(department_id)
        return len(doc["agents"]) if doc else 0


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


def repositories(db: AsyncDatabase) -> tuple[DecisionRepository, WorkRepository, PresenceRepository, DepartmentChanges]:
    return (
        DecisionRepository(db["decisions"]),
        WorkRepository(db["work"]),
        PresenceRepository(db["presence"]),
        DepartmentChanges(db["departments"]),
    )
