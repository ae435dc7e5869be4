"""The Christmas-week scenario published on the real Kafka broker and store: every KPI equals
its hand-computed value, and again after every event is delivered twice more, shuffled."""

import asyncio
import random
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from kcc_metrics.app import create_app
from kcc_metrics.rebuild import rebuild
from kcc_metrics.reports import Reports
from kcc_metrics.repository import FactRepository
from kcc_metrics.service import MetricsService
from kcc_metrics.settings import MetricsSettings
from kcc_shared.contracts import (
    AGENT_STATUS,
    CALL_EVENTS,
    AgentStatusChanged,
    AgentStatusChangedData,
    CALLBACK_COMPLETED,
    CALLBACK_SCHEDULED,
    CONTACT_RECEIVED,
    CONTACT_ROUTED,
    COUNTER_EVENTS,
    DEAD_LETTER,
    CallAnswered,
    CallAnsweredData,
    CallbackCompleted,
    CallbackCompletedData,
    CallbackScheduled,
    CallbackScheduledData,
    CallOffered,
    CallOfferedData,
    Channel,
    ContactReceived,
    ContactReceivedData,
    ContactRouted,
    ContactRoutedData,
    CounterVisit,
    CounterVisitData,
)
from kcc_shared.testing import running, unique

pytestmark = pytest.mark.integration

AMS = ZoneInfo("Europe/Amsterdam")
# Past years with Christmas on a Friday (so every deadline has passed) that `holidays` covers;
# a random one keeps a concurrent run's scenario out of this run's period.
YEARS = [1970, 1981, 1987, 1992, 1998, 2009, 2015, 2020]


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


def handled(app) -> float:
    """Deliveries the service's consumers have handled so far (processed, duplicate or ignored)."""
    return sum(
        sample.value
        for metric in app.state.infra.registry.collect() if metric.name == "kcc_consumer_events"
        for sample in metric.samples if sample.name == "kcc_consumer_events_total"
    )


async def views(client, first: date, last: date) -> dict:
    """Every read model of the period, as the API serves it (the KPIs, mix, breakdowns, satisfaction)."""
    period = {"from": first.isoformat(), "to": last.isoformat()}
    paths = {
        "norms": ("/v1/service-norms", {}), "mix": ("/v1/channel-mix", {}), "weeks": ("/v1/channel-mix", {"by": "week"}),
        "departments": ("/v1/breakdown", {"by": "department"}), "hours": ("/v1/breakdown", {"by": "hour"}),
        "products": ("/v1/breakdown", {"by": "product"}), "satisfaction": ("/v1/satisfaction", {}),
        "burgerzaken": ("/v1/service-norms", {"department": "burgerzaken"}),
    }
    out = {}
    for name, (path, extra) in paths.items():
        response = await client.get(path, params={**period, **extra})
        assert response.status_code == 200, response.text
        out[name] = response.json()
    return out


