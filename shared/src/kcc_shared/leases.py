"""Run-once work across replicas: a lease in the store, taken and renewed by conditional updates.

One document per job (`leases` collection, `_id` = the job's name) says who holds it until when,
and a fencing token that grows by one on every change of holder. Of replicas racing for a free
or lapsed lease exactly one wins (one conditional update, atomic on the store); the holder
renews before it runs again; a holder that stops renewing (it crashed) is replaced once its
lease has run out. Work done under a lease carries the token, so a later holder can tell an
earlier one's writes from its own.
"""

import contextlib
import os
import socket
import uuid
from datetime import UTC, datetime, timedelta

from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import DuplicateKeyError

NEVER = datetime(1970, 1, 1, tzinfo=UTC)


def holder_name(service: str) -> str:
    """A name for this process, unique among replicas (host, pid and a random part)."""
    return f"{service}@{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class Lease:
    def __init__(self, collection: AsyncCollection, *, name: str, holder: str, ttl: timedelta) -> None:
        self._leases, self.name, self.holder, self._ttl = collection, name, holder, ttl
        self.token: int | None = None

    async def acquire(self, *, now: datetime | None = None) -> int | None:
        """Hold the lease for `ttl` from now: renew it, or take it if free or lapsed. The fencing
        token while held, None when another replica holds it."""
        now = now or datetime.now(UTC)
        until = now + self._ttl
        renewed = await self._leases.update_one({"_id": self.name, "holder": self.holder}, {"$set": {"until": until}})
        if renewed.modified_count and self.token is not None:
            return self.token
        with contextlib.suppress(DuplicateKeyError):  # another replica created it first: fine
            await self._leases.update_one(
                {"_id": self.name}, {"$setOnInsert": {"holder": None, "until": NEVER, "token": 0}}, upsert=True
            )
        taken = await self._leases.update_one(
            {"_id": self.name, "until": {"$lt": now}}, {"$set": {"holder": self.holder, "until": until}, "$inc": {"token": 1}}
        )
        if not (taken.modified_count or renewed.modified_count):
            self.token = None
            return None
        doc = await self._leases.find_one({"_id": self.name})
        self.token = doc["token"] if doc and doc["holder"] == self.holder else None
        return self.token

    async def release(self) -> None:
        """Give the lease up at once (a clean stop), so another replica need not wait for it to lapse."""
        await self._leases.update_one({"_id": self.name, "holder": self.holder}, {"$set": {"until": NEVER}})
        self.token = None
