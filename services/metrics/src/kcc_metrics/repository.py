"""Facts the metrics service counts, one immutable document per event id (so counting is
idempotent, and a replay of the topics into a fresh database yields the same facts).

Facts are partitioned: one collection per kind and calendar month of the fact's local `day`,
named `<base>.<kind>.<YYYY-MM>` (`facts.call.2026-11`). FerretDB 1.24 on SQLite pushes no filter
down: any find decodes its whole collection, whatever the filter or index. With partitions a
question reads only the months it concerns, so its cost follows the period asked, not the
history stored. An event id always yields the same kind and day, so it always lands in the same
collection: the unique `_id` there is still the consumers' inbox.

Reads take whole partitions and filter in Python (no `$in`: on FerretDB it costs a scan like
any other filter). A request that asks many questions reads through `reading_once()`, which
keeps what it read, so each partition is read at most once per request.
"""

from collections.abc import Iterable
from datetime import date, timedelta
from typing import Any

from pymongo.asynchronous.collection import AsyncCollection

from kcc_shared.mongo import insert_once

# How far a join (`where_in`) reaches, in days before and after the days of the facts that name
# the values, per kind of fact looked up; the partitions of those months are read.
JOIN_WINDOW: dict[str, tuple[int, int]] = {
    # A call's events share the day of its offer; one day more for a call that runs past midnight.
    "call": (0, 1),
    # A counter visit's events share its day (the visit key holds the day).
    "counter": (0, 0),
    # A call-back is kept, failed or cancelled after its booking (promised within a working day;
    # rescheduled ones later): two months after.
    "callback": (0, 62),
    # Written contacts are answered and acknowledged after receipt, letters within 6 weeks: two
    # months after. A later answer is late whatever its date, so the figures do not change.
    "resolved": (0, 62),
    "acknowledged": (0, 62),
    # Routing follows a receipt (a forward may come later) and precedes a hand-off, a
    # resolution or a survey answer: two months either way.
    "routed": (62, 62),
    # A contact is received before it is routed, resolved or rated: two months before.
    "received": (62, 0),
    "survey": (0, 0),
    "agent": (0, 0),
}
WIDEST = (62, 62)  # a kind not in the table


def shifted(day: date, days: int) -> date:
    """`day` moved by `days`, kept within the calendar (a period near year 1 or 9999 is valid input)."""
    try:
        return day + timedelta(days=days)
    except OverflowError:
        return date.min if days < 0 else date.max


class FactRepository:
    def __init__(self, collection: AsyncCollection, *, cache: dict[str, list[dict[str, Any]]] | None = None) -> None:
        """`collection` names the base (`db["facts"]`); the partitions are `<base>.<kind>.<YYYY-MM>`."""
        self._base = collection
        self._db, self._prefix = collection.database, collection.name
        self._cache = cache

    def reading_once(self) -> "FactRepository":
        """The same facts, for one request: each partition is read at most once and kept."""
        return FactRepository(self._base, cache={})

    def name(self, *, kind: str, day: str) -> str:
        """The partition of a fact of `kind` on the local `day` (YYYY-MM-DD)."""
        return f"{self._prefix}.{kind}.{day[:7]}"

    def partition(self, *, kind: str, day: str) -> AsyncCollection:
        return self._db[self.name(kind=kind, day=day)]

    def partitioned(self, facts: Iterable[dict[str, Any]]) -> list[tuple[AsyncCollection, list[dict[str, Any]]]]:
        """Facts (with their `_id`) grouped by the partition each belongs in."""
        groups: dict[str, list[dict[str, Any]]] = {}
        for fact in facts:
            groups.setdefault(self.name(kind=fact["kind"], day=fact["day"]), []).append(fact)
        return [(self._db[name], group) for name, group in groups.items()]

    async def partitions(self, *, kind: str | None = None) -> list[str]:
        """The names of the partitions stored (of one kind), oldest month first."""
        prefix = f"{self._prefix}.{kind}." if kind else f"{self._prefix}."
        return sorted(n for n in await self._db.list_collection_names() if n.startswith(prefix))

    async def record(self, *, event_id: str, fact: dict[str, Any]) -> None:
        """Store a fact once; a redelivered event finds its fact already there."""
        await insert_once(self.partition(kind=fact["kind"], day=fact["day"]), {"_id": event_id, **fact})

    async def _read(self, name: str) -> list[dict[str, Any]]:
        if self._cache is not None and name in self._cache:
            return self._cache[name]
        facts = [fact async for fact in self._db[name].find({})]
        if self._cache is not None:
            self._cache[name] = facts
        return facts

    async def _stored(self, kind: str) -> list[str]:
        if self._cache is None:
            return await self.partitions(kind=kind)
        key = f"\0partitions:{kind}"  # no collection has this name
        if key not in self._cache:
            self._cache[key] = await self.partitions(kind=kind)  # type: ignore[assignment]
        return self._cache[key]  # type: ignore[return-value]

    async def _months(self, kind: str, first: date, last: date) -> list[dict[str, Any]]:
        """The facts of the stored months the days [first, last] touch: a period of centuries
        costs one listing, not a read per month."""
        lowest, highest = f"{first.year:04d}-{first.month:02d}", f"{last.year:04d}-{last.month:02d}"
        names = [n for n in await self._stored(kind) if lowest <= n.rsplit(".", 1)[1] <= highest]
        return [fact for name in names for fact in await self._read(name)]

    async def count_by(self, *, kind: str, day: date, field: str) -> dict[str, int]:
        pipeline = [{"$match": {"day": day.isoformat()}}, {"$group": {"_id": f"${field}", "n": {"$sum": 1}}}]
        cursor = await self.partition(kind=kind, day=day.isoformat()).aggregate(pipeline)
        return {row["_id"]: row["n"] async for row in cursor}

    async def in_period(self, *, kind: str, first: date, last: date, **equal: Any) -> list[dict[str, Any]]:
        """Facts of one kind whose local day lies in [first, last], optionally filtered on equal fields."""
        since, until = first.isoformat(), last.isoformat()
        return [
            fact for fact in await self._months(kind, first, last)
            if since <= fact["day"] <= until and all(fact.get(k) == v for k, v in equal.items())
        ]

    async def where_in(
        self, *, kind: str, field: str, values: list[str], near: tuple[date, date] | None = None
    ) -> list[dict[str, Any]]:
        """Facts of one kind whose `field` is one of `values` (the query-time join).

        `near`: the days of the facts that named the values; only the months within the kind's
        JOIN_WINDOW around them are read. Without it every month stored is read."""
        if not values:
            return []
        wanted = set(values)
        if near is None:
            facts = [fact for name in await self.partitions(kind=kind) for fact in await self._read(name)]
        else:
            before, after = JOIN_WINDOW.get(kind, WIDEST)
            facts = await self._months(kind, shifted(near[0], -before), shifted(near[1], after))
        return [fact for fact in facts if fact.get(field) in wanted]

    async def stored(self, *, kind: str | None = None) -> list[dict[str, Any]]:
        """Every fact stored (of one kind): for tools and tests, never on a request's path."""
        return [fact for name in await self.partitions(kind=kind) for fact in await self._read(name)]

    async def count(self, *, kind: str | None = None) -> int:
        """How many facts are stored (of one kind): for tools and tests."""
        return sum([await self._db[name].count_documents({}) for name in await self.partitions(kind=kind)])