async def test_the_christmas_week_on_the_real_stack(service_env, christmas_scenario, christmas_expected, christmas_views):
    expected, expected_met = christmas_expected
    by_department, mix = christmas_views
    year = random.choice(YEARS)
    first, last = date(year, 12, 21), date(year, 12, 24)
    tag = unique("it")
    events = christmas_scenario(year, tag)
    service_env("metrics")
    app = create_app(MetricsSettings())
    async with running(app) as client:
        # The live consumers start at the topics' end; the rebuild below replays from this moment.
        started = datetime.now(AMS) - timedelta(seconds=1)
        publish = app.state.infra.publisher.publish
        for event, topic in events:
            await publish(event, topic=topic)
        await eventually(lambda: asyncio.sleep(0, handled(app)), lambda n: n >= len(events))

        body = await report(client, first, last)
        assert values(body) == pytest.approx(expected)
        assert {(k["channel"], k["name"]): k["met"] for k in body["kpis"] if (k["channel"], k["name"]) in expected_met} == expected_met
        assert body["definition_version"] and body["from"] == first.isoformat()
        # The same calls per half hour: the five offered on 22 December at 10:00 local, one service line.
        halves = await client.get("/v1/intervals", params={"from": first.isoformat(), "to": last.isoformat(), "minutes": 30})
        assert halves.status_code == 200 and halves.json()["from"] == first.isoformat()
        assert [(r["start"], r["service_line"], r["offered"], r["answered"], r["abandoned"]) for r in halves.json()["intervals"]] == [
            (f"{year}-12-22T10:00:00+01:00", line, 5, 3, 2) for line in ("algemeen", "all")
        ]
        twenty = await client.get("/v1/intervals", params={"from": first.isoformat(), "to": last.isoformat(), "minutes": 20})
        assert twenty.status_code == 422 and twenty.json()["detail"][0]["loc"] == ["query", "minutes"]
        seen = await views(client, first, last)
        rows = {r["key"]: (r["received"], r["resolved"], r["answered_in_kcc"], r["handed_off"]) for r in seen["departments"]["rows"]}
        assert rows == by_department
        assert {p["period"][-2:]: p["counts"] for p in seen["mix"]["periods"]} == mix["day"]
        assert seen["mix"]["total"]["counts"] == mix["total"] and seen["mix"]["total"]["shares"]["telephone"] == pytest.approx(8 / 18)
        assert [(p["total"], p["counts"]) for p in seen["weeks"]["periods"]] == [(18, mix["total"])]  # Mon-Thu: one ISO week
        assert {r["key"]: r["received"] for r in seen["hours"]["rows"]} == {"09": 5, "10": 11, "12": 2}
        satisfaction = seen["satisfaction"]
        assert (satisfaction["answers"], satisfaction["average"]) == (5, pytest.approx(7.6))
        assert {g["group"]: (g["answers"], g["average"]) for g in satisfaction["by_department"]} == {
            "burgerzaken": (1, 8.0), "kcc": (1, 9.0), "milieudienst": (1, 6.0), "unrouted": (2, 7.5),
        }
        fcr = next(k for k in body["kpis"] if k["name"] == "first_contact_resolution")
        assert fcr["counts"] == {"resolved": 5, "not_in_kcc": 1, "repeated": 1, "first_time": 3, "pending": 0, "unlinkable": 1}
        assert "citizen_key" in fcr["definition"] and fcr["norm"]["source"]

        # Every event delivered twice more, shuffled: identical figures everywhere.
        replay = events * 2
        random.shuffle(replay)
        before = handled(app)
        for event, topic in replay:
            await publish(event, topic=topic)
        await eventually(lambda: asyncio.sleep(0, handled(app)), lambda n: n >= before + len(replay))
        assert await views(client, first, last) == seen

        # Rebuild from the log into a fresh database: the same figures.
        result = await rebuild(settings=MetricsSettings(), database=unique("rebuilt").replace("-", "_"), since=started)
        assert result.replayed >= 3 * len(events)
        fresh_db = app.state.infra.mongo[result.database]["facts"]
        fresh = MetricsService(repository=FactRepository(fresh_db), timezone="Europe/Amsterdam")
        live = app.state.metrics
        for department in (None, "burgerzaken", "sozawe"):
            rebuilt_report = await fresh.service_norms(first=first, last=last, department=department)
            live_report = await live.service_norms(first=first, last=last, department=department)
            assert rebuilt_report.model_dump() == live_report.model_dump()
        fresh_reports, live_reports = Reports(repository=FactRepository(fresh_db), timezone="Europe/Amsterdam"), app.state.reports
        for by in ("day", "hour", "department", "product"):
            assert await fresh_reports.breakdown(first=first, last=last, by=by, channel=None) == await live_reports.breakdown(
                first=first, last=last, by=by, channel=None)
        assert await fresh_reports.satisfaction(first=first, last=last) == await live_reports.satisfaction(first=first, last=last)
        assert await fresh_reports.channel_mix(first=first, last=last, by="week") == await live_reports.channel_mix(
            first=first, last=last, by="week")


