"""The callback store: call-backs (each with its outbox), slots and timers.

Everything that must not happen twice is one atomic update of one document:
- A slot is one document `{_id: <department>|<start>, taken, holders: [call-back ids]}`. A
  booking adds the call-back to `holders` only while fewer than the capacity hold it and it is
  not among them yet, so no slot is overbooked and a redelivered request finds itself holding.
- A transition of a call-back from revision r is one update guarded by `revision: r` that also
  appends the transition's events to the document's `outbox`; a concurrent second writer
  matches nothing (409). Published entries are pulled from the outbox once the broker has them.
- A timer is claimed by one conditional update that sets its owner and lease.

Every filter's fields lie in the index its query uses (the planned-store test checks this with
explain), and retention is by TTL index or one delete/update by filter.
"""

import contextlib
from datetime import UTC, datetime
from typing import Any

from pymongo import ASCENDING, IndexModel
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError, OperationFailure

INDEX_OPTIONS_CONFLICT = (85, 86)
CLAIM_CANDIDATES = 5  # due timers tried per claim before giving up the round  # IndexOptionsConflict, IndexKeySpecsConflict


def slot_id(department_id: str, start: datetime) -> str:
    return f"{department_id}|{start.astimezone(UTC).isoformat()}"


async def declare_indexes(collection: AsyncCollection, indexes: list[IndexModel]) -> None:
    """Create the indexes; a TTL index whose period changed in the settings is altered in place."""
    for index in indexes:
        try:
            await collection.create_indexes([index])
        except OperationFailure as exc:
            expire = index.document.get("expireAfterSeconds")
            if exc.code not in INDEX_OPTIONS_CONFLICT or expire is None:
                raise
            await collection.database.command(
                "collMod", collection.name, index={"name": index.document["name"], "expireAfterSeconds": expire}
            )


def _book_pipeline(*, holder: str, capacity: int, department_id: str, start: datetime, end: datetime) -> list[dict[str, Any]]:
    """Add `holder` to the slot's holders if it has room and `holder` is not there yet.

    An update pipeline because the guard "not among the holders" as a filter (`$ne` on an
    array) cannot be answered from an index: the filter stays `{_id}` and the document decides."""
    holders = {"$ifNull": ["$holders", []]}
    room = {"$and": [{"$lt": [{"$size": holders}, capacity]}, {"$not": [{"$in": [holder, holders]}]}]}
    return [
        {"$set": {
            "department_id": department_id, "start": start, "end": end,
            "holders": {"$cond": [room, {"$concatArrays": [holders, [holder]]}, holders]},
        }},
        {"$set": {"taken": {"$size": "$holders"}}},
    ]


