"""Intake's store of contacts (contactmomenten)."""

from datetime import UTC, datetime
from typing import Any

from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import DuplicateKeyError


class ContactRepository:
    def __init__(self, collection: AsyncCollection) -> None:
        self._contacts = collection

    async def ensure_indexes(self) -> None:
        await self._contacts.create_index("dedup_key", unique=True, name="dedup_key")

    async def insert(self, contact: dict[str, Any]) -> dict[str, Any] | None:
        """Store a new contact; returns the earlier one if its dedup key was taken."""
        try:
            await self._contacts.insert_one({**contact, "published": False})
            return None
        except DuplicateKeyError:
            return await self._contacts.find_one({"dedup_key": contact["dedup_key"]})

    async def mark_published(self, contact_id: str) -> None:
        await self._contacts.update_one(
            {"_id": contact_id}, {"$set": {"published": True, "published_at": datetime.now(UTC)}}
        )

    async def get(self, contact_id: str) -> dict[str, Any] | None:
        return await self._contacts.find_one({"_id": contact_id})