async def test_satisfaction_answers_go_through_the_broker_and_bad_scores_are_refused(service_env):
    service_env("metrics")
    app = create_app(MetricsSettings())
    day = date(random.choice(YEARS), 3, 10)
    async with running(app) as client:
        contact_id = unique("rated")
        published = await client.post("/v1/channel-mix", json={})  # not a POST route: 405, not a 500
        answered_at = datetime(day.year, day.month, day.day, 14, tzinfo=AMS).isoformat()
        too_high = await client.post("/v1/satisfaction", json={"contact_id": contact_id, "score": 11})
        half = await client.post("/v1/satisfaction", json={"contact_id": contact_id, "score": 7.5})
        missing = await client.post("/v1/satisfaction", json={"score": 7})
        accepted = await client.post("/v1/satisfaction", json={"contact_id": contact_id, "score": 8, "answered_at": answered_at})
        assert published.status_code == 405
        for refused, field in ((too_high, "score"), (half, "score"), (missing, "contact_id")):
            assert refused.status_code == 422 and refused.json()["detail"][0]["loc"] == ["body", field], refused.text
        assert accepted.status_code == 202 and accepted.json()["score"] == 8
        period = {"from": day.isoformat(), "to": day.isoformat()}
        summary = await eventually(
            lambda: client.get("/v1/satisfaction", params=period), lambda r: r.json()["answers"] == 1, timeout=30
        )
        assert summary.json()["by_channel"] == [{"group": "unknown", "answers": 1, "average": 8.0}]


async def test_realtime_queues_and_callbacks_from_live_events(service_env):
    service_env("metrics")
    app = create_app(MetricsSettings(realtime_refresh_s=0.3))
    now = datetime.now(AMS)
    end_of_today = datetime.combine(now.date(), datetime.max.time(), AMS).replace(microsecond=0)
    tag = unique("live")
    offered = now - timedelta(seconds=90)
    events = [
        # A call waiting for 90 s on the belastingen line; another already answered.
        (CallOffered.create(source="/tests", data=CallOfferedData(call_id=f"{tag}-c1", dialled_number="14050", service_line="belastingen", offered_at=offered)), CALL_EVENTS),
        (CallOffered.create(source="/tests", data=CallOfferedData(call_id=f"{tag}-c2", dialled_number="14050", service_line="belastingen", offered_at=offered)), CALL_EVENTS),
        (CallAnswered.create(source="/tests", data=CallAnsweredData(call_id=f"{tag}-c2", agent_id="a1", wait_s=5, answered_at=offered + timedelta(seconds=5))), CALL_EVENTS),
        # A ticket drawn 4 min ago at the stadsbalie, not yet called.
        (CounterVisit.create(source="/tests", data=CounterVisitData(ticket_id=f"{tag}-t1", location="stadsbalie", stage="drawn", at=now - timedelta(minutes=4))), COUNTER_EVENTS),
        # An e-mail received 2 h ago that the KCC answers, not yet resolved.
        (ContactReceived.create(source="/tests", data=ContactReceivedData(contact_id=f"{tag}-m1", channel=Channel.EMAIL, received_at=now - timedelta(hours=2))), CONTACT_RECEIVED),
        (ContactRouted.create(source="/tests", data=ContactRoutedData(contact_id=f"{tag}-m1", channel=Channel.EMAIL, decision="answer_in_kcc", reason="t", department_id="kcc", routed_at=now - timedelta(hours=2))), CONTACT_ROUTED),
        # Call-backs: one due at the end of today, one overdue, one overdue but completed.
        *[
            (CallbackScheduled.create(source="/tests", time=now - timedelta(hours=3), data=CallbackScheduledData(
                callback_id=f"{tag}-cb{n}", contact_id=f"{tag}-x{n}", department_id="sozawe", slot_start=now, slot_end=now, deadline=deadline)), CALLBACK_SCHEDULED)
            for n, deadline in ((1, end_of_today), (2, now - timedelta(minutes=30)), (3, now - timedelta(minutes=30)))
        ],
        (CallbackCompleted.create(source="/tests", time=now - timedelta(hours=1), data=CallbackCompletedData(
            callback_id=f"{tag}-cb3", contact_id=f"{tag}-x3", department_id="sozawe", completed_at=now - timedelta(hours=1),
            completed_by="m", deadline=now - timedelta(minutes=30), within_deadline=True, attempts=1)), CALLBACK_COMPLETED),
        # Agents: one available, one available then busy, one signed out.
        *[
            (AgentStatusChanged.create(source="/tests", data=AgentStatusChangedData(agent_id=f"{tag}-{agent}", status=state, at=now - timedelta(seconds=ago))), AGENT_STATUS)
            for agent, state, ago in (("a1", "available", 20), ("a2", "available", 20), ("a2", "busy", 10), ("a3", "offline", 5))
        ],
    ]
    async with running(app) as client:
        for event, topic in events:
            await app.state.infra.publisher.publish(event, topic=topic)
        await eventually(lambda: asyncio.sleep(0, handled(app)), lambda n: n >= len(events))
        response = await client.get("/v1/realtime")
        assert response.status_code == 200
        live = response.json()
        assert set(live) == {"at", "queues", "agents_available", "callbacks_due_today", "callbacks_overdue"}
        queues = {q["queue"]: q for q in live["queues"]}
        assert {name: q["waiting"] for name, q in queues.items()} == {"telephone:belastingen": 1, "counter:stadsbalie": 1, "kcc:email": 1}
        assert 90 <= queues["telephone:belastingen"]["oldest_waiting_s"] < 150
        assert 240 <= queues["counter:stadsbalie"]["oldest_waiting_s"] < 300
        assert 7200 <= queues["kcc:email"]["oldest_waiting_s"] < 7260
        assert (live["agents_available"], live["callbacks_due_today"], live["callbacks_overdue"]) == (1, 1, 1)
        # The gauges refresh on a timer: one refresh may have run while the events were being
        # stored, so wait for one that shows them all (each line is checked on the same scrape).
        gauges = (
            'kcc_metrics_queue_waiting{queue="kcc:email"} 1.0', 'kcc_metrics_queue_waiting{queue="telephone:belastingen"} 1.0',
            "kcc_metrics_callbacks_overdue 1.0", "kcc_metrics_callbacks_due_today 1.0", "kcc_metrics_agents_available 1.0",
        )
        scraped = await eventually(lambda: client.get("/metrics"), lambda r: all(g in r.text for g in gauges), timeout=10)
        assert all(g in scraped.text for g in gauges)


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


