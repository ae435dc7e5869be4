"""Idempotent consumers: remember which event ids a consumer has fully processed."""

from datetime import UTC, datetime

from pymongo.asynchronous.collection import AsyncCollection

from kcc_shared.mongo import insert_once


class Inbox:
    """Processed event ids per consumer, in the service's own database.

    An id is recorded only after its handler succeeded, so a crash in between means the
    handler runs again: handlers write with upserts keyed by ids derived from the event, which
    makes that second run a no-op. A redelivery after success is skipped outright.
    """

    def __init__(self, collection: AsyncCollection) -> None:
        self._collection = collection

    async def seen(self, *, consumer: str, event_id: str) -> bool:
        return await self._collection.find_one({"_id": f"{consumer}:{event_id}"}, {"_id": 1}) is not None

    async def record(self, *, consumer: str, event_id: str) -> None:
        await insert_once(
            self._collection,
            {"_id": f"{consumer}:{event_id}", "consumer": consumer, "event_id": event_id, "processed_at": datetime.now(UTC)},
        )

    async def ensure_indexes(self) -> None:
        await self._collection.create_index([("processed_at", 1)], name="processed_at")
