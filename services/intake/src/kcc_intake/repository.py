"""Intake's store: the contact registry (contactmomenten) and the outbox of life-cycle events.

A contact document carries its own outbox fields (`seq`, payload), so storing a contact and
queueing its event is one write. Contacts are written by group commit, many in one bulk
insert, each naming its batch (`batch`); the batch's record in `commits`, written first, stays
there until the broker acknowledged all of it (then one delete for all batches closed). A life-cycle
event in `outbox` carries `unpublished: true` until the broker acknowledged it (one update per
collection and round), as contacts stored before the group commit did. Recovery reads the
pending records and the unpublished events, each through an index, however long ago stored."""

import contextlib
from datetime import UTC, datetime
from typing import Any

from pymongo import ASCENDING, DESCENDING
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError, DuplicateKeyError, OperationFailure

from kcc_shared.mongo import in_chunks

CITIZEN_KEYS = ("bsn", "phone", "email", "social_handle")
CONTACTS, OUTBOX, COMMITS, REPLIES = "contacts", "outbox", "commits", "replies"
# Both collections queue events; recovery reads the unpublished ones in acceptance order.
UNPUBLISHED_INDEX = ([("unpublished", ASCENDING), ("seq", ASCENDING)], "unpublished")


OUTBOX_KEEP_S = 7 * 24 * 3600


async def _retire_index(collection: AsyncCollection, name: str) -> None:
    with contextlib.suppress(OperationFailure):  # not there (a new database): nothing to retire
        await collection.drop_index(name)


async def _insert_once(collection: AsyncCollection, doc: dict[str, Any], key: str) -> dict[str, Any] | None:
    """Insert; if `key` is taken, return the document that holds it."""
    try:
        await collection.insert_one({**doc, "stored_at": datetime.now(UTC)})
        return None
    except DuplicateKeyError:
        return await collection.find_one({key: doc[key]})


async def _insert_new(collection: AsyncCollection, docs: list[dict[str, Any]], key: str) -> dict[int, dict[str, Any] | None]:
    """Insert all in one unordered write; for each position whose `key` was taken, the document
    that holds it (None if it vanished in between). The unique index decides, so racing
    replicas and repeats within one batch get the same answer as repeats a day apart."""
    if not docs:
        return {}
    now = datetime.now(UTC)
    try:
        await collection.insert_many([{**doc, "stored_at": now} for doc in docs], ordered=False)
        return {}
    except BulkWriteError as exc:
        errors = exc.details.get("writeErrors", [])
        if any(error.get("code") != 11000 for error in errors):
            raise
        taken = {error["index"]: docs[error["index"]][key] for error in errors}
    holders = {doc[key]: doc async for doc in collection.find({key: {"$in": sorted(set(taken.values()))}})}
    return {index: holders.get(value) for index, value in taken.items()}


class ContactRepository:
    def __init__(self, db: AsyncDatabase) -> None:
        self._contacts = db[CONTACTS]

    async def ensure_indexes(self) -> None:
        await self._contacts.create_index("dedup_key", unique=True, name="dedup_key")
        await _retire_index(self._contacts, "stored_at")  # the old recovery scan's; nothing reads by it now
        await self._contacts.create_index(UNPUBLISHED_INDEX[0], name=UNPUBLISHED_INDEX[1])
        await self._contacts.create_index([("purged_at", ASCENDING), ("received_at", ASCENDING)], name="retention")
        for key in CITIZEN_KEYS:
            await self._contacts.create_index(
                [(f"citizen.{key}", ASCENDING), ("received_at", DESCENDING)], name=f"citizen_{key}"
            )

    async def insert(self, contact: dict[str, Any]) -> dict[str, Any] | None:
        """Store a new contact; returns the earlier one if its dedup key was taken."""
        return await _insert_once(self._contacts, contact, "dedup_key")

    async def insert_many(self, contacts: list[dict[str, Any]]) -> dict[int, dict[str, Any] | None]:
        """Store new contacts in one write; for each position whose dedup key was taken, the earlier contact."""
        return await _insert_new(self._contacts, contacts, "dedup_key")

    async def get(self, contact_id: str) -> dict[str, Any] | None:
        return await self._contacts.find_one({"_id": contact_id})

    async def timeline(self, citizen: dict[str, str], *, skip: int, limit: int) -> tuple[list[dict[str, Any]], int]:
        """A citizen's contacts on every channel, newest first, and how many there are.

        One indexed read per identifier (of the citizen's own contacts, ids and dates only),
        merged here, then the page's documents by `_id`: the cost follows the citizen's history,
        never the registry's."""
        seen: dict[str, datetime] = {}
        for key, value in citizen.items():
            async for doc in self._contacts.find({f"citizen.{key}": value}, {"received_at": 1}):
                seen[doc["_id"]] = doc["received_at"]
        ordered = sorted(seen, key=lambda contact_id: (-seen[contact_id].timestamp(), contact_id))
        page = ordered[skip: skip + limit]
        docs = {doc["_id"]: doc async for doc in self._contacts.find({"_id": {"$in": page}})} if page else {}
        return [docs[contact_id] for contact_id in page if contact_id in docs], len(ordered)

    async def set_department(self, contact_id: str, *, department_id: str | None, upl_uri: str | None) -> None:
        """Routing named the contact's owner: the department whose back-office may see its attachments and answer it."""
        await self._contacts.update_one({"_id": contact_id}, {"$set": {"department_id": department_id, "upl_uri": upl_uri}})


