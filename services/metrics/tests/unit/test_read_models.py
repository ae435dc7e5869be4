"""Realtime, first-contact resolution windows and the channel mix: pure functions over facts,
with hand-computed values."""

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from kcc_metrics.kpis.resolution import fcr_kpi
from kcc_metrics.norms import NormSettings
from kcc_metrics.realtime import snapshot
from kcc_metrics.views import channel_mix

AMS = ZoneInfo("Europe/Amsterdam")
NOW = datetime(2026, 12, 2, 14, 0, tzinfo=AMS)


def test_realtime_counts_waiting_contacts_per_queue_and_open_callbacks():
    call = lambda cid, event, at, **kw: {"call_id": cid, "event": event, "at": at, **kw}  # noqa: E731
    live = snapshot(
        now=NOW, tz=AMS,
        calls=[
            call("c1", "offered", NOW - timedelta(seconds=40), service_line="belastingen"),
            call("c2", "offered", NOW - timedelta(seconds=95), service_line="belastingen"),
            call("c3", "offered", NOW - timedelta(seconds=300), service_line="belastingen"),
            call("c3", "abandoned", NOW - timedelta(seconds=200)),
            call("c4", "offered", NOW - timedelta(seconds=10)),
            call("c4", "answered", NOW - timedelta(seconds=5)),
        ],
        tickets=[{"visit_key": "v1", "event": "called", "at": NOW, "location": "stadsbalie"}],  # no `drawn`: not a visit
        routed=[
            {"contact_id": "m1", "channel": "email", "decision": "answer_in_kcc", "department_id": "kcc", "routed_at": NOW},
            {"contact_id": "m2", "channel": "email", "decision": "answer_in_kcc", "department_id": "kcc", "routed_at": NOW},
            {"contact_id": "l1", "channel": "letter", "decision": "forward_to_department", "department_id": "sozawe", "routed_at": NOW},
            {"contact_id": "p1", "channel": "telephone", "decision": "answer_in_kcc", "department_id": "kcc", "routed_at": NOW},
        ],
        resolved=[{"contact_id": "m2", "resolved_at": NOW}],
        received={"m1": {"received_at": NOW - timedelta(hours=3)}, "l1": {"received_at": NOW - timedelta(days=2)}},
        callbacks=[
            {"callback_id": "b1", "event": "scheduled", "deadline": NOW + timedelta(hours=2)},  # due today
            {"callback_id": "b2", "event": "scheduled", "deadline": NOW + timedelta(days=1)},  # tomorrow
            {"callback_id": "b3", "event": "scheduled", "deadline": NOW - timedelta(minutes=1)},  # overdue
            {"callback_id": "b4", "event": "scheduled", "deadline": NOW - timedelta(hours=1)},
            {"callback_id": "b4", "event": "cancelled"},  # no longer open
        ],
        agents=[
            {"agent_id": "a1", "status": "available", "at": NOW - timedelta(hours=5)},
            {"agent_id": "a1", "status": "busy", "at": NOW - timedelta(minutes=3)},  # on a call now
            {"agent_id": "a2", "status": "away", "at": NOW - timedelta(hours=1)},
            {"agent_id": "a2", "status": "available", "at": NOW - timedelta(minutes=10)},  # back from a break
            {"agent_id": "a3", "status": "available", "at": NOW - timedelta(hours=6)},
            {"agent_id": "a4", "status": "offline", "at": NOW - timedelta(minutes=1)},
            {"agent_id": "a4", "status": "available", "at": NOW - timedelta(hours=2)},  # arrived late, out of order
            {"agent_id": "a5", "status": "available", "at": NOW + timedelta(minutes=1)},  # not yet
        ],
    )
    assert [(q.queue, q.waiting, q.oldest_waiting_s) for q in live.queues] == [
        ("department:sozawe", 1, 2 * 86400.0),
        ("kcc:email", 1, 3 * 3600.0),  # m2 is resolved; the phone contact waits in the call queue, not here
        ("telephone:algemeen", 0, None),
        ("telephone:belastingen", 2, 95.0),
    ]
    assert (live.agents_available, live.callbacks_due_today, live.callbacks_overdue) == (2, 1, 1)  # a2, a3


def test_first_contact_resolution_is_pending_until_the_window_closes():
    norms = NormSettings()
    resolved_at = datetime(2026, 12, 1, 10, tzinfo=AMS)
    received = {
        "a": {"contact_id": "a", "citizen_key": "bsn:x", "received_at": resolved_at - timedelta(minutes=5)},
        "b": {"contact_id": "b", "citizen_key": "bsn:x", "received_at": resolved_at + timedelta(days=7, seconds=1)},
    }
    resolved = [{"contact_id": "a", "outcome": "answered_in_kcc", "resolved_at": resolved_at}]
    products = {"a": "upl:paspoort", "b": "upl:paspoort"}
    at = lambda now: fcr_kpi(resolved, received=received, products=products, norms=norms, now=now)  # noqa: E731
    assert at(resolved_at + timedelta(days=6)).counts["pending"] == 1  # window still open
    assert at(resolved_at + timedelta(days=8)).value == 1.0  # b came one second after the 7 days
    received["b"]["received_at"] = resolved_at + timedelta(days=7)
    assert at(resolved_at + timedelta(days=8)).counts["repeated"] == 1  # exactly 7 days: a repeat
    # The pseudonym is only compared: re-keying every fact of a citizen to a surrogate changes nothing.
    rekeyed = {cid: {**f, "citizen_key": "erased:1"} for cid, f in received.items()}
    assert fcr_kpi(resolved, received=rekeyed, products=products, norms=norms, now=resolved_at + timedelta(days=8)) == at(
        resolved_at + timedelta(days=8))


def test_channel_mix_per_day_and_iso_week():
    days = {date(2026, 12, 27): {"web": 1}, date(2026, 12, 28): {"telephone": 1, "web": 1}, date(2026, 12, 29): {}}  # Sun, Mon (week 53)
    assert [(r["period"], r["counts"]) for r in channel_mix(days, by="day")] == [
        ("2026-12-27", {"web": 1}), ("2026-12-28", {"telephone": 1, "web": 1}),
    ]
    weeks = channel_mix(days, by="week")
    assert [(r["period"], r["shares"]) for r in weeks] == [("2026-W52", {"web": 1.0}), ("2026-W53", {"telephone": 0.5, "web": 0.5})]