async def test_a_poison_event_in_a_batch_is_dead_lettered_and_the_rest_counted(service_env, topic_reader):
    service_env("metrics")
    app = create_app(MetricsSettings())
    day = date(random.choice(YEARS), 6, 2)
    at = datetime(day.year, day.month, day.day, 10, tzinfo=AMS)
    dead_letters = await topic_reader(DEAD_LETTER.name)
    async with running(app) as client:
        broker, key = app.state.infra.broker, unique("poison")
        good = [
            ContactReceived.create(source="/tests", data=ContactReceivedData(contact_id=f"{key}-{n}", channel=Channel.WEB, received_at=at))
            for n in range(5)
        ]
        # One key: the six land on one partition, in order, and are polled together.
        for event in good[:2]:
            await broker.publish(event.model_dump_json().encode(), topic=CONTACT_RECEIVED.name, key=key.encode())
        await broker.publish(b'{"type": "nl.contactstad.contact.received", "data": {}}', topic=CONTACT_RECEIVED.name, key=key.encode())
        for event in good[2:] + good[:1]:  # and one redelivery
            await broker.publish(event.model_dump_json().encode(), topic=CONTACT_RECEIVED.name, key=key.encode())
        [dead] = await dead_letters.read(count=1, match=lambda r: dict(r.headers).get("kcc-dlq-original-topic") == CONTACT_RECEIVED.name.encode())
        headers = {k: v.decode() for k, v in dead.headers}
        assert headers["kcc-dlq-error"].startswith("invalid event:") and headers["kcc-dlq-attempts"] == "1"
        counts = await eventually(
            lambda: client.get("/v1/counts/daily", params={"day": day.isoformat()}), lambda r: r.json()["received"].get("web") == 5
        )
        assert counts.json()["received"] == {"web": 5}  # the redelivered one counted once
