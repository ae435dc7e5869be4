"""The callback store: call-backs, their transition log (the outbox), slot places and timers.

Runs on MongoDB and on FerretDB 1.x. FerretDB's SQLite backend does not make a conditional
update atomic under concurrency (measured: 50 concurrent `$inc if booked < 5` all matched),
so everything that must not happen twice rests on the one thing both stores do enforce
atomically: a unique `_id` on insert.
- A slot with capacity n has places `<slot>|0 … <slot>|n-1`; booking inserts one place
  document, and only one insert per place can succeed. No slot is ever overbooked. A place
  is given back by its own id.
- A transition of a call-back from revision r is the insert of `<callback>|r+1` into
  `transitions`; only one writer wins it, the others get a conflict. The callback document
  is then rolled forward to it (again by whoever reads it, after a crash in between), and the
  transition's events stay `pending` until published: the outbox.
"""

import contextlib
from collections import Counter
from datetime import UTC, datetime
from typing import Any

from pymongo import ASCENDING, ReturnDocument
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError


def _slot_id(department_id: str, start: datetime) -> str:
    return f"{department_id}|{start.astimezone(UTC).isoformat()}"


class CallbackRepository:
    def __init__(self, db: AsyncDatabase) -> None:
        self._callbacks = db["callbacks"]
        self._transitions = db["transitions"]
        self._places = db["slot_places"]
        self._timers = db["timers"]

    async def ensure_indexes(self) -> None:
        await self._callbacks.create_index(
            [("department_id", ASCENDING), ("status", ASCENDING), ("slot_start", ASCENDING)], name="due"
        )
        await self._transitions.create_index([("pending", ASCENDING), ("callback_id", ASCENDING), ("revision", ASCENDING)], name="outbox")
        await self._places.create_index([("department_id", ASCENDING), ("start", ASCENDING)], name="day")
        await self._timers.create_index([("state", ASCENDING), ("due_at", ASCENDING)], name="due")

    # --- call-backs -------------------------------------------------------------------------

    async def create(self, callback: dict[str, Any]) -> bool:
        """Insert once, keyed by call-back id; False when it already existed (a redelivery)."""
        try:
            await self._callbacks.insert_one({"_id": callback["callback_id"], **callback, "revision": 0})
        except DuplicateKeyError:
            return False
        return True

    async def get(self, callback_id: str) -> dict[str, Any] | None:
        """The call-back, rolled forward over any transition logged but not yet applied."""
        while True:
            doc = await self._callbacks.find_one({"_id": callback_id}, {"_id": 0})
            if doc is None:
                return None
            logged = await self._transitions.find_one({"_id": f"{callback_id}|{doc['revision'] + 1}"})
            if logged is None:
                return doc
            await self._apply(logged)

    async def get_phone(self, callback_id: str) -> dict[str, Any] | None:
        return await self._callbacks.find_one({"_id": callback_id}, {"phone": 1, "phone_key": 1})

    async def set_phone(self, callback_id: str, phone: str) -> None:
        await self._callbacks.update_one({"_id": callback_id}, {"$set": {"phone": phone}})

    async def save(self, *, callback_id: str, revision: int, changes: dict[str, Any], events: list[dict[str, Any]], at: datetime) -> bool:
        """Log the transition from `revision` with its events, then apply it; False if another
        writer already made a transition from that revision (a conflict)."""
        transition = {
            "_id": f"{callback_id}|{revision + 1}", "callback_id": callback_id, "revision": revision + 1,
            "changes": changes, "events": events, "pending": bool(events), "at": at,
        }
        try:
            await self._transitions.insert_one(transition)
        except DuplicateKeyError:
            return False
        await self._apply(transition)
        return True

    async def _apply(self, transition: dict[str, Any]) -> None:
        await self._callbacks.update_one(
            {"_id": transition["callback_id"], "revision": transition["revision"] - 1},
            {"$set": {**transition["changes"], "revision": transition["revision"]}},
        )

    async def pending_events(
        self, *, callback_id: str | None = None, logged_before: datetime | None = None, limit: int = 100
    ) -> list[dict[str, Any]]:
        """Transitions whose events are not yet published, oldest first per call-back."""
        query: dict[str, Any] = {"pending": True}
        if callback_id is not None:
            query["callback_id"] = callback_id
        if logged_before is not None:
            query["at"] = {"$lt": logged_before}
        cursor = self._transitions.find(query).sort([("callback_id", ASCENDING), ("revision", ASCENDING)]).limit(limit)
        return [doc async for doc in cursor]

    async def mark_published(self, *, transition_id: str) -> None:
        await self._transitions.update_one({"_id": transition_id}, {"$set": {"pending": False}})

    async def due_before(self, *, department_id: str, statuses: tuple[str, ...], before: datetime) -> list[dict[str, Any]]:
        cursor = self._callbacks.find(
            {"department_id": department_id, "status": {"$in": list(statuses)}, "slot_start": {"$lt": before}},
            {"_id": 0},
        ).sort([("slot_start", ASCENDING)])
        return [doc async for doc in cursor]

    # --- slot places ------------------------------------------------------------------------

    async def full_slots(self, *, department_id: str, start: datetime, end: datetime, capacity: int) -> set[datetime]:
        cursor = self._places.find({"department_id": department_id, "start": {"$gte": start, "$lt": end}}, {"start": 1})
        taken = Counter([doc["start"] async for doc in cursor])
        return {slot for slot, n in taken.items() if n >= capacity}

    async def book_slot(
        self, *, department_id: str, start: datetime, end: datetime, capacity: int, holder: str, booked_at: datetime
    ) -> str | None:
        """Take one of the slot's places: the first whose insert succeeds (unique `_id`).
        Returns the place's id, or None when the slot is full."""
        slot_id = _slot_id(department_id, start)
        for place in range(capacity):
            place_id = f"{slot_id}|{place}"
            try:
                await self._places.insert_one(
                    {"_id": place_id, "department_id": department_id, "start": start, "end": end, "holder": holder,
                     "booked_at": booked_at}
                )
            except DuplicateKeyError:
                continue
            return place_id
        return None

    async def release_place(self, *, place_id: str, holder: str) -> None:
        """Give a place back (by its id: a delete by query is not isolated on FerretDB)."""
        await self._places.delete_one({"_id": place_id, "holder": holder})

    async def slot_counts(self, *, department_id: str) -> dict[datetime, int]:
        return dict(Counter([doc["start"] async for doc in self._places.find({"department_id": department_id}, {"start": 1})]))

    # --- timers -----------------------------------------------------------------------------

    async def add_timer(self, *, timer_id: str, callback_id: str, kind: str, booking: int, due_at: datetime) -> None:
        """Create a timer once (idempotent on its deterministic id)."""
        with contextlib.suppress(DuplicateKeyError):
            await self._timers.insert_one(
                {"_id": timer_id, "callback_id": callback_id, "kind": kind, "booking": booking, "due_at": due_at, "state": "pending"}
            )

    async def claim_due_timer(self, *, now: datetime, lease_until: datetime, owner: str) -> dict[str, Any] | None:
        """Take the earliest due timer: a pending one, or a claimed one whose claimant's lease
        ran out (it crashed). On FerretDB two schedulers may both take one; both then publish
        the same event id, which consumers de-duplicate."""
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

    # --- housekeeping -----------------------------------------------------------------------

    async def purge_finished(self, *, before: datetime) -> dict[str, int]:
        """Delete what only the past needs, from before `before`: timers that fired or were
        skipped, the places of slots that ended, and transitions published and applied (the
        call-back document keeps their result). The scheduler's and the booking's queries read
        these collections whole on FerretDB, so they must not grow with every call-back ever made."""
        timers = await self._timers.delete_many({"state": "done", "done_at": {"$lt": before}})
        places = await self._places.delete_many({"end": {"$lt": before}})
        old = await self._transitions.find(
            {"pending": False, "at": {"$lt": before}}, {"callback_id": 1, "revision": 1}
        ).to_list(None)
        # One read for every revision (a find per call-back would scan once per call-back).
        revisions = {
            doc["_id"]: doc["revision"]
            async for doc in self._callbacks.find({"_id": {"$in": sorted({t["callback_id"] for t in old})}}, {"revision": 1})
        }
        for callback_id in sorted({t["callback_id"] for t in old if t["revision"] > revisions.get(t["callback_id"], t["revision"])}):
            current = await self.get(callback_id)  # rolls forward what a crash left unapplied (rare)
            revisions[callback_id] = current["revision"] if current else revisions[callback_id]
        applied = [t["_id"] for t in old if t["callback_id"] not in revisions or t["revision"] <= revisions[t["callback_id"]]]
        transitions = await self._transitions.delete_many({"_id": {"$in": applied}}) if applied else None
        return {
            "timers": timers.deleted_count,
            "slot_places": places.deleted_count,
            "transitions": transitions.deleted_count if transitions else 0,
        }

    async def release_orphan_places(self, *, now: datetime, booked_before: datetime) -> int:
        """Give back places of coming slots that no call-back holds: a crash between taking a
        place and saving the call-back, or between a reschedule's save and its giving back of
        the old place, left them taken. Only places booked before `booked_before`, so a booking
        still on its way to being saved is left alone."""
        places = await self._places.find(
            {"start": {"$gt": now}, "$or": [{"booked_at": {"$lt": booked_before}}, {"booked_at": {"$exists": False}}]},
            {"holder": 1},
        ).to_list(None)
        held = {
            doc["_id"]: doc.get("slot_place")
            async for doc in self._callbacks.find({"_id": {"$in": sorted({p["holder"] for p in places})}}, {"slot_place": 1})
        }
        released = 0
        for place in places:
            if held.get(place["holder"]) == place["_id"]:
                continue
            current = await self.get(place["holder"])  # a logged transition may hold it (rare: look closer)
            if current is not None and current.get("slot_place") == place["_id"]:
                continue
            await self.release_place(place_id=place["_id"], holder=place["holder"])
            released += 1
        return released
