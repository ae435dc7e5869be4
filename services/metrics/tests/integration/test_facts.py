"""Facts on the real store: one collection per kind, a redelivery stored once, and every
question answered by one indexed query whatever else is stored."""

from datetime import UTC, date, datetime, timedelta

import pytest
from pymongo import AsyncMongoClient

from kcc_metrics.batches import store_facts
from kcc_metrics.repository import FactRepository
from kcc_shared.mongo import IN_CHUNK
from kcc_shared.testing import unique

pytestmark = pytest.mark.integration


def fact(kind: str, day: str, **fields) -> dict:
    return {"kind": kind, "day": day, **fields}


async def test_facts_are_stored_once_per_event_and_questions_return_what_they_ask(real_stack):
    mongo = AsyncMongoClient(real_stack["mongo"], tz_aware=True)
    try:
        repository = FactRepository(mongo[unique("test_metrics_facts").replace("-", "_")]["facts"])
        await repository.ensure_indexes()
        await repository.ensure_indexes()  # idempotent: a restart declares them again
        await repository.record(event_id="r1", fact=fact("received", "2026-10-30", contact_id="c1", channel="letter"))
        await repository.record(event_id="r1", fact=fact("received", "2026-10-30", contact_id="c1", channel="letter"))  # again
        # A poll's facts in one go: grouped per kind, a duplicate id ignored.
        await store_facts(repository, [
            {"_id": "s1", **fact("resolved", "2026-12-04", contact_id="c1")},
            {"_id": "s2", **fact("resolved", "2027-02-01", contact_id="c1")},  # months later: still joined
            {"_id": "o1", **fact("call", "2026-11-30", call_id="k1", event="offered", at=datetime(2026, 11, 30, 22, 50, tzinfo=UTC))},
            {"_id": "e1", **fact("call", "2026-12-01", call_id="k1", event="ended", at=datetime(2026, 11, 30, 23, 5, tzinfo=UTC))},  # past midnight
            {"_id": "r1", **fact("received", "2026-10-30", contact_id="c1", channel="letter")},
        ])

        assert await repository.count() == 5 and await repository.count(kind="received") == 1
        assert await repository.holds_facts()
        october = (date(2026, 10, 30), date(2026, 10, 30))
        assert [f["_id"] for f in await repository.in_period(kind="received", first=october[0], last=october[1])] == ["r1"]
        assert await repository.in_period(kind="received", first=date(2026, 10, 31), last=date(2026, 11, 30)) == []
        joined = await repository.where_in(kind="resolved", field="contact_id", values=["c1"])
        assert sorted(f["_id"] for f in joined) == ["s1", "s2"]
        call = await repository.where_in(kind="call", field="call_id", values=["k1"])
        assert sorted(f["_id"] for f in call) == ["e1", "o1"]
        many = await repository.where_in(kind="call", field="call_id", values=[f"k{n}" for n in range(2500)])  # many chunks
        assert sorted(f["_id"] for f in many) == ["e1", "o1"]
        everything = await repository.in_period(kind="resolved", first=date(1, 1, 1), last=date(9999, 12, 31))
        assert sorted(f["_id"] for f in everything) == ["s1", "s2"]

        # A stage of a period (indexed on event, day), and one request asks each question once:
        # a fact stored meanwhile shows in the next request only.
        def ticket(n: int, stage: str) -> dict:
            at = datetime(2026, 12, 1, 9, n, tzinfo=UTC)
            return fact("counter", "2026-12-01", event=stage, at=at, location="stadhuis", visit_key=f"stadhuis:t{n}:2026-12-01")
        december = (date(2026, 12, 1), date(2026, 12, 1))
        await store_facts(repository, [{"_id": "t1", **ticket(1, "drawn")}, {"_id": "t1c", **ticket(1, "called")}])
        request = repository.reading_once()
        assert [f["_id"] for f in await request.in_period(kind="counter", first=december[0], last=december[1], event="drawn")] == ["t1"]
        await repository.record(event_id="t2", fact=ticket(2, "drawn"))
        assert len(await request.in_period(kind="counter", first=december[0], last=december[1], event="drawn")) == 1
        assert len(await repository.reading_once().in_period(kind="counter", first=december[0], last=december[1], event="drawn")) == 2
    finally:
        await mongo.close()


async def test_a_late_fact_marks_the_earlier_days_of_every_contact_in_a_large_batch(real_stack):
    """Each contact's earlier days are read back (in `$in` chunks) when a batch brings more of its facts."""
    mongo = AsyncMongoClient(real_stack["mongo"], tz_aware=True)
    try:
        repository = FactRepository(mongo[unique("test_metrics_days").replace("-", "_")]["facts"])
        await repository.ensure_indexes()
        contacts = 3 * IN_CHUNK + 7
        received = {f"c{n}": (date(2026, 1, 1) + timedelta(days=n)).isoformat() for n in range(contacts)}  # a day each
        await store_facts(repository, [
            {"_id": f"r-{contact}", **fact("received", day, contact_id=contact)} for contact, day in received.items()
        ])
        await repository.settled(await repository.changed_days())
        assert await repository.changed_days() == {}
        await store_facts(repository, [{"_id": f"s-{contact}", **fact("resolved", "2027-06-01", contact_id=contact)} for contact in received])
        assert set(received.values()) <= set(await repository.changed_days())  # months before the window: known only from the store
    finally:
        await mongo.close()
