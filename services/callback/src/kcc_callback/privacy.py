"""Callback's part of erasure and retention.

The callback store is the only place besides intake that holds a citizen's phone number (to
dial it), plus agents' notes on attempts; its transition log repeats those notes.
- Erasure: the citizen's call-backs (by contact id, or by the pseudonym of their number) are
  deleted with their transition log, timers and slot places.
- Retention: a daily job strips the number, its pseudonym and the notes from call-backs
  requested before the retention period (`KCC_CALLBACK_RETENTION_MONTHS`, 12) and deletes
  their published transition log. Old call-backs are few per day, so the per-document
  rewrite (each update scans on FerretDB) stays a small batch off the hot path.
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
        self._callbacks, self._transitions = db["callbacks"], db["transitions"]
        self._timers, self._places = db["timers"], db["slot_places"]
        self._retention_months, self._clock = retention_months, clock

    async def erase(self, request: CitizenErasureRequestedData) -> dict[str, int]:
        """Delete the citizen's call-backs and everything kept about them; the count per collection."""
        ids: set[str] = set()
        for contact_id in request.contact_ids:
            ids.update([doc["_id"] async for doc in self._callbacks.find({"contact_id": contact_id}, {"_id": 1})])
        for pseudonym in request.pseudonyms:
            if pseudonym.startswith("phone:"):
                ids.update([doc["_id"] async for doc in self._callbacks.find({"phone_key": pseudonym}, {"_id": 1})])
        removed = {"callbacks": 0, "transitions": 0, "timers": 0, "slot_places": 0}
        for callback_id in sorted(ids):
            removed["transitions"] += (await self._transitions.delete_many({"callback_id": callback_id})).deleted_count
            removed["timers"] += (await self._timers.delete_many({"callback_id": callback_id})).deleted_count
            removed["slot_places"] += (await self._places.delete_many({"holder": callback_id})).deleted_count
            removed["callbacks"] += (await self._callbacks.delete_one({"_id": callback_id})).deleted_count
        return removed

    async def purge_expired(self) -> dict[str, int]:
        """Strip numbers and notes from call-backs requested before the retention period."""
        now = self._clock()
        before = months_before(now, self._retention_months)
        old = await self._callbacks.find(
            {"requested_at": {"$lt": before}, "purged_at": {"$exists": False}}, {"attempts": 1}
        ).to_list(None)
        transitions = 0
        for doc in old:
            attempts = [{**attempt, "note": None} for attempt in doc.get("attempts") or []]
            await self._callbacks.update_one(
                {"_id": doc["_id"]},
                {"$set": {"attempts": attempts, "purged_at": now}, "$unset": {"phone": "", "phone_key": ""}},
            )
            transitions += (await self._transitions.delete_many({"callback_id": doc["_id"], "pending": False})).deleted_count
        return {"callbacks": len(old), "transitions": transitions}
