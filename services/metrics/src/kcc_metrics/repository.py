"""Facts the metrics service counts, one immutable document per event id (so counting is
idempotent, and a replay of the topics into a fresh database yields the same facts), and the
read model kept from them as they arrive, one bulk write per kind of document and poll: a
document per call and counters per 15-minute interval and service line (calls.py), live
documents per counter visit, call-back and contact and the queues seen per day (live.py).

One collection per kind of fact (`facts.call`, `facts.received`, …), each with the indexes its
questions use: the local `day` (with `event` first where a question asks for one stage), and
the ids the KPIs join on. Every question is one indexed query: a day range, or `$in` on a join
field, so its cost follows what it returns, not the history stored. The unique `_id` (the
event id) is the consumers' inbox: a redelivered event is a duplicate key, ignored.
"""

from collections import defaultdict
from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from pymongo import ASCENDING, ReplaceOne, UpdateOne
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import BulkWriteError

from kcc_shared.mongo import find_in, in_chunks

from kcc_metrics import calls, live
from kcc_metrics.norms import NormSettings

DUPLICATE_KEY = 11000

# The indexes of each kind of fact: every filter a question sends has all its fields in one of them.
INDEXES: dict[str, tuple[tuple[str, ...], ...]] = {
    "received": (("day",), ("contact_id",), ("citizen_key",)),
    "acknowledged": (("day",), ("contact_id",)),
    "routed": (("day",), ("contact_id",)),
    "resolved": (("day",), ("contact_id",)),
    "answered": (("day",), ("contact_id",)),
    "undelivered": (("day",), ("contact_id",)),
    # Telephone figures come from the read model; call facts are joined only by call id (hand-offs).
    "call": (("call_id",),),
    "counter": (("event", "day"), ("visit_key",)),
    "appointment": (("day",), ("appointment_id",)),
    "callback": (("event", "day"), ("callback_id",), ("contact_id",)),
    "survey": (("day",), ("contact_id",)),
    "agent": (("day",),),
}
# The read model's collections and their indexes (beside the facts, in the same database).
READ_MODEL_INDEXES: dict[str, tuple[tuple[str, ...], ...]] = {
    "calls": (("interval",), ("waiting", "day")),
    "intervals": (("day",), ("service_line", "day")),
    **{entity.collection: (("state", "day"),) for entity in live.ENTITIES.values()},
    "queues": (("day",),),
    "agents": (("day",),),
    "sheets": (("channel", "department", "day"), ("day",), ("valid_until",)),
    "changes": (("day",), ("pending", "changed_at")),
}


def _subjects(fact: dict[str, Any]) -> list[str]:
    """What a fact is about, beyond its own day: the contact, the call-back, the counter
    appointment (moved to another day, it leaves the first)."""
    found = [f"contact:{fact['contact_id']}"] if fact.get("contact_id") else []
    if fact.get("callback_id"):
        found.append(f"callback:{fact['callback_id']}")
    if fact.get("kind") == "appointment":
        found.append(f"appointment:{fact['appointment_id']}")
    return found