class ReplyRepository:
    """Answers to contacts (`replies`), with the text as sent: personal data, erased with the contact."""

    def __init__(self, db: AsyncDatabase) -> None:
        self._replies = db[REPLIES]

    async def ensure_indexes(self) -> None:
        await self._replies.create_index([("contact_id", ASCENDING), ("created_at", ASCENDING)], name="contact_id")
        await self._replies.create_index([("purged_at", ASCENDING), ("created_at", ASCENDING)], name="retention")

    async def purge(self, before: datetime) -> int:
        """Retention: strip the text of answers made before the cut-off (status and times stay for the figures)."""
        result = await self._replies.update_many(
            {"purged_at": None, "created_at": {"$lt": before}},
            {"$unset": {"text": "", "subject": "", "attachments": "", "to": ""}, "$set": {"purged_at": datetime.now(UTC)}},
        )
        return result.modified_count

    async def insert(self, reply: dict[str, Any]) -> dict[str, Any] | None:
        """Store a new reply; the earlier one when its id (an Idempotency-Key's) was taken."""
        return await _insert_once(self._replies, reply, "_id")

    async def get(self, reply_id: str) -> dict[str, Any] | None:
        return await self._replies.find_one({"_id": reply_id})

    async def update(self, reply_id: str, fields: dict[str, Any], *, unless_status: str | None = None) -> None:
        query: dict[str, Any] = {"_id": reply_id}
        if unless_status:
            query["status"] = {"$ne": unless_status}
        await self._replies.update_one(query, {"$set": fields})

    async def of_contacts(self, contact_ids: list[str]) -> dict[str, list[dict[str, Any]]]:
        found: dict[str, list[dict[str, Any]]] = {}
        if contact_ids:
            async for doc in self._replies.find({"contact_id": {"$in": contact_ids}}).sort("created_at", ASCENDING):
                found.setdefault(doc["contact_id"], []).append(doc)
        return found

    async def erase(self, contact_ids: list[str]) -> int:
        if not contact_ids:
            return 0
        return (await self._replies.delete_many({"contact_id": {"$in": sorted(set(contact_ids))}})).deleted_count


class AccessLogRepository:
    """Protocollering: every look at a citizen's timeline (who, when, which citizen, why), kept
    `keep_days` by a TTL index. The citizen is stored as its pseudonyms, so the log names the
    citizen without holding the identifier itself; ops find entries by giving the identifier."""

    def __init__(self, db: AsyncDatabase, *, keep_days: int) -> None:
        self._log = db["access_log"]
        self._keep_s = keep_days * 86_400

    async def ensure_indexes(self) -> None:
        await self._log.create_index([("at", DESCENDING)], name="retention", expireAfterSeconds=self._keep_s)
        await self._log.create_index([("citizen_keys", ASCENDING), ("at", DESCENDING)], name="citizen")
        await self._log.create_index([("viewer", ASCENDING), ("at", DESCENDING)], name="viewer")

    async def record(self, entry: dict[str, Any]) -> None:
        await self._log.insert_one(entry)

    async def find(self, *, citizen_keys: list[str], viewer: str | None, limit: int) -> list[dict[str, Any]]:
        """Entries newest first, of any of these citizens (all when empty) and of this viewer."""
        query: dict[str, Any] = {}
        if citizen_keys:
            query["citizen_keys"] = {"$in": citizen_keys}
        if viewer is not None:
            query["viewer"] = viewer
        return [doc async for doc in self._log.find(query).sort([("at", DESCENDING)]).limit(limit)]