class CallbackRepository:
    def __init__(self, db: AsyncDatabase, *, expire_after_s: float = 2 * 86_400) -> None:
        self._callbacks = db["callbacks"]
        self._slots = db["slots"]
        self._timers = db["timers"]
        self._expire_after_s = int(expire_after_s)

    async def ensure_indexes(self) -> None:
        """Declare every index a query here uses (idempotent), the TTL ones included."""
        await declare_indexes(self._callbacks, [
            IndexModel([("department_id", ASCENDING), ("status", ASCENDING), ("slot_start", ASCENDING)], name="due"),
            IndexModel([("outbox.at", ASCENDING)], name="outbox"),
            IndexModel([("contact_id", ASCENDING)], name="contact"),
            IndexModel([("phone_key", ASCENDING)], name="phone_key"),
            IndexModel([("purged_at", ASCENDING), ("requested_at", ASCENDING)], name="retention"),
        ])
        await declare_indexes(self._slots, [
            IndexModel([("department_id", ASCENDING), ("start", ASCENDING)], name="day"),
            IndexModel([("holders", ASCENDING)], name="holder"),
            # The retention job deletes slots that ended long ago. Not a TTL index: that expires by the
            # server's clock, and a service on a simulated clock would see capacity of its slots vanish.
            IndexModel([("end", ASCENDING)], name="ended"),
        ])
        await declare_indexes(self._timers, [
            IndexModel([("state", ASCENDING), ("due_at", ASCENDING)], name="due"),
            IndexModel([("state", ASCENDING), ("lease_until", ASCENDING)], name="lease"),
            IndexModel([("callback_id", ASCENDING)], name="callback"),
            # Only fired or skipped timers have `done_at`: pending ones never expire.
            IndexModel([("done_at", ASCENDING)], name="expire", expireAfterSeconds=self._expire_after_s),
        ])

    # --- call-backs -------------------------------------------------------------------------

    async def create(self, callback: dict[str, Any]) -> bool:
        """Insert once, keyed by call-back id; False when it already existed (a redelivery)."""
        try:
            await self._callbacks.insert_one({"_id": callback["callback_id"], **callback, "revision": 0, "outbox": []})
        except DuplicateKeyError:
            return False
        return True

    async def get(self, callback_id: str) -> dict[str, Any] | None:
        return await self._callbacks.find_one({"_id": callback_id}, {"_id": 0, "outbox": 0})

    async def get_phone(self, callback_id: str) -> dict[str, Any] | None:
        return await self._callbacks.find_one({"_id": callback_id}, {"phone": 1, "phone_key": 1})

    async def set_phone(self, callback_id: str, phone: str) -> None:
        await self._callbacks.update_one({"_id": callback_id}, {"$set": {"phone": phone}})

    async def save(
        self, *, callback_id: str, revision: int, changes: dict[str, Any], events: list[dict[str, Any]]
    ) -> dict[str, Any] | None:
        """Apply the transition from `revision` and queue its events in the same write; the
        call-back as saved (its outbox included), or None if it is no longer at `revision`."""
        saved = await self._callbacks.update_one(
            {"_id": callback_id, "revision": revision},
            {"$set": {**changes, "revision": revision + 1}, "$push": {"outbox": {"$each": events}}},
        )
        if not saved.modified_count:
            return None
        # Read back by `_id` (update_one, not findAndModify: see `book_slot`). A later writer
        # may already have moved it on: the caller gets that state, never an older one.
        return await self._callbacks.find_one({"_id": callback_id}, {"_id": 0})

    async def outbox_of(self, callback_id: str) -> list[dict[str, Any]]:
        """The call-back's events not yet published, oldest first."""
        doc = await self._callbacks.find_one({"_id": callback_id}, {"outbox": 1})
        return (doc or {}).get("outbox") or []

    async def outboxes_before(self, *, queued_before: datetime, limit: int = 100) -> list[dict[str, Any]]:
        """Call-backs with an event queued before `queued_before` and not yet published."""
        cursor = self._callbacks.find({"outbox.at": {"$lt": queued_before}}, {"callback_id": 1, "outbox": 1}).limit(limit)
        return [doc async for doc in cursor]

    async def published(self, *, callback_id: str, event_ids: list[str]) -> None:
        """Pull events the broker acknowledged from the call-back's outbox."""
        await self._callbacks.update_one({"_id": callback_id}, {"$pull": {"outbox": {"id": {"$in": event_ids}}}})

    async def due_before(self, *, department_id: str, statuses: tuple[str, ...], before: datetime) -> list[dict[str, Any]]:
        """The department's call-backs in `statuses` whose slot starts before `before`, earliest first."""
        found: list[dict[str, Any]] = []
        # One query per status: each is then an index range scan (`$in` next to a range is a
        # collection scan on SecantusDB), and the few results are merged here.
        for status in statuses:
            cursor = self._callbacks.find(
                {"department_id": department_id, "status": status, "slot_start": {"$lt": before}}, {"_id": 0, "outbox": 0}
            ).sort([("slot_start", ASCENDING)])
            found.extend([doc async for doc in cursor])
        return sorted(found, key=lambda doc: doc["slot_start"])

    # --- slots ------------------------------------------------------------------------------

    async def full_slots(self, *, department_id: str, start: datetime, end: datetime, capacity: int) -> set[datetime]:
        # A day's slots are a few dozen: read them and compare here, so the filter stays within the index.
        cursor = self._slots.find({"department_id": department_id, "start": {"$gte": start, "$lt": end}}, {"start": 1, "taken": 1})
        return {doc["start"] async for doc in cursor if doc["taken"] >= capacity}

    async def taken_slots(self, *, department_id: str, start: datetime, end: datetime) -> dict[datetime, int]:
        """Places taken per slot start in [start, end) (slots nobody booked are absent)."""
        cursor = self._slots.find({"department_id": department_id, "start": {"$gte": start, "$lt": end}}, {"start": 1, "taken": 1})
        return {doc["start"]: doc["taken"] async for doc in cursor}

    async def book_slot(
        self, *, department_id: str, start: datetime, end: datetime, capacity: int, holder: str
    ) -> str | None:
        """Take a place in the slot for `holder` (already holding one counts); the slot's id, or
        None when it is full."""
        pipeline = _book_pipeline(holder=holder, capacity=capacity, department_id=department_id, start=start, end=end)
        the_slot = slot_id(department_id, start)
        # An update, then a read of the holders: as atomic as a findAndModify, which on the
        # local store (SecantusDB 0.7) scans the collection for an existing document. Two first
        # bookings of a slot may race to create it and one get a duplicate key: booking is
        # idempotent per holder, so it simply asks again.
        for _ in range(3):
            try:
                await self._slots.update_one({"_id": the_slot}, pipeline, upsert=True)
                break
            except DuplicateKeyError:
                continue
        slot = await self._slots.find_one({"_id": the_slot}, {"holders": 1})
        if slot is None:
            raise RuntimeError(f"slot {the_slot} could not be created or read")
        return slot["_id"] if holder in slot["holders"] else None

    async def held_slot(self, *, holder: str) -> dict[str, Any] | None:
        """The slot `holder` holds a place in, if any (a crash after booking left it held)."""
        return await self._slots.find_one({"holders": holder}, {"start": 1, "end": 1})

    async def release_slot(self, *, slot_id: str, holder: str) -> bool:
        """Give `holder`'s place in the slot back; False when it held none there."""
        result = await self._slots.update_one(
            {"_id": slot_id, "holders": holder}, {"$pull": {"holders": holder}, "$inc": {"taken": -1}}
        )
        return result.modified_count == 1

    async def slot_counts(self, *, department_id: str) -> dict[datetime, int]:
        """Places taken per slot start, slots with none left out."""
        cursor = self._slots.find({"department_id": department_id}, {"start": 1, "taken": 1})
        return {doc["start"]: doc["taken"] async for doc in cursor if doc["taken"]}

    # --- timers -----------------------------------------------------------------------------

    async def add_timer(self, *, timer_id: str, callback_id: str, kind: str, booking: int, due_at: datetime) -> None:
        """Create a timer once (idempotent on its deterministic id)."""
        with contextlib.suppress(DuplicateKeyError):
            await self._timers.insert_one(
                {"_id": timer_id, "callback_id": callback_id, "kind": kind, "booking": booking, "due_at": due_at,
                 "state": "pending", "claims": 0}
            )

    async def claim_due_timer(self, *, now: datetime, lease_until: datetime, owner: str) -> dict[str, Any] | None:
        """Take a due timer for `owner` until `lease_until`: first one whose claimant's lease ran
        out (it crashed), else the earliest pending one that is due. Exactly one caller gets it."""
        claim = {"$set": {"state": "claimed", "owner": owner, "lease_until": lease_until}, "$inc": {"claims": 1}}
        # Two queries, not one `$or`: each is then answered from its own index.
        # The earliest few candidates, then a conditional update of each in turn: the update
        # re-checks the selector, so of racing schedulers exactly one takes a timer (update_one,
        # not findAndModify: see `book_slot`).
        for selector, order in (
            ({"state": "claimed", "lease_until": {"$lte": now}}, "lease_until"),
            ({"state": "pending", "due_at": {"$lte": now}}, "due_at"),
        ):
            candidates = await self._timers.find(selector, {"_id": 1}).sort(order, ASCENDING).limit(CLAIM_CANDIDATES).to_list(None)
            for candidate in candidates:
                if (await self._timers.update_one({"_id": candidate["_id"], **selector}, claim)).modified_count:
                    return await self._timers.find_one({"_id": candidate["_id"]})
        return None

    async def finish_timer(self, *, timer_id: str, owner: str, outcome: str, at: datetime) -> bool:
        """Mark a claimed timer done; False when another scheduler took it over meanwhile."""
        result = await self._timers.update_one(
            {"_id": timer_id, "owner": owner},
            {"$set": {"state": "done", "outcome": outcome, "done_at": at}, "$unset": {"lease_until": ""}},
        )
        return result.modified_count == 1

    async def timers_of(self, callback_id: str) -> list[dict[str, Any]]:
        return [doc async for doc in self._timers.find({"callback_id": callback_id})]
