"""Call-backs, one document per call-back id."""

from typing import Any

from pymongo.asynchronous.collection import AsyncCollection


class CallbackRepository:
    def __init__(self, collection: AsyncCollection) -> None:
        self._callbacks = collection

    async def create(self, callback: dict[str, Any]) -> None:
        """Insert once; a redelivered request leaves the existing call-back untouched."""
        await self._callbacks.update_one({"_id": callback["callback_id"]}, {"$setOnInsert": callback}, upsert=True)

    async def get(self, callback_id: str) -> dict[str, Any] | None:
        return await self._callbacks.find_one({"_id": callback_id}, {"_id": 0})