class OutboxRepository:
    """Channel life-cycle events (calls, counter) waiting to be published, keyed by event id."""

    def __init__(self, db: AsyncDatabase) -> None:
        self._outbox = db[OUTBOX]

    async def ensure_indexes(self) -> None:
        await _retire_index(self._outbox, "stored_at")
        # A published life-cycle event is kept a week: long enough to answer a repeated
        # request as a duplicate, short enough that the outbox does not grow for ever.
        await self._outbox.create_index("published_at", name="published_ttl", expireAfterSeconds=OUTBOX_KEEP_S)
        await self._outbox.create_index(UNPUBLISHED_INDEX[0], name=UNPUBLISHED_INDEX[1])

    async def insert(self, entry: dict[str, Any]) -> dict[str, Any] | None:
        """Queue an event once; returns the earlier entry for a repeated event id."""
        return await _insert_once(self._outbox, entry, "_id")

    async def insert_many(self, entries: list[dict[str, Any]]) -> dict[int, dict[str, Any] | None]:
        """Queue events in one write; for each position whose event id was queued before, the earlier entry."""
        return await _insert_new(self._outbox, entries, "_id")


class PendingStore:
    """What the outbox relay and the group commit need: the unpublished events of both
    collections and the records of group commits still pending."""

    def __init__(self, db: AsyncDatabase) -> None:
        self._collections = {CONTACTS: db[CONTACTS], OUTBOX: db[OUTBOX]}
        self._commits = db[COMMITS]

    async def ensure_indexes(self) -> None:
        await self._commits.create_index([("pending", ASCENDING), ("opened_at", ASCENDING)], name="pending")

    async def open_batch(self, batch: str, items: list[tuple[str, str]]) -> None:
        """Record a group commit before its documents are written: pending until all are acknowledged."""
        await self._commits.insert_one(
            {"_id": batch, "pending": True, "items": [list(item) for item in items], "opened_at": datetime.now(UTC)}
        )

    async def close_batches(self, batches: list[str]) -> None:
        """Everything of these group commits was acknowledged: their records go (one delete).
        Only pending records exist, so `commits` stays as small as what is in flight."""
        await self._commits.delete_many({"_id": {"$in": batches}})

    async def batch_open(self, batch: str) -> bool:
        return await self._commits.find_one({"_id": batch, "pending": True}, {"_id": 1}) is not None

    async def open_batches(self, *, limit: int) -> list[tuple[str, list[tuple[str, dict[str, Any]]]]]:
        """Pending group commits, oldest first, with those of their documents that were stored
        (a repeat's document never was), in acceptance order."""
        found = []
        async for record in self._commits.find({"pending": True}).sort("opened_at", ASCENDING).limit(limit):
            ids: dict[str, list[str]] = {}
            for collection, doc_id in record["items"]:
                ids.setdefault(collection, []).append(doc_id)
            docs = [
                (collection, doc)
                for collection, doc_ids in ids.items()
                for doc in await self._collections[collection].find({"_id": {"$in": doc_ids}}).to_list(None)
            ]
            found.append((record["_id"], sorted(docs, key=lambda item: item[1]["seq"])))
        return found

    async def mark_published(self, acknowledged: list[tuple[str, str]]) -> None:
        """Record what the broker acknowledged, as (collection, document id): one update per collection."""
        by_collection: dict[str, list[str]] = {}
        for collection, doc_id in acknowledged:
            by_collection.setdefault(collection, []).append(doc_id)
        now = datetime.now(UTC)
        for collection, ids in by_collection.items():
            for chunk in in_chunks(ids):
                await self._collections[collection].update_many(
                    {"_id": {"$in": chunk}}, {"$unset": {"unpublished": ""}, "$set": {"published_at": now}}
                )

    async def unpublished(self, *, limit: int) -> list[tuple[str, dict[str, Any]]]:
        """Events never acknowledged, oldest first (at most `limit` per collection)."""
        found = [
            (name, doc)
            for name, collection in self._collections.items()
            for doc in await collection.find({"unpublished": True}).sort("seq", ASCENDING).limit(limit).to_list(None)
        ]
        return sorted(found, key=lambda item: item[1]["seq"])