class FactRepository:
    def __init__(
        self, collection: AsyncCollection, *, timezone: str = "Europe/Amsterdam", norms: NormSettings | None = None,
        cache: dict[Any, list[dict[str, Any]]] | None = None,
    ) -> None:
        """`collection` names the base (`db["facts"]`); each kind is `<base>.<kind>`. `timezone` and
        `norms` define the intervals and the counters kept in them."""
        self._base, self._db = collection, collection.database
        self._tz, self._norms = ZoneInfo(timezone), norms or NormSettings()
        self._cache = cache

    def reading_once(self) -> "FactRepository":
        """The same facts, for one request: each question is asked of the store at most once."""
        return FactRepository(self._base, timezone=self._tz.key, norms=self._norms, cache={})

    def of(self, kind: str) -> AsyncCollection:
        """The collection of one kind of fact."""
        return self._base[kind]

    async def ensure_indexes(self) -> None:
        """Declare every kind's indexes (idempotent: an existing index is left as it is)."""
        for kind, indexes in INDEXES.items():
            for fields in indexes:
                await self.of(kind).create_index([(f, ASCENDING) for f in fields], name="_".join(fields))
        for name, indexes in READ_MODEL_INDEXES.items():
            for fields in indexes:
                await self._db[name].create_index([(f, ASCENDING) for f in fields], name="_".join(fields))

    async def holds_facts(self) -> bool:
        """Whether any fact is stored (a rebuild goes into a fresh database only)."""
        prefix = f"{self._base.name}."
        return any(n.startswith(prefix) for n in await self._base.database.list_collection_names())

    async def record(self, *, event_id: str, fact: dict[str, Any]) -> None:
        """Store a fact once and keep the read model; a redelivered event changes nothing."""
        await self.store([{"_id": event_id, **fact}])

    async def store(self, facts: Iterable[dict[str, Any]]) -> None:
        """Insert a batch of facts (with their `_id`), one unordered `insert_many` per kind, then
        bring the read model up to date; ids already stored (redeliveries, also within the
        batch) are the idempotence, not an error."""
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
        days = await self._keep_calls(groups["call"]) if groups.get("call") else set()
        await self._keep_live(groups)
        await self.mark_changes(groups, days)

    async def mark_changes(self, groups: dict[str, list[dict[str, Any]]], days: set[str]) -> None:
        """Raise the change counter of every local day whose sheet (sheets.py) a batch's facts can
        change: `days` (the intervals its calls touched), each fact's own day and every day a fact
        of the same contact or call-back fell on (a late resolution changes its receipt's day),
        and, for a contact received or routed, the days before it within the first-contact-resolution
        window (it may be a repeat of a contact resolved then). The days of each subject are kept
        in `subject_days` (ids and dates only)."""
        days, subjects = set(days), defaultdict(set)
        for kind, facts in groups.items():
            if kind == "agent":
                continue  # no service norm counts agent statuses
            for fact in facts:
                days.add(fact["day"])
                for subject in _subjects(fact):
                    subjects[subject].add(fact["day"])
        if subjects:
            new = {subject: set(seen) for subject, seen in subjects.items()}
            for doc in await find_in(self._db["subject_days"], "_id", subjects, {"days": 1}):
                subjects[doc["_id"]].update(doc.get("days", ()))
                new[doc["_id"]] -= set(doc.get("days", ()))
            window = timedelta(days=self._norms.fcr_window_days + 1)
            for subject, seen in subjects.items():
                days |= seen
                if subject.startswith("contact:"):
                    start = date.fromisoformat(min(seen))
                    days |= {(start - timedelta(days=n)).isoformat() for n in range(window.days + 1)}
            # Mostly a contact's facts fall on one day: only its first batch writes.
            writes = [
                UpdateOne({"_id": subject}, {"$addToSet": {"days": {"$each": sorted(unseen)}}}, upsert=True)
                for subject, unseen in new.items() if unseen
            ]
            if writes:
                await self._db["subject_days"].bulk_write(writes, ordered=False)
        if days:
            now = datetime.now(UTC)
            await self._db["changes"].bulk_write(
                [
                    UpdateOne({"_id": day}, {"$inc": {"seq": 1}, "$set": {"day": day, "pending": True, "changed_at": now}}, upsert=True)
                    for day in sorted(days)
                ],
                ordered=False,
            )

    async def changed_days(self, *, quiet_since: datetime | None = None) -> dict[str, int]:
        """Local day -> change counter, of the days changed since their sheets were last settled
        (and, with `quiet_since`, not changed after it)."""
        query: dict[str, Any] = {"pending": True}
        if quiet_since is not None:
            query["changed_at"] = {"$lte": quiet_since}
        return {c["_id"]: c["seq"] async for c in self._db["changes"].find(query)}

    async def settled(self, seqs: dict[str, int]) -> None:
        """The days' sheets were recomputed at these counters (a day changed since stays pending)."""
        if seqs:
            writes = [UpdateOne({"_id": day, "seq": seq}, {"$set": {"pending": False}}) for day, seq in seqs.items()]
            await self._db["changes"].bulk_write(writes, ordered=False)

    async def sheets_to_settle(self, *, days: Iterable[str], now: datetime) -> list[dict[str, Any]]:
        """The stored sheets of `days`, and those whose pending deadline has passed (which day and filter each is)."""
        fields = {"day": 1, "channel": 1, "department": 1}
        found = await find_in(self._db["sheets"], "day", days, fields)
        return found + [s async for s in self._db["sheets"].find({"valid_until": {"$lte": now}}, fields)]

    async def change_seqs(self, *, first: date, last: date) -> dict[str, int]:
        """Local day -> its change counter, for the days [first, last] (absent: never changed)."""
        query = {"day": {"$gte": first.isoformat(), "$lte": last.isoformat()}}  # the local store scans an `_id` range
        return {c["_id"]: c["seq"] async for c in self._db["changes"].find(query, {"seq": 1})}

    async def sheets(
        self, *, first: date, last: date, channel: str | None, department: str | None, leave_out: tuple[str, ...] = ()
    ) -> dict[str, dict[str, Any]]:
        """The stored day sheets of one filter for the days [first, last], by id, without the parts
        named in `leave_out` (a report reads what it adds up): one range read."""
        query = {"channel": channel, "department": department, "day": {"$gte": first.isoformat(), "$lte": last.isoformat()}}
        return {s["_id"]: s async for s in self._db["sheets"].find(query, dict.fromkeys(leave_out, 0) or None)}

    async def templates(self, version: str) -> dict[str, dict[str, Any]]:
        """The KPI templates (unit, norm, definition) of a sheet version."""
        found = await self._db["sheet_templates"].find_one({"_id": version})
        return {k: v for k, v in (found or {}).items() if k != "_id"}

    async def keep_templates(self, version: str, templates: dict[str, dict[str, Any]]) -> None:
        await self._db["sheet_templates"].update_one({"_id": version}, {"$set": templates}, upsert=True)

    async def keep_sheets(self, sheets: list[dict[str, Any]]) -> None:
        await self._db["sheets"].bulk_write([ReplaceOne({"_id": s["_id"]}, s, upsert=True) for s in sheets], ordered=False)

    async def _keep_live(self, groups: dict[str, list[dict[str, Any]]]) -> None:
        """Add a batch's facts to the live documents they concern (one bulk upsert per kind of
        document, which also moves each one's state forward) and note the queues seen per day."""
        by_entity: dict[live.Entity, list[dict[str, Any]]] = {}
        for kind, facts in groups.items():
            if kind in live.ENTITIES:
                by_entity.setdefault(live.ENTITIES[kind], []).extend(facts)
        for entity, facts in by_entity.items():
            updates = live.updates(entity, facts)
            if updates:
                writes = [UpdateOne({"_id": k}, u, upsert=True) for k, u in updates.items()]
                await self._db[entity.collection].bulk_write(writes, ordered=False)
        agents = live.agent_latest(groups.get("agent", ()))
        if agents:
            await self._db["agents"].bulk_write([UpdateOne({"_id": k}, u, upsert=True) for k, u in agents.items()], ordered=False)
        seen = live.seen_queues(fact for facts in groups.values() for fact in facts)
        if seen:
            await self._db["queues"].bulk_write([UpdateOne({"_id": k}, {"$set": v}, upsert=True) for k, v in seen.items()], ordered=False)

    async def open_documents(self, entity: live.Entity, *, since: date) -> list[dict[str, Any]]:
        """The live documents of one kind still open, dated on or after the local day `since`."""
        query = {"state": live.OPEN, "day": {"$gte": since.isoformat()}}
        return [d async for d in self._db[entity.collection].find(query)]

    async def agents_on(self, day: date) -> list[dict[str, Any]]:
        """Each agent's latest status on the local `day` (one small document per agent)."""
        return live.agent_statuses([a async for a in self._db["agents"].find({"day": day.isoformat()})])

    async def queues_seen(self, *, since: date) -> list[dict[str, Any]]:
        """The queues something was put in on or after the local day `since`, one row per queue and day."""
        return [q async for q in self._db["queues"].find({"day": {"$gte": since.isoformat()}})]

    async def _keep_calls(self, facts: list[dict[str, Any]]) -> set[str]:
        """Add a batch's call facts to their calls' documents with each call's contribution to its
        interval (one read, one bulk upsert), then recompute the counters of the intervals those
        calls were offered in from the stored contributions (one read, one bulk write).

        A call's events share its key, so one consumer at a time handles a call: the read before
        the write sees every earlier event of it. Recomputing an interval from its calls, rather
        than adding deltas, keeps the counters exact after a crash between the writes: the
        redelivered batch touches the same intervals again."""
        updates = calls.call_updates(facts, tz=self._tz)
        documents = self._db["calls"]
        stored = {c["_id"]: c for c in await find_in(documents, "_id", updates)}
        writes, touched = [], set()
        for call_id, update in updates.items():
            call = calls.merged(stored.get(call_id), call_id, update)
            share = calls.contribution(call, norms=self._norms)
            writes.append(UpdateOne({"_id": call_id}, {"$set": {**update, "c": share, "waiting": calls.waiting(call)}}, upsert=True))
            if call.get("interval"):
                touched.add(call["interval"])
        await documents.bulk_write(writes, ordered=False)
        if not touched:
            return set()
        shares = await find_in(documents, "interval", touched, {"c": 1, "interval": 1, "service_line": 1})
        rows = calls.interval_documents(calls.interval_sums(shares), norms=self._norms)
        await self._db["intervals"].bulk_write([ReplaceOne({"_id": r["_id"]}, r, upsert=True) for r in rows], ordered=False)
        return {interval[:10] for interval in touched}

    async def intervals(self, *, first: date, last: date, service_line: str | None = None) -> list[dict[str, Any]]:
        """The telephone counters of every interval (and service line) on the local days [first, last]."""
        query: dict[str, Any] = {"day": {"$gte": first.isoformat(), "$lte": last.isoformat()}}
        if service_line is not None:
            query["service_line"] = service_line
        rows = [row async for row in self._db["intervals"].find(query)]
        return sorted(rows, key=lambda r: (r["start"], r["service_line"]))

    async def waiting_calls(self, *, since: date) -> list[dict[str, Any]]:
        """Calls offered on or after the local day `since` and still in the queue (the live picture)."""
        return [c async for c in self._db["calls"].find({"waiting": True, "day": {"$gte": since.isoformat()}})]

    async def _find(self, kind: str, query: dict[str, Any], key: Any) -> list[dict[str, Any]]:
        if self._cache is not None and key in self._cache:
            return self._cache[key]
        facts = [fact async for fact in self.of(kind).find(query)]
        if self._cache is not None:
            self._cache[key] = facts
        return facts

    async def in_period(self, *, kind: str, first: date, last: date, **equal: Any) -> list[dict[str, Any]]:
        """Facts of one kind whose local day lies in [first, last], optionally of one `event` (indexed)."""
        query = {**equal, "day": {"$gte": first.isoformat(), "$lte": last.isoformat()}}
        return await self._find(kind, query, ("period", kind, first, last, tuple(sorted(equal.items()))))

    async def where_in(self, *, kind: str, field: str, values: Iterable[str]) -> list[dict[str, Any]]:
        """Facts of one kind whose `field` (an indexed join field) is one of `values`: the query-time join."""
        facts: list[dict[str, Any]] = []
        for chunk in in_chunks({v for v in values if v is not None}):
            facts += await self._find(kind, {field: {"$in": chunk}}, ("in", kind, field, tuple(chunk)))
        return facts

    async def count(self, *, kind: str | None = None) -> int:
        """How many facts are stored (of one kind): for tools and tests, never on a request's path."""
        kinds = [kind] if kind else list(INDEXES)
        return sum([await self.of(k).count_documents({}) for k in kinds])
