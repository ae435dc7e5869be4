"""Callback's part of erasure and retention.

The callback store is the only place besides intake that holds a citizen's phone number (to
dial it), plus agents' notes on attempts.
- Erasure: the citizen's call-backs (by contact id, or by the pseudonym of their number) are
  deleted with their timers, and their places in slots are given back.
- Retention: a daily job strips the number, its pseudonym and the notes from call-backs
  requested before the retention period (`KCC_CALLBACK_RETENTION_MONTHS`, 12), in one update
  by filter, and deletes slots that ended before it (they name call-backs).
The indexes these queries use are declared by `CallbackRepository`.
"""

from collections.abc import Callable
from datetime import UTC, datetime

from pymongo.asynchronous.database import AsyncDatabase

from kcc_shared.contracts import CitizenErasureRequestedData
from kcc_shared.periodic import months_before


class CallbackPrivacy:
    def __init__(
        self, db: AsyncDatabase, *, retention_months: int, clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    ) -> None:
        self._callbacks, self._timers, self._slots = db["callbacks"], db["timers"], db["slots"]
        self._retention_months, self._clock = retention_months, clock

    async def erase(self, request: CitizenErasureRequestedData) -> dict[str, int]:
        """Delete the citizen's call-backs and everything kept about them; the count per collection."""
        ids: set[str] = set()
        for contact_id in request.contact_ids:
            ids.update([doc["_id"] async for doc in self._callbacks.find({"contact_id": contact_id}, {"_id": 1})])
        for pseudonym in request.pseudonyms:
            if pseudonym.startswith("phone:"):
                ids.update([doc["_id"] async for doc in self._callbacks.find({"phone_key": pseudonym}, {"_id": 1})])
        if not ids:
            return {"callbacks": 0, "timers": 0, "slots": 0}
        erased = sorted(ids)
        timers = await self._timers.delete_many({"callback_id": {"$in": erased}})
        # Their places go back to the slots; the call-backs go last, so a retry after a crash finds them again.
        holders = {"$filter": {"input": "$holders", "cond": {"$not": [{"$in": ["$$this", erased]}]}}}
        slots = await self._slots.update_many(
            {"holders": {"$in": erased}}, [{"$set": {"holders": holders}}, {"$set": {"taken": {"$size": "$holders"}}}]
        )
        callbacks = await self._callbacks.delete_many({"_id": {"$in": erased}})
        return {"callbacks": callbacks.deleted_count, "timers": timers.deleted_count, "slots": slots.modified_count}

    async def purge_expired(self) -> dict[str, int]:
        """Strip numbers and notes from call-backs requested before the retention period."""
        now = self._clock()
        before = months_before(now, self._retention_months)
        notes_removed = {"$map": {"input": {"$ifNull": ["$attempts", []]}, "in": {"$mergeObjects": ["$$this", {"note": None}]}}}
        callbacks = await self._callbacks.update_many(
            {"purged_at": None, "requested_at": {"$lt": before}},
            [{"$set": {"attempts": notes_removed, "purged_at": now}}, {"$unset": ["phone", "phone_key"]}],
        )
        slots = await self._slots.delete_many({"end": {"$lt": before}})
        return {"callbacks": callbacks.modified_count, "slots": slots.deleted_count}
