"""The traffic model on its own: volumes, channel mix, weekly pattern, staffing and determinism."""

import statistics
from datetime import date, datetime, timedelta

import phonenumbers
import pytest
from kcc_cli.sim import calibration as cal
from kcc_cli.sim import texts
from kcc_cli.sim.model import TZ, TrafficConfig, erlang_c_agents, plan_day, plan_period
from kcc_cli.sim.runner import WINDOW_S, Pacer, attempt_outcome

TUESDAY = date(2026, 11, 24)


def telephone_figures(calls):
    answered = [c for c in calls if c.outcome == "answered"]
    abandoned = [c for c in calls if c.outcome == "abandoned"]
    level = sum(1 for c in answered if c.wait_s <= 20) / (len(answered) + len(abandoned))
    return level, len(abandoned) / len(calls)


def test_a_working_day_for_150000_inhabitants_has_calibrated_volumes_and_channel_mix():
    days = [plan_day(TrafficConfig(start=TUESDAY, seed=seed), 0) for seed in range(5)]
    mean = {ch: statistics.mean(d.contacts().get(ch, 0) for d in days) for ch in ("telephone", "counter", "web", "email", "letter", "social")}
    # Tuesday is 1.05 x the average working day on the phone: 650 x 1.05 = 682.
    assert 630 <= mean["telephone"] <= 740
    assert 300 <= mean["counter"] <= 400
    # Web: ~96 forms x 1.05 plus online bookings (350 x 0.69 x 0.6 = 145).
    assert 200 <= mean["web"] <= 290
    assert 8 <= mean["email"] <= 18
    assert 12 <= mean["social"] <= 26
    assert 12 <= mean["letter"] <= 30
    total = sum(mean.values())
    assert 0.45 <= mean["telephone"] / total <= 0.60, "the telephone carries most contacts"
    assert 0.20 <= mean["counter"] / total <= 0.30


def test_volumes_scale_with_the_municipality():
    small = plan_day(TrafficConfig(start=TUESDAY, seed=3, inhabitants=15_000), 0)
    assert 45 <= len(small.calls) <= 95
    assert 20 <= len(small.visits) <= 50


def test_weekends_and_public_holidays_have_no_calls_counter_or_post_but_mail_and_messages_arrive():
    for day in (date(2026, 11, 28), date(2026, 12, 25)):  # a Saturday, Christmas (a Friday)
        plans = [plan_day(TrafficConfig(start=day, seed=s), 0) for s in range(3)]
        assert all(not p.working and not p.calls and not p.visits for p in plans)
        assert all(not any(w.channel == "letter" for w in p.written) for p in plans)
        assert sum(len(p.written) for p in plans) > 0
    demo = plan_day(TrafficConfig(start=date(2026, 11, 29), seed=1, workdays_only=True), 0)
    assert demo.working and len(demo.calls) > 500


def test_calls_arrive_in_opening_hours_with_a_morning_peak_and_five_minute_handling():
    calls = plan_day(TrafficConfig(start=TUESDAY, seed=7), 0).calls
    hours = [c.offered_at.hour for c in calls]
    assert min(hours) >= 8 and max(hours) <= 16
    assert hours.count(9) + hours.count(10) > hours.count(15) + hours.count(16)
    answered = [c for c in calls if c.outcome == "answered"]
    handle = statistics.mean(c.talk_s + c.hold_s + c.wrap_up_s for c in answered)
    assert 270 <= handle <= 340  # "average call ~5 min"


def test_staffing_drives_waits_and_abandons():
    def figures(staffing):
        runs = [telephone_figures(plan_day(TrafficConfig(start=TUESDAY, seed=s, staffing=staffing), 0).calls) for s in range(4)]
        return statistics.mean(r[0] for r in runs), statistics.mean(r[1] for r in runs)

    planned_level, planned_abandon = figures(1.0)
    short_level, short_abandon = figures(0.7)
    assert planned_level >= 0.70 and planned_abandon <= 0.08
    assert short_level < planned_level - 0.15
    assert short_abandon > planned_abandon * 2


def test_erlang_c_rota():
    # 100 calls an hour of 5 minutes is 8.3 Erlang: 11 agents answer 74.9% within 20 s, 12 agents 86.2%.
    assert erlang_c_agents(100, 300, target=0.8, threshold_s=20) == 12
    assert erlang_c_agents(0, 300, target=0.8, threshold_s=20) == 0


