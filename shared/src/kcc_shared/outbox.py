"""An outbox embedded in the documents whose change an event announces.

A write that must be announced puts its entries in the same document, in the same atomic
single-document write (`outbox: [{id, at, ...}]`): the state and the promise to publish it are
saved together or not at all. The writer then sends the entries in order and pulls each one the
broker (or the receiver) acknowledged. What a crash or an outage leaves behind is found by the
index on `outbox.at` and sent by `flush`, run by one replica under a lease: recovery reads only
what is still unsent, never a scan of recent history.

A crash between a send and its pull sends the same entry again later, under the same event id:
at least once, which consumers de-duplicate on the id.
"""

import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from pymongo import ASCENDING
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import PyMongoError

from kcc_shared.contracts import CloudEvent, TopicSpec, department_topic
from kcc_shared.contracts.catalogue import TOPICS

log = logging.getLogger(__name__)

Send = Callable[[dict[str, Any]], Awaitable[None]]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)  # a range on the index finds every entry (`$exists` would scan)
_TOPICS_BY_NAME = {topic.name: topic for topic in TOPICS}


def topic_named(name: str) -> TopicSpec:
    """The topic of an outbox entry, a department's topic included."""
    if name in _TOPICS_BY_NAME:
        return _TOPICS_BY_NAME[name]
    parts = name.split(".")
    if len(parts) == 5 and parts[:2] == ["kcc", "dept"] and parts[3:] == ["contacts", "v1"]:
        return department_topic(parts[2])
    raise KeyError(f"no topic {name}")


def entry(topic: TopicSpec, event: CloudEvent, *, at: datetime, **extra: Any) -> dict[str, Any]:
    """An outbox entry that publishes `event` on `topic`."""
    return {"id": event.id, "topic": topic.name, "event": event.model_dump(mode="json"), "at": at, **extra}


def event_of(item: dict[str, Any]) -> tuple[TopicSpec, CloudEvent]:
    topic = topic_named(item["topic"])
    return topic, topic.adapter.validate_python(item["event"])


class EmbeddedOutbox:
    """Sends and pulls the outbox entries of one collection's documents."""

    def __init__(self, collection: AsyncCollection, *, send: Send) -> None:
        self._collection, self._send = collection, send

    async def ensure_indexes(self) -> None:
        await self._collection.create_index([("outbox.at", ASCENDING)], name="outbox")

    async def send(self, doc_id: Any, entries: list[dict[str, Any]]) -> int:
        """Send a document's entries in order and pull those acknowledged; stops at the first
        failure (the rest waits for `flush`, so order holds). Returns how many went out."""
        done: list[str] = []
        for item in entries:
            try:
                await self._send(item)
            except Exception:  # noqa: BLE001 - the entry stays; flush sends it later
                log.warning("outbox entry stays for the next flush", extra={"event_id": item["id"]}, exc_info=True)
                break
            done.append(item["id"])
        if done:
            try:
                await self._collection.update_one({"_id": doc_id}, {"$pull": {"outbox": {"id": {"$in": done}}}})
            except PyMongoError:
                # Sent but not pulled: flush sends them again under the same ids.
                log.warning("sent outbox entries stay until the next flush", extra={"doc_id": doc_id}, exc_info=True)
        return len(done)

    async def pending(self, doc_id: Any) -> list[dict[str, Any]]:
        doc = await self._collection.find_one({"_id": doc_id}, {"outbox": 1})
        return (doc or {}).get("outbox") or []

    async def flush(self, *, queued_before: datetime, limit: int = 200) -> int:
        """Send what was queued before `queued_before` and is still there (one indexed read)."""
        sent = 0
        cursor = self._collection.find({"outbox.at": {"$lt": queued_before}}, {"outbox": 1}).limit(limit)
        async for doc in cursor:
            sent += await self.send(doc["_id"], doc["outbox"])
        return sent

    async def oldest(self) -> datetime | None:
        """When the oldest unsent entry was queued (None: nothing waits)."""
        cursor = self._collection.find({"outbox.at": {"$gte": _EPOCH}}, {"outbox.at": 1}).sort("outbox.at", ASCENDING).limit(1)
        async for doc in cursor:
            return min(item["at"] for item in doc["outbox"])
        return None
