"""The Christmas-week scenario published on the real Kafka broker and store: every KPI equals
its hand-computed value, and again after every event is delivered twice more, shuffled."""

import asyncio
import random
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from aiokafka.partitioner import murmur2

from kcc_metrics.app import create_app
from kcc_metrics.rebuild import rebuild
from kcc_metrics.repository import FactRepository
from kcc_metrics.service import MetricsService
from kcc_metrics.settings import MetricsSettings
from kcc_shared.contracts import (
    CALL_EVENTS,
    CONTACT_RECEIVED,
    CONTACT_RESOLVED,
    CallOffered,
    CallOfferedData,
    Channel,
    ContactReceived,
    ContactReceivedData,
    ContactResolved,
    ContactResolvedData,
)
from kcc_shared.testing import running, unique

pytestmark = pytest.mark.integration

AMS = ZoneInfo("Europe/Amsterdam")
# Past years with Christmas on a Friday (so every deadline has passed) that `holidays` covers;
# a random one keeps a concurrent run's scenario out of this run's period.
YEARS = [1970, 1981, 1987, 1992, 1998, 2009, 2015, 2020]


def ids_on_every_partition(prefix: str, partitions: int = 12) -> list[str]:
    """Ids whose Kafka keys land on every partition (aiokafka's default partitioner)."""
    chosen: dict[int, str] = {}
    while len(chosen) < partitions:
        candidate = unique(prefix)
        chosen.setdefault((murmur2(candidate.encode()) & 0x7FFFFFFF) % partitions, candidate)
    return list(chosen.values())


def markers(day: date) -> list[tuple[object, object]]:
    """A call on every call-events partition and an answered e-mail on every contact partition,
    published after the replay: once all are counted, everything published before them is too."""
    at = datetime(day.year, day.month, day.day, 12, tzinfo=AMS)
    events: list[tuple[object, object]] = [
        (CallOffered.create(source="/tests", data=CallOfferedData(call_id=c, dialled_number="14050", offered_at=at)), CALL_EVENTS)
        for c in ids_on_every_partition("marker-call")
    ]
    for contact_id in ids_on_every_partition("marker-mail"):
        events.append((ContactReceived.create(source="/tests", data=ContactReceivedData(contact_id=contact_id, channel=Channel.EMAIL, received_at=at)), CONTACT_RECEIVED))
        events.append((ContactResolved.create(source="/tests", data=ContactResolvedData(contact_id=contact_id, channel=Channel.EMAIL, outcome="answered_in_kcc", resolved_at=at + timedelta(hours=1))), CONTACT_RESOLVED))
    return events


async def report(client, first: date, last: date) -> dict:
    response = await client.get("/v1/service-norms", params={"from": first.isoformat(), "to": last.isoformat()})
    assert response.status_code == 200, response.text
    return response.json()


def values(body: dict) -> dict:
    return {(k["channel"], k["name"]): k["value"] for k in body["kpis"]}


async def eventually(probe, condition, *, timeout: float = 60.0):
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        result = await probe()
        if condition(result) or loop.time() > deadline:
            return result
        await asyncio.sleep(0.5)


async def test_the_christmas_week_on_the_real_stack(service_env, christmas_scenario, christmas_expected):
    expected, expected_met = christmas_expected
    year = random.choice(YEARS)
    first, last = date(year, 12, 21), date(year, 12, 24)
    events = christmas_scenario(year, unique("it"))
    service_env("metrics")
    app = create_app(MetricsSettings())
    async with running(app) as client:
        # The live consumers start at the topics' end; the rebuild below replays from this moment
        # (the whole log of a fresh CI broker holds nothing older of this year's scenario anyway).
        started = datetime.now(AMS) - timedelta(seconds=1)
        publish = app.state.infra.publisher.publish
        for event, topic in events:
            await publish(event, topic=topic)

        body = await eventually(lambda: report(client, first, last), lambda b: values(b) == pytest.approx(expected))
        assert values(body) == pytest.approx(expected)
        assert {(k["channel"], k["name"]): k["met"] for k in body["kpis"] if (k["channel"], k["name"]) in expected_met} == expected_met
        assert body["definition_version"] and body["from"] == first.isoformat()

        replay = events * 2
        random.shuffle(replay)
        marker_day = date(year, 12, 19)
        for event, topic in replay + markers(marker_day):
            await publish(event, topic=topic)
        done = await eventually(
            lambda: report(client, marker_day, marker_day),
            lambda b: values(b)[("telephone", "offered")] == 12 and values(b)[("email", "answered_in_time")] == 1.0
            and next(k for k in b["kpis"] if k["name"] == "resolved_in_kcc")["counts"]["resolved"] == 12,
        )
        assert values(done)[("telephone", "offered")] == 12
        assert await report(client, first, last) == body

        # Rebuild from the log into a fresh database: the same figures.
        result = await rebuild(settings=MetricsSettings(), database=unique("rebuilt").replace("-", "_"), since=started)
        assert result.replayed >= 3 * len(events)
        fresh = MetricsService(repository=FactRepository(app.state.infra.mongo[result.database]["facts"]), timezone="Europe/Amsterdam")
        live = app.state.metrics
        for period in ((first, last), (marker_day, marker_day)):
            rebuilt_report = await fresh.service_norms(first=period[0], last=period[1])
            live_report = await live.service_norms(first=period[0], last=period[1])
            assert rebuilt_report.model_dump() == live_report.model_dump()


async def test_bad_periods_are_refused_with_the_field_and_the_reason(service_env):
    service_env("metrics")
    async with running(create_app(MetricsSettings())) as client:
        reversed_period = await client.get("/v1/service-norms", params={"from": "2026-12-24", "to": "2026-12-21"})
        bad_format = await client.get("/v1/service-norms", params={"from": "24-12-2026", "to": "2026-12-21"})
        counts = await client.get("/v1/counts/daily", params={"day": "2026-12-24"})
    assert reversed_period.status_code == 422
    assert reversed_period.json()["detail"][0]["loc"] == ["query", "from"]
    assert "after" in reversed_period.json()["detail"][0]["msg"]
    assert bad_format.status_code == 422
    assert bad_format.json()["detail"][0]["loc"] == ["query", "from"]
    assert counts.status_code == 200
