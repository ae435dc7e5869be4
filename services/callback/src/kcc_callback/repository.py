"""The callback store: call-backs (with their outbox), slot counters and timers.

FerretDB and MongoDB alike: every write is one single-document atomic update, no transactions.
"""

from datetime import UTC, datetime
from typing import Any

from pymongo import ASCENDING, ReturnDocument
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError


def _outbox_key(event_id: str) -> str:
    return f"outbox.e{event_id}"


def _slot_id(department_id: str, start: datetime) -> str:
    return f"{department_id}|{start.astimezone(UTC).isoformat()}"


class CallbackRepository:
    def __init__(self, db: AsyncDatabase) -> None:
        self._callbacks = db["callbacks"]
        self._slots = db["slots"]
        self._timers = db["timers"]

    async def ensure_indexes(self) -> None:
        await self._callbacks.create_index(
            [("department_id", ASCENDING), ("status", ASCENDING), ("slot_start", ASCENDING)], name="due"
        )
        await self._callbacks.create_index([("outbox_count", ASCENDING)], name="outbox")
        await self._slots.create_index([("department_id", ASCENDING), ("start", ASCENDING)], name="day")
        await self._timers.create_index([("state", ASCENDING), ("due_at", ASCENDING)], name="due")

    # --- call-backs -------------------------------------------------------------------------

    async def create(self, callback: dict[str, Any]) -> bool:
        """Insert once, keyed by call-back id; False when it already existed (a redelivery)."""
        result = await self._callbacks.update_one(
            {"_id": callback["callback_id"]},
            {"$setOnInsert": {**callback, "revision": 0, "outbox_count": 0}},
            upsert=True,
        )
        return result.upserted_id is not None

    async def get(self, callback_id: str) -> dict[str, Any] | None:
        return await self._callbacks.find_one({"_id": callback_id}, {"_id": 0, "outbox": 0})

    async def save(self, *, callback_id: str, revision: int, changes: dict[str, Any], events: list[dict[str, Any]]) -> bool:
        """Apply `changes` and queue `events` in one atomic update, if nobody changed it since
        `revision` (optimistic concurrency); False otherwise. The events form the outbox that
        is published afterwards, so a state change and its events never diverge."""
        outbox = {_outbox_key(e["event"]["id"]): e for e in events}
        result = await self._callbacks.update_one(
            {"_id": callback_id, "revision": revision},
            {"$set": {**changes, **outbox}, "$inc": {"revision": 1, "outbox_count": len(events)}},
        )
        return result.matched_count == 1

    async def with_outbox(self, *, callback_id: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
        """Call-backs with events still to publish (one, or any)."""
        query: dict[str, Any] = {"outbox_count": {"$gt": 0}}
        if callback_id is not None:
            query["_id"] = callback_id
        cursor = self._callbacks.find(query, {"outbox": 1}).limit(limit)
        return [doc async for doc in cursor]

    async def mark_published(self, *, callback_id: str, event_id: str) -> None:
        key = _outbox_key(event_id)
        await self._callbacks.update_one(
            {"_id": callback_id, key: {"$exists": True}}, {"$unset": {key: ""}, "$inc": {"outbox_count": -1}}
        )

    async def due_before(self, *, department_id: str, statuses: tuple[str, ...], before: datetime) -> list[dict[str, Any]]:
        cursor = self._callbacks.find(
            {"department_id": department_id, "status": {"$in": list(statuses)}, "slot_start": {"$lt": before}},
            {"_id": 0, "outbox": 0},
        ).sort([("slot_start", ASCENDING)])
        return [doc async for doc in cursor]

    # --- slot counters ----------------------------------------------------------------------

    async def full_slots(self, *, department_id: str, start: datetime, end: datetime, capacity: int) -> set[datetime]:
        cursor = self._slots.find(
            {"department_id": department_id, "start": {"$gte": start, "$lt": end}, "booked": {"$gte": capacity}},
            {"start": 1},
        )
        return {doc["start"] async for doc in cursor}

    async def book_slot(self, *, department_id: str, start: datetime, end: datetime, capacity: int) -> bool:
        """Take one place in a slot if it has one left: one atomic conditional increment."""
        slot_id = _slot_id(department_id, start)
        try:
            booked = await self._slots.find_one_and_update(
                {"_id": slot_id, "booked": {"$lt": capacity}},
                {"$inc": {"booked": 1}, "$setOnInsert": {"department_id": department_id, "start": start, "end": end}},
                upsert=True,
                return_document=ReturnDocument.AFTER,
            )
        except DuplicateKeyError:
            # The slot exists (full, or just created by a concurrent booking): try once more
            # without upsert, which only succeeds if a place is left.
            booked = await self._slots.find_one_and_update(
                {"_id": slot_id, "booked": {"$lt": capacity}}, {"$inc": {"booked": 1}}
            )
        return booked is not None

    async def release_slot(self, *, department_id: str, start: datetime) -> None:
        await self._slots.update_one(
            {"_id": _slot_id(department_id, start), "booked": {"$gt": 0}}, {"$inc": {"booked": -1}}
        )

    async def slot_counts(self, *, department_id: str) -> dict[datetime, int]:
        cursor = self._slots.find({"department_id": department_id}, {"start": 1, "booked": 1})
        return {doc["start"]: doc["booked"] async for doc in cursor}

    # --- timers -----------------------------------------------------------------------------

    async def add_timer(self, *, timer_id: str, callback_id: str, kind: str, booking: int, due_at: datetime) -> None:
        """Create a timer once (idempotent on its deterministic id)."""
        await self._timers.update_one(
            {"_id": timer_id},
            {"$setOnInsert": {"callback_id": callback_id, "kind": kind, "booking": booking, "due_at": due_at, "state": "pending"}},
            upsert=True,
        )

    async def claim_due_timer(self, *, now: datetime, lease_until: datetime, owner: str) -> dict[str, Any] | None:
        """Atomically take the earliest due timer: a pending one, or a claimed one whose
        claimant's lease ran out (it crashed)."""
        return await self._timers.find_one_and_update(
            {"$or": [{"state": "pending", "due_at": {"$lte": now}}, {"state": "claimed", "lease_until": {"$lte": now}}]},
            {"$set": {"state": "claimed", "owner": owner, "lease_until": lease_until}, "$inc": {"claims": 1}},
            sort=[("due_at", ASCENDING)],
            return_document=ReturnDocument.AFTER,
        )

    async def finish_timer(self, *, timer_id: str, owner: str, outcome: str, at: datetime) -> bool:
        result = await self._timers.update_one(
            {"_id": timer_id, "state": "claimed", "owner": owner},
            {"$set": {"state": "done", "outcome": outcome, "done_at": at}},
        )
        return result.modified_count == 1

    async def timers_of(self, callback_id: str) -> list[dict[str, Any]]:
        return [doc async for doc in self._timers.find({"callback_id": callback_id})]
