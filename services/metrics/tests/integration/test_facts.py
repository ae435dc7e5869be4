"""Facts partitioned per kind and month on the real store: where a fact goes, which months a
question reads, and that one request reads each partition once."""

from datetime import date

import pytest
from pymongo import AsyncMongoClient

from kcc_metrics.batches import store_facts
from kcc_metrics.repository import FactRepository, shifted
from kcc_shared.testing import unique

pytestmark = pytest.mark.integration


def fact(kind: str, day: str, **fields) -> dict:
    return {"kind": kind, "day": day, **fields}


async def test_facts_go_to_their_kind_and_month_and_questions_read_only_their_window(real_stack):
    mongo = AsyncMongoClient(real_stack["mongo"], tz_aware=True)
    try:
        repository = FactRepository(mongo[unique("test_metrics_partitions").replace("-", "_")]["facts"])
        await repository.record(event_id="r1", fact=fact("received", "2026-10-30", contact_id="c1", channel="letter"))
        await repository.record(event_id="r1", fact=fact("received", "2026-10-30", contact_id="c1", channel="letter"))  # again
        # A poll's facts in one go: grouped per partition, a duplicate id ignored.
        await store_facts(repository, [
            {"_id": "s1", **fact("resolved", "2026-12-04", contact_id="c1")},  # 35 days later: in the join window
            {"_id": "s2", **fact("resolved", "2027-02-01", contact_id="c1")},  # 94 days later: outside it
            {"_id": "o1", **fact("call", "2026-11-30", call_id="k1", event="offered")},
            {"_id": "e1", **fact("call", "2026-12-01", call_id="k1", event="ended")},  # past midnight
            {"_id": "r1", **fact("received", "2026-10-30", contact_id="c1", channel="letter")},
        ])

        assert await repository.partitions() == [
            "facts.call.2026-11", "facts.call.2026-12", "facts.received.2026-10", "facts.resolved.2026-12", "facts.resolved.2027-02",
        ]
        assert await repository.count() == 5 and await repository.count(kind="received") == 1
        october = (date(2026, 10, 30), date(2026, 10, 30))
        assert [f["_id"] for f in await repository.in_period(kind="received", first=october[0], last=october[1])] == ["r1"]
        assert await repository.in_period(kind="received", first=date(2026, 10, 31), last=date(2026, 11, 30)) == []
        joined = await repository.where_in(kind="resolved", field="contact_id", values=["c1"], near=october)
        assert [f["_id"] for f in joined] == ["s1"]
        assert sorted(f["_id"] for f in await repository.where_in(kind="resolved", field="contact_id", values=["c1"])) == ["s1", "s2"]
        offered = await repository.in_period(kind="call", first=date(2026, 11, 30), last=date(2026, 11, 30), event="offered")
        assert [f["_id"] for f in offered] == ["o1"]
        call = await repository.where_in(kind="call", field="call_id", values=["k1"], near=(date(2026, 11, 30), date(2026, 11, 30)))
        assert sorted(f["_id"] for f in call) == ["e1", "o1"]
        assert await repository.count_by(kind="call", day=date(2026, 12, 1), field="event") == {"ended": 1}
        # Any period is a valid question, and it reads only the months stored in it.
        everything = await repository.in_period(kind="call", first=date(1, 1, 1), last=date(9999, 12, 31))
        assert sorted(f["_id"] for f in everything) == ["e1", "o1"]
        edges = await repository.where_in(kind="resolved", field="contact_id", values=["c1"], near=(date(1, 1, 1), date(9999, 12, 31)))
        assert sorted(f["_id"] for f in edges) == ["s1", "s2"]

        # One request keeps what it read: a fact stored meanwhile shows in the next request only.
        request = repository.reading_once()
        assert len(await request.in_period(kind="call", first=date(2026, 12, 1), last=date(2026, 12, 1))) == 1
        await repository.record(event_id="a1", fact=fact("call", "2026-12-01", call_id="k2", event="offered"))
        assert len(await request.in_period(kind="call", first=date(2026, 12, 1), last=date(2026, 12, 1))) == 1
        assert len(await repository.reading_once().in_period(kind="call", first=date(2026, 12, 1), last=date(2026, 12, 1))) == 2
    finally:
        await mongo.close()


def test_join_windows_stay_within_the_calendar():
    assert shifted(date(2026, 11, 15), 62) == date(2027, 1, 16)
    assert shifted(date(1, 1, 5), -62) == date.min and shifted(date(9999, 12, 1), 62) == date.max
