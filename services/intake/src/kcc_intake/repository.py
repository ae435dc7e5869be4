"""Intake's store: the contact registry (contactmomenten) and the outbox of life-cycle events.

A contact document carries its own outbox fields (`seq`, payload), so storing a contact and
queueing its event is one atomic write. What the broker acknowledged is recorded by inserting
the event id into `published_events`: inserts and reads by `_id` only on the hot path, since
FerretDB's SQLite backend scans the collection for an update, even one by `_id`."""

from datetime import UTC, datetime, timedelta
from typing import Any

from pymongo import ASCENDING, DESCENDING
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from kcc_shared.mongo import insert_once

CITIZEN_KEYS = ("bsn", "phone", "email", "social_handle")
CONTACTS, OUTBOX, PUBLISHED = "contacts", "outbox", "published_events"


async def _insert_once(collection: AsyncCollection, doc: dict[str, Any], key: str) -> dict[str, Any] | None:
    """Insert; if `key` is taken, return the document that holds it."""
    try:
        await collection.insert_one({**doc, "stored_at": datetime.now(UTC)})
        return None
    except DuplicateKeyError:
        return await collection.find_one({key: doc[key]})


class ContactRepository:
    def __init__(self, db: AsyncDatabase) -> None:
        self._contacts = db[CONTACTS]
        self._acknowledgements = db["acknowledgements"]

    async def ensure_indexes(self) -> None:
        await self._contacts.create_index("dedup_key", unique=True, name="dedup_key")
        await self._contacts.create_index([("stored_at", ASCENDING)], name="stored_at")
        for key in CITIZEN_KEYS:
            await self._contacts.create_index(
                [(f"citizen.{key}", ASCENDING), ("received_at", DESCENDING)], name=f"citizen_{key}"
            )

    async def insert(self, contact: dict[str, Any]) -> dict[str, Any] | None:
        """Store a new contact; returns the earlier one if its dedup key was taken."""
        return await _insert_once(self._contacts, contact, "dedup_key")

    async def get(self, contact_id: str) -> dict[str, Any] | None:
        return await self._contacts.find_one({"_id": contact_id})

    async def timeline(self, citizen: dict[str, str], *, skip: int, limit: int) -> tuple[list[dict[str, Any]], int]:
        """A citizen's contacts on every channel, newest first, and how many there are."""
        query = {"$or": [{f"citizen.{key}": value} for key, value in citizen.items()]}
        total = await self._contacts.count_documents(query)
        cursor = self._contacts.find(query).sort([("received_at", DESCENDING), ("_id", ASCENDING)]).skip(skip).limit(limit)
        return await cursor.to_list(limit), total

    async def claim_acknowledgement(self, contact_id: str) -> bool:
        """True for exactly one caller per contact: the one that may send the acknowledgement.

        A unique `_id` insert, not a conditional update: FerretDB 1.24 does not make a
        conditional find-and-modify atomic under concurrency (two callers can both win)."""
        return await insert_once(self._acknowledgements, {"_id": contact_id, "claimed_at": datetime.now(UTC)})


class OutboxRepository:
    """Channel life-cycle events (calls, counter) waiting to be published, keyed by event id."""

    def __init__(self, db: AsyncDatabase) -> None:
        self._outbox = db[OUTBOX]

    async def ensure_indexes(self) -> None:
        await self._outbox.create_index([("stored_at", ASCENDING)], name="stored_at")

    async def insert(self, entry: dict[str, Any]) -> dict[str, Any] | None:
        """Queue an event once; returns the earlier entry for a repeated event id."""
        return await _insert_once(self._outbox, entry, "_id")


class PendingStore:
    """What the outbox relay needs from both collections."""

    def __init__(self, db: AsyncDatabase) -> None:
        self._collections = {CONTACTS: db[CONTACTS], OUTBOX: db[OUTBOX]}
        self._published = db[PUBLISHED]

    async def mark_published(self, event_id: str) -> None:
        await insert_once(self._published, {"_id": event_id, "at": datetime.now(UTC)})

    async def is_published(self, event_id: str) -> bool:
        return await self._published.find_one({"_id": event_id}) is not None

    async def unpublished(self, *, within: timedelta) -> list[tuple[str, dict[str, Any]]]:
        """Events stored in the last `within` that were never acknowledged, oldest first.
        (A scan: the relay runs it at start-up and rarely after.)"""
        since = datetime.now(UTC) - within
        found = [
            (name, doc)
            for name, collection in self._collections.items()
            for doc in await collection.find({"stored_at": {"$gte": since}}).to_list(None)
            if not await self.is_published(doc["event_id"])
        ]
        return sorted(found, key=lambda item: item[1]["seq"])
