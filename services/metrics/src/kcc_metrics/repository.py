"""Facts the metrics service counts, one immutable document per event id (so counting is
idempotent, and a replay of the topics into a fresh database yields the same facts).

One collection per kind of fact (`facts.call`, `facts.received`, …), each with the indexes its
questions use: the local `day` (with `event` first where a question asks for one stage), and
the ids the KPIs join on. Every question is one indexed query: a day range, or `$in` on a join
field, so its cost follows what it returns, not the history stored. The unique `_id` (the
event id) is the consumers' inbox: a redelivered event is a duplicate key, ignored.
"""

from collections.abc import Iterable
from datetime import date
from typing import Any

from pymongo import ASCENDING
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import BulkWriteError

from kcc_shared.mongo import insert_once

DUPLICATE_KEY = 11000
# Values per `$in` query: one round trip per chunk, a command well under the 16 MB limit.
IN_CHUNK = 1000

# The indexes of each kind of fact: every filter a question sends has all its fields in one of them.
INDEXES: dict[str, tuple[tuple[str, ...], ...]] = {
    "received": (("day",), ("contact_id",), ("citizen_key",)),
    "acknowledged": (("day",), ("contact_id",)),
    "routed": (("day",), ("contact_id",)),
    "resolved": (("day",), ("contact_id",)),
    "call": (("day",), ("event", "day"), ("call_id",)),
    "counter": (("day",), ("event", "day"), ("visit_key",)),
    "callback": (("day",), ("event", "day"), ("callback_id",), ("contact_id",)),
    "survey": (("day",), ("contact_id",)),
    "agent": (("day",),),
}


class FactRepository:
    def __init__(self, collection: AsyncCollection, *, cache: dict[Any, list[dict[str, Any]]] | None = None) -> None:
        """`collection` names the base (`db["facts"]`); each kind is `<base>.<kind>`."""
        self._base = collection
        self._cache = cache

    def reading_once(self) -> "FactRepository":
        """The same facts, for one request: each question is asked of the store at most once."""
        return FactRepository(self._base, cache={})

    def of(self, kind: str) -> AsyncCollection:
        """The collection of one kind of fact."""
        return self._base[kind]

    async def ensure_indexes(self) -> None:
        """Declare every kind's indexes (idempotent: an existing index is left as it is)."""
        for kind, indexes in INDEXES.items():
            for fields in indexes:
                await self.of(kind).create_index([(f, ASCENDING) for f in fields], name="_".join(fields))

    async def holds_facts(self) -> bool:
        """Whether any fact is stored (a rebuild goes into a fresh database only)."""
        prefix = f"{self._base.name}."
        return any(n.startswith(prefix) for n in await self._base.database.list_collection_names())

    async def record(self, *, event_id: str, fact: dict[str, Any]) -> None:
        """Store a fact once; a redelivered event finds its fact already there."""
        await insert_once(self.of(fact["kind"]), {"_id": event_id, **fact})

    async def store(self, facts: Iterable[dict[str, Any]]) -> None:
        """Insert a batch of facts (with their `_id`), one unordered `insert_many` per kind;
        ids already stored (redeliveries, also within the batch) are the idempotence, not an error."""
        groups: dict[str, list[dict[str, Any]]] = {}
        for fact in facts:
            groups.setdefault(fact["kind"], []).append(fact)
        for kind, group in groups.items():
            try:
                await self.of(kind).insert_many(group, ordered=False)
            except BulkWriteError as exc:
                others = [e for e in exc.details.get("writeErrors", []) if e.get("code") != DUPLICATE_KEY]
                if others or exc.details.get("writeConcernErrors"):
                    raise

    async def _find(self, kind: str, query: dict[str, Any], key: Any) -> list[dict[str, Any]]:
        if self._cache is not None and key in self._cache:
            return self._cache[key]
        facts = [fact async for fact in self.of(kind).find(query)]
        if self._cache is not None:
            self._cache[key] = facts
        return facts

    async def count_by(self, *, kind: str, day: date, field: str) -> dict[str, int]:
        pipeline = [{"$match": {"day": day.isoformat()}}, {"$group": {"_id": f"${field}", "n": {"$sum": 1}}}]
        cursor = await self.of(kind).aggregate(pipeline)
        return {row["_id"]: row["n"] async for row in cursor}

    async def in_period(self, *, kind: str, first: date, last: date, **equal: Any) -> list[dict[str, Any]]:
        """Facts of one kind whose local day lies in [first, last], optionally of one `event` (indexed)."""
        query = {**equal, "day": {"$gte": first.isoformat(), "$lte": last.isoformat()}}
        return await self._find(kind, query, ("period", kind, first, last, tuple(sorted(equal.items()))))

    async def where_in(self, *, kind: str, field: str, values: Iterable[str]) -> list[dict[str, Any]]:
        """Facts of one kind whose `field` (an indexed join field) is one of `values`: the query-time join."""
        wanted = sorted({v for v in values if v is not None})
        facts: list[dict[str, Any]] = []
        for start in range(0, len(wanted), IN_CHUNK):
            chunk = wanted[start:start + IN_CHUNK]
            facts += await self._find(kind, {field: {"$in": chunk}}, ("in", kind, field, tuple(chunk)))
        return facts

    async def count(self, *, kind: str | None = None) -> int:
        """How many facts are stored (of one kind): for tools and tests, never on a request's path."""
        kinds = [kind] if kind else list(INDEXES)
        return sum([await self.of(k).count_documents({}) for k in kinds])
