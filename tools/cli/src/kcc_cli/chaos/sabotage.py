"""`--break-outbox`: the outbox disabled on purpose, to show the ledger check can fail.

While the broker is away, intake holds the contacts it accepted in its outbox: in the store
(what is unpublished) and in each replica's memory (the relay's queue). This erases both, as if
intake had no outbox at all: it marks every unpublished event in intake's store as published
and forgets the open group commits, then kills every intake replica with SIGKILL (the caller
restarts them). Contacts answered 202 meanwhile are then never published: the ledger must
count them lost. Used only by this check; nothing in the services reads it.
"""

from datetime import UTC, datetime

from pymongo import AsyncMongoClient


async def forget_unpublished(mongo_uri: str, *, database: str = "kcc_intake") -> int:
    """Mark intake's unpublished events as published and drop its open group commits; how many."""
    client: AsyncMongoClient = AsyncMongoClient(mongo_uri, directConnection=True, serverSelectionTimeoutMS=10_000)
    try:
        db = client[database]
        now = datetime.now(UTC)
        forgotten = 0
        for name in ("contacts", "outbox"):
            done = await db[name].update_many({"unpublished": True}, {"$unset": {"unpublished": ""}, "$set": {"published_at": now}})
            forgotten += done.modified_count
        async for record in db["commits"].find({"pending": True}, {"items": 1}):
            forgotten += len(record.get("items", []))
        await db["commits"].delete_many({})
        return forgotten
    finally:
        await client.close()
