"""The metrics read model on the real store: ingesting a batch and answering the reports use
indexes only, and the interval counters are the same whatever the order, batching or redelivery."""

import random
from datetime import UTC, date, datetime

import pytest

from kcc_metrics.batches import FactBatch
from kcc_metrics.reports import Reports
from kcc_metrics.repository import FactRepository
from kcc_metrics.service import MetricsService
from kcc_metrics.subscribers import SUBSCRIPTIONS
from kcc_shared.testing import unique

pytestmark = pytest.mark.integration

HANDLERS = {topic.name: method for topic, method, _ in SUBSCRIPTIONS}
AFTER_ALL_DEADLINES = datetime(2027, 3, 1, tzinfo=UTC)
FIRST, LAST = date(2026, 12, 21), date(2026, 12, 24)


async def facts_of(events) -> list[dict]:
    """The facts the consumers' fast path makes of `events` (batches.py), with their ids."""
    batch = FactBatch()
    collecting = MetricsService(repository=batch, timezone="Europe/Amsterdam").with_repository(batch)
    for event, topic in events:
        await getattr(collecting, HANDLERS[topic.name])(event)
    return batch.facts


async def test_ingesting_a_batch_and_answering_every_report_scan_no_collection(planned_store, christmas_scenario):
    client, recorder = planned_store
    repository = FactRepository(client[unique("test_metrics_plans").replace("-", "_")]["facts"])
    await repository.ensure_indexes()
    facts = await facts_of(christmas_scenario(2026, unique("plan")))
    recorder.clear()

    await repository.store(facts)
    await repository.store(facts)  # the same poll again (a redelivery): no other path
    metrics = MetricsService(repository=repository, timezone="Europe/Amsterdam", clock=lambda: AFTER_ALL_DEADLINES)
    reports = Reports(repository=repository, timezone="Europe/Amsterdam")
    for department in (None, "burgerzaken"):
        await metrics.service_norms(first=FIRST, last=LAST, department=department)
    await metrics.daily_counts(date(2026, 12, 22))
    await reports.realtime()
    for minutes in (15, 30):
        await reports.intervals(first=FIRST, last=LAST, minutes=minutes, service_line=None)
    await reports.intervals(first=FIRST, last=LAST, minutes=15, service_line="algemeen")
    for by in ("day", "department"):
        await reports.breakdown(first=FIRST, last=LAST, by=by, channel=None)
    await reports.channel_mix(first=FIRST, last=LAST, by="week")
    await reports.satisfaction(first=FIRST, last=LAST)

    assert len(recorder.commands) > 30  # the store was asked, and every question is explained below
    assert await recorder.collection_scans(client) == []


async def test_interval_counters_hold_for_any_order_batching_and_redelivery(real_stack, christmas_scenario):
    from pymongo import AsyncMongoClient

    mongo = AsyncMongoClient(real_stack["mongo"], tz_aware=True)
    try:
        facts = await facts_of(christmas_scenario(2026, unique("iv")))
        in_order = FactRepository(mongo[unique("test_metrics_iv").replace("-", "_")]["facts"])
        shuffled = FactRepository(mongo[unique("test_metrics_iv").replace("-", "_")]["facts"])
        await in_order.store(facts)
        again = facts * 3
        random.shuffle(again)
        for start in range(0, len(again), 7):  # small polls, calls split across them, late and twice
            await shuffled.store(again[start:start + 7])
        assert await shuffled.intervals(first=FIRST, last=LAST) == await in_order.intervals(first=FIRST, last=LAST)

        reports = Reports(repository=shuffled, timezone="Europe/Amsterdam")
        quarter = (await reports.intervals(first=FIRST, last=LAST, minutes=15, service_line=None)).model_dump()
        # Five calls offered on 22 December at 10:00 local: 3 answered (waits 10, 30, 20), 2 abandoned (5, 40).
        [line, everyone] = quarter["intervals"]
        assert (line["service_line"], everyone["service_line"]) == ("algemeen", "all")
        assert line["start"].isoformat() == "2026-12-22T10:00:00+01:00" and line["end"].isoformat() == "2026-12-22T10:15:00+01:00"
        expected = {
            "offered": 5, "answered": 3, "answered_within": 2, "abandoned": 2, "abandoned_within": 1,
            "service_level": 2 / 4, "average_speed_of_answer_s": 20.0, "abandonment_rate": 2 / 5,
        }
        assert {k: line[k] for k in expected} == expected and {k: everyone[k] for k in expected} == expected
        assert quarter["service_lines"] == [{"service_line": "algemeen", **expected}]
        assert quarter["threshold_s"] == 20
        half = (await reports.intervals(first=FIRST, last=LAST, minutes=30, service_line=None)).model_dump()
        assert half["intervals"][0]["end"].isoformat() == "2026-12-22T10:30:00+01:00"
        none = await reports.intervals(first=FIRST, last=LAST, minutes=15, service_line="belastingen")
        assert (none.intervals, none.service_lines) == ([], [])
    finally:
        await mongo.close()


