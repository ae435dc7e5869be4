"""Routing's part of erasure and retention.

Routing holds content only in its agents' work items (`work`: subject, text) and names the
citizen there by pseudonyms only; decisions hold no content but do name the contact.
- Erasure: the citizen's work items and decisions are deleted (by contact id).
- Retention: a daily job strips subject, text and pseudonyms from work items received before
  the retention period (`KCC_ROUTING_RETENTION_MONTHS`, 12): one `update_many` a day, so the
  hot path stays as it is.
"""

from collections.abc import Callable
from datetime import UTC, datetime

from pymongo.asynchronous.database import AsyncDatabase

from kcc_shared.contracts import CitizenErasureRequestedData
from kcc_shared.periodic import months_before

PURGED_FIELDS = ("subject", "text", "phone_key", "citizen")


class RoutingPrivacy:
    def __init__(
        self, db: AsyncDatabase, *, retention_months: int, clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    ) -> None:
        self._work, self._decisions = db["work"], db["decisions"]
        self._retention_months, self._clock = retention_months, clock

    async def erase(self, request: CitizenErasureRequestedData) -> dict[str, int]:
        """Delete the citizen's work items and decisions; returns the count per collection."""
        ids = sorted(request.contact_ids)
        work = await self._work.delete_many({"_id": {"$in": ids}})
        decisions = await self._decisions.delete_many({"contact_id": {"$in": ids}})
        return {"work": work.deleted_count, "decisions": decisions.deleted_count}

    async def purge_expired(self) -> dict[str, int]:
        """Strip content and pseudonyms from work items received before the retention period."""
        now = self._clock()
        result = await self._work.update_many(
            {"purged_at": None, "received_at": {"$lt": months_before(now, self._retention_months)}},  # null: not purged yet
            {"$unset": {field: "" for field in PURGED_FIELDS}, "$set": {"purged_at": now}},
        )
        return {"work": result.modified_count}
