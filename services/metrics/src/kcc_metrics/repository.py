"""Facts the metrics service counts, one document per event id (so counting is idempotent)."""

from datetime import date
from typing import Any

from pymongo.asynchronous.collection import AsyncCollection

from kcc_shared.mongo import insert_once


class FactRepository:
    def __init__(self, collection: AsyncCollection) -> None:
        self._facts = collection

    async def ensure_indexes(self) -> None:
        await self._facts.create_index([("kind", 1), ("day", 1)], name="kind_day")

    async def record(self, *, event_id: str, fact: dict[str, Any]) -> None:
        """Store a fact once; a redelivered event finds its fact already there."""
        await insert_once(self._facts, {"_id": event_id, **fact})

    async def count_by(self, *, kind: str, day: date, field: str) -> dict[str, int]:
        pipeline = [
            {"$match": {"kind": kind, "day": day.isoformat()}},
            {"$group": {"_id": f"${field}", "n": {"$sum": 1}}},
        ]
        cursor = await self._facts.aggregate(pipeline)
        return {row["_id"]: row["n"] async for row in cursor}