def test_the_same_seed_gives_the_same_traffic_and_another_seed_other_traffic():
    def fingerprint(seed):
        day = plan_period(TrafficConfig(start=TUESDAY, seed=seed, run_id="x"))[0]
        return [(c.call_id, c.offered_at, c.outcome, c.wait_s) for c in day.calls], [(w.message_id, w.text, w.done_at) for w in day.written]

    assert fingerprint(11) == fingerprint(11)
    assert fingerprint(11) != fingerprint(12)


def test_counter_visitors_queue_for_desks_and_appointments_are_called_near_their_slot():
    visits = plan_day(TrafficConfig(start=TUESDAY, seed=2), 0).visits
    with_appointment = [v for v in visits if v.appointment_id and v.called_at]
    waits = [(v.called_at - v.drawn_at).total_seconds() / 60 for v in with_appointment]
    assert statistics.median(waits) <= 8
    assert all(v.called_at >= v.drawn_at for v in visits if v.called_at)
    assert all(v.left_at is None for v in with_appointment)


def test_written_work_is_answered_in_office_hours_by_priority():
    days = plan_period(TrafficConfig(start=TUESDAY, days=2, seed=4))
    done = [w for d in days for w in d.written if w.done_at]
    assert done
    for item in done:
        started = item.done_at - timedelta(seconds=item.handle_s)
        assert started >= item.received_at
        assert 8 <= started.astimezone(TZ).hour < 17
    letters = [w for d in days for w in d.written if w.channel == "letter"]
    damaged = [w for w in letters if w.ocr_damaged]
    assert 0.15 <= len(damaged) / len(letters) <= 0.7


def test_identifiers_are_valid():
    import random

    rng = random.Random(5)
    for _ in range(200):
        bsn = texts.bsn(rng)
        assert len(bsn) == 9 and sum(int(d) * w for d, w in zip(bsn, (9, 8, 7, 6, 5, 4, 3, 2, -1))) % 11 == 0
        assert phonenumbers.is_valid_number(phonenumbers.parse(texts.mobile_number(rng), "NL"))


def test_ocr_damage_changes_letters_like_the_seed_scan():
    import random

    text = "Ik wil graag weten wanneer de gemeente mijn aanvraag voor een omgevingsvergunning behandelt."
    damaged = [texts.ocr_damage(text, random.Random(s), rate=0.1) for s in range(20)]
    assert sum(1 for d in damaged if d != text) >= 15
    assert len(set(damaged)) >= 10


def test_the_pacer_runs_the_day_window_and_posts_night_arrivals_at_its_edges():
    pacer = Pacer(TUESDAY, speed_up=100)
    at = lambda h, d=0: datetime(2026, 11, 24 + d, h, 0, tzinfo=TZ)  # noqa: E731
    assert pacer.offset(at(7)) == 0 and pacer.offset(at(3)) == 0
    assert pacer.offset(at(13)) == 6 * 3600
    assert pacer.offset(at(22)) == WINDOW_S
    assert pacer.offset(at(9, d=1)) == WINDOW_S + 2 * 3600


def test_call_back_attempt_outcomes_are_deterministic_and_mostly_reached():
    outcomes = [attempt_outcome(1, f"cb-{n}", 1) for n in range(1000)]
    assert outcomes == [attempt_outcome(1, f"cb-{n}", 1) for n in range(1000)]
    assert 0.65 <= outcomes.count("reached") / 1000 <= 0.75


@pytest.mark.parametrize("name", ["CALLS_PER_WORKING_DAY", "COUNTER_VISITS_PER_WORKING_DAY", "EMAILS_PER_DAY", "SOCIAL_PER_DAY"])
def test_calibration_figures_are_positive(name):
    assert getattr(cal, name) > 0


def test_agents_report_available_as_their_shift_starts_and_offline_as_it_ends():
    plan = plan_day(TrafficConfig(start=TUESDAY, seed=3), 0)
    latest: dict[str, str] = {}
    changes = sorted(plan.agent_status, key=lambda c: c.at)
    for hour in sorted(plan.phone_agents):
        for change in (c for c in changes if c.at.astimezone(TZ).hour == hour and c.at.astimezone(TZ).minute == 0):
            latest[change.agent_id] = change.status
        assert sum(1 for s in latest.values() if s == "available") == plan.phone_agents[hour], hour
    for change in changes:
        latest[change.agent_id] = change.status
    assert set(latest.values()) == {"offline"}  # everyone signed out at closing time
    assert {c.agent_id for c in plan.calls if c.agent_id} <= set(latest)  # every agent who answered reported
