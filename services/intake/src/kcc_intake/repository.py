"""Intake's store: the contact registry (contactmomenten) and the outbox of events to publish."""

from datetime import UTC, datetime, timedelta
from typing import Any

from pymongo import ASCENDING, DESCENDING
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

CITIZEN_KEYS = ("bsn", "phone", "email", "social_handle")


class ContactRepository:
    def __init__(self, db: AsyncDatabase) -> None:
        self._contacts = db["contacts"]

    async def ensure_indexes(self) -> None:
        await self._contacts.create_index("dedup_key", unique=True, name="dedup_key")
        await self._contacts.create_index([("outboxed", ASCENDING), ("stored_at", ASCENDING)], name="outboxed")
        for key in CITIZEN_KEYS:
            await self._contacts.create_index(
                [(f"citizen.{key}", ASCENDING), ("received_at", DESCENDING)], name=f"citizen_{key}"
            )

    async def insert(self, contact: dict[str, Any]) -> dict[str, Any] | None:
        """Store a new contact; returns the earlier one if its dedup key was taken."""
        try:
            await self._contacts.insert_one({**contact, "outboxed": False, "stored_at": datetime.now(UTC)})
            return None
        except DuplicateKeyError:
            return await self._contacts.find_one({"dedup_key": contact["dedup_key"]})

    async def mark_outboxed(self, contact_id: str) -> None:
        await self._contacts.update_one({"_id": contact_id}, {"$set": {"outboxed": True}})

    async def not_outboxed(self, *, older_than: timedelta) -> list[dict[str, Any]]:
        """Contacts stored but whose event never reached the outbox (a crash in between)."""
        cutoff = datetime.now(UTC) - older_than
        return await self._contacts.find({"outboxed": False, "stored_at": {"$lt": cutoff}}).to_list(500)

    async def get(self, contact_id: str) -> dict[str, Any] | None:
        return await self._contacts.find_one({"_id": contact_id})

    async def timeline(self, citizen: dict[str, str], *, skip: int, limit: int) -> tuple[list[dict[str, Any]], int]:
        """A citizen's contacts on every channel, newest first, and how many there are."""
        query = {"$or": [{f"citizen.{key}": value} for key, value in citizen.items()]}
        total = await self._contacts.count_documents(query)
        cursor = self._contacts.find(query).sort([("received_at", DESCENDING), ("_id", ASCENDING)]).skip(skip).limit(limit)
        return await cursor.to_list(limit), total

    async def claim_acknowledgement(self, contact_id: str) -> bool:
        """True for exactly one caller per contact: the one that may send the acknowledgement."""
        claimed = await self._contacts.find_one_and_update(
            {"_id": contact_id, "ack_state": {"$exists": False}},
            {"$set": {"ack_state": "sending", "ack_claimed_at": datetime.now(UTC)}},
        )
        return claimed is not None

    async def acknowledgement_done(self, contact_id: str, *, state: str) -> None:
        await self._contacts.update_one({"_id": contact_id}, {"$set": {"ack_state": state, "ack_at": datetime.now(UTC)}})


class OutboxRepository:
    """Events waiting to be published, in the order they were accepted."""

    def __init__(self, db: AsyncDatabase) -> None:
        self._outbox = db["outbox"]

    async def ensure_indexes(self) -> None:
        await self._outbox.create_index([("published", ASCENDING), ("seq", ASCENDING)], name="pending")

    async def add(self, entry: dict[str, Any]) -> None:
        """Idempotent on the event id: the same event is queued once."""
        await self._outbox.update_one({"_id": entry["_id"]}, {"$setOnInsert": {**entry, "published": False}}, upsert=True)

    async def pending(self, *, limit: int) -> list[dict[str, Any]]:
        return await self._outbox.find({"published": False}).sort("seq", ASCENDING).limit(limit).to_list(limit)

    async def mark_published(self, event_ids: list[str]) -> None:
        if event_ids:
            await self._outbox.update_many(
                {"_id": {"$in": event_ids}}, {"$set": {"published": True, "published_at": datetime.now(UTC)}}
            )

    async def count_pending(self) -> int:
        return await self._outbox.count_documents({"published": False})
