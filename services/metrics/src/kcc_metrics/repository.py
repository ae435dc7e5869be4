"""Facts the metrics service counts, one immutable document per event id (so counting is
idempotent, and a replay of the topics into a fresh database yields the same facts)."""

from datetime import date
from typing import Any

from pymongo.asynchronous.collection import AsyncCollection

from kcc_shared.mongo import insert_once


class FactRepository:
    def __init__(self, collection: AsyncCollection) -> None:
        self._facts = collection

    async def ensure_indexes(self) -> None:
        await self._facts.create_index([("kind", 1), ("day", 1)], name="kind_day")
        await self._facts.create_index([("kind", 1), ("call_id", 1)], name="kind_call")
        await self._facts.create_index([("kind", 1), ("contact_id", 1)], name="kind_contact")
        await self._facts.create_index([("kind", 1), ("callback_id", 1)], name="kind_callback")

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

    async def in_period(self, *, kind: str, first: date, last: date, **equal: Any) -> list[dict[str, Any]]:
        """Facts of one kind whose local day lies in [first, last], optionally filtered on equal fields."""
        query = {"kind": kind, "day": {"$gte": first.isoformat(), "$lte": last.isoformat()}, **equal}
        return [fact async for fact in self._facts.find(query)]

    async def where_in(self, *, kind: str, field: str, values: list[str]) -> list[dict[str, Any]]:
        """Facts of one kind whose `field` is one of `values` (the query-time join)."""
        if not values:
            return []
        return [fact async for fact in self._facts.find({"kind": kind, field: {"$in": values}})]