async def test_a_rebuild_from_the_stored_facts_reproduces_a_year_of_figures_without_the_topics(real_stack, christmas_scenario, christmas_expected):
    """History past Kafka's 30 days: two Christmas weeks years apart (both Monday to Thursday), stored as the consumers store
    them, rebuilt from the facts alone into a fresh database, give the hand-computed figures again."""
    from pymongo import AsyncMongoClient

    from kcc_metrics.rebuild import rebuild_from_facts
    from kcc_metrics.settings import MetricsSettings

    expected, _ = christmas_expected
    mongo = AsyncMongoClient(real_stack["mongo"], tz_aware=True)
    live_name, rebuilt_name = unique("test_archive").replace("-", "_"), unique("test_rebuilt").replace("-", "_")
    try:
        live = FactRepository(mongo[live_name]["facts"])
        await live.ensure_indexes()
        for year in (2020, 2026):
            await live.store(await facts_of(christmas_scenario(year, unique(f"y{year}"))))
        lines: list[str] = []
        result = await rebuild_from_facts(
            settings=MetricsSettings(), database=rebuilt_name, source=live_name, batch=50, progress=lines.append
        )
        assert result.replayed == await live.count() and lines[-1] == f"{result.replayed}/{result.replayed} facts stored"
        rebuilt = MetricsService(repository=FactRepository(mongo[rebuilt_name]["facts"]), timezone="Europe/Amsterdam",
                                 clock=lambda: AFTER_ALL_DEADLINES)
        for year in (2020, 2026):
            report = await rebuilt.service_norms(first=date(year, 12, 21), last=date(year, 12, 24))
            assert {(k.channel, k.name): k.value for k in report.kpis} == pytest.approx(expected), year
        with pytest.raises(ValueError, match="fresh"):
            await rebuild_from_facts(settings=MetricsSettings(), database=rebuilt_name, source=live_name)
    finally:
        await mongo.drop_database(live_name)
        await mongo.drop_database(rebuilt_name)
        await mongo.close()


async def test_settling_computes_the_changed_days_sheets_before_any_report_asks(real_stack, christmas_scenario, christmas_expected):
    from pymongo import AsyncMongoClient

    expected, _ = christmas_expected
    mongo = AsyncMongoClient(real_stack["mongo"], tz_aware=True)
    name = unique("test_settle").replace("-", "_")
    try:
        repository = FactRepository(mongo[name]["facts"])
        await repository.ensure_indexes()
        await repository.store(await facts_of(christmas_scenario(2026, unique("settle"))))
        changed = await repository.changed_days()
        assert {d.isoformat() for d in (FIRST, LAST)} <= set(changed)
        # Days changed within the last hour are still filling up: left for a later round.
        assert await MetricsService(repository=repository, timezone="Europe/Amsterdam").settle(quiet_s=3600) == 0
        assert await repository.changed_days() == changed
        metrics = MetricsService(repository=repository, timezone="Europe/Amsterdam", clock=lambda: AFTER_ALL_DEADLINES)
        assert await metrics.settle() >= len(changed)
        assert await repository.changed_days() == {}
        days = sorted(date.fromisoformat(d) for d in changed)
        stored = await repository.sheets(first=days[0], last=days[-1], channel=None, department=None)
        assert set(stored) == {f"{day}|*|*" for day in changed}
        # The report now only reads: a sheet marked here comes back as it is.
        day = date(2026, 12, 22)
        marker = {**stored[f"{day}|*|*"], "kpis": stored[f"{day}|*|*"]["kpis"][:1]}
        await repository.keep_sheets([marker])
        assert (await metrics.day_sheets([day], channel=None, department=None))[0]["kpis"] == marker["kpis"]
        # A batch touching the day makes it pending again; settling recomputes it, and the figures hold.
        again = await facts_of(christmas_scenario(2026, unique("again"))[:3])
        assert {f["day"] for f in again} == {day.isoformat()}
        await repository.store(again)
        assert day.isoformat() in await repository.changed_days()
        await metrics.settle()
        assert await repository.changed_days() == {}
        assert len((await repository.sheets(first=day, last=day, channel=None, department=None))[f"{day}|*|*"]["kpis"]) > 1
    finally:
        await mongo.drop_database(name)
        await mongo.close()
