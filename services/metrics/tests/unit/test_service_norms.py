"""Service-norm KPIs from facts, with a hand-written fake store and hand-computed values."""

import random
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from kcc_metrics.calls import documents, interval_documents, interval_totals
from kcc_metrics.kpis.now import Now
from kcc_metrics.kpis.written import deadline
from kcc_metrics.norms import NormSettings
from kcc_metrics.service import MetricsService
from kcc_metrics.subscribers import SUBSCRIPTIONS
from kcc_metrics.workdays import end_of_working_days
from kcc_shared.contracts import ContactRouted, ContactRoutedData

AMS = ZoneInfo("Europe/Amsterdam")
AFTER_ALL_DEADLINES = datetime(2027, 3, 1, tzinfo=UTC)


class FakeFacts:
    """The repository's contract in memory: insert once per id, filter by day range and field."""

    def __init__(self) -> None:
        self.facts: dict[str, dict] = {}
        self.stored_sheets: dict[str, dict] = {}
        self.stored_templates: dict[str, dict] = {}
        self.seq = 0  # every fact counts as a change of every day

    async def record(self, *, event_id, fact):
        self.facts.setdefault(event_id, dict(fact))
        self.seq += 1

    async def change_seqs(self, *, first, last):
        return {(first + timedelta(days=n)).isoformat(): self.seq for n in range((last - first).days + 1)}

    async def sheets(self, *, first, last, channel, department, leave_out=()):
        return {
            i: s for i, s in self.stored_sheets.items()
            if (s["channel"], s["department"]) == (channel, department) and first.isoformat() <= s["day"] <= last.isoformat()
        }

    async def templates(self, version):
        return dict(self.stored_templates.get(version, {}))

    async def keep_templates(self, version, templates):
        self.stored_templates.setdefault(version, {}).update(templates)

    async def keep_sheets(self, sheets):
        self.stored_sheets |= {s["_id"]: s for s in sheets}

    async def in_period(self, *, kind, first, last, **equal):
        return [
            f for f in self.facts.values()
            if f["kind"] == kind and first.isoformat() <= f["day"] <= last.isoformat()
            and all(f.get(k) == v for k, v in equal.items())
        ]

    async def where_in(self, *, kind, field, values):
        return [f for f in self.facts.values() if f["kind"] == kind and f.get(field) in values]

    def reading_once(self):
        return self  # nothing to keep: everything is in memory

    async def intervals(self, *, first, last, service_line=None):
        """The telephone read model, built in memory by the same functions the store's batches use."""
        tz = ZoneInfo("Europe/Amsterdam")
        facts = [{"_id": event_id, **f} for event_id, f in self.facts.items() if f["kind"] == "call"]
        rows = interval_documents(interval_totals(documents(facts, tz=tz), norms=NormSettings()), norms=NormSettings())
        return [r for r in rows if first.isoformat() <= r["day"] <= last.isoformat() and service_line in (None, r["service_line"])]


HANDLERS = {topic.name: method for topic, method, _ in SUBSCRIPTIONS}


async def deliver(metrics: MetricsService, events) -> None:
    for event, topic in events:
        await getattr(metrics, HANDLERS[topic.name])(event)


def figures(report) -> dict:
    return {(k.channel, k.name): (k.value, k.met, k.counts) for k in report.kpis}


async def test_every_kpi_of_the_christmas_week_equals_the_hand_computed_value(christmas_scenario, christmas_expected):
    expected, expected_met = christmas_expected
    metrics = MetricsService(repository=FakeFacts(), timezone="Europe/Amsterdam", clock=lambda: AFTER_ALL_DEADLINES)
    await deliver(metrics, christmas_scenario(2026, "u"))

    report = await metrics.service_norms(first=date(2026, 12, 21), last=date(2026, 12, 24))

    values = {(k.channel, k.name): k.value for k in report.kpis}
    assert values == pytest.approx(expected)
    met = {(k.channel, k.name): k.met for k in report.kpis if k.met is not None}
    assert met == {**expected_met, ("telephone", "service_level_abandoned_short_excluded"): False}
    by_name = {(k.channel, k.name): k for k in report.kpis}
    assert by_name[("telephone", "max_transfers_per_call")].counts["calls_over_limit"] == 1
    assert by_name[("email", "answered_in_time")].counts == {
        "met": 1, "missed": 2, "pending": 0, "by_reply": 0, "by_resolve": 2, "replies": 0, "undelivered": 0,
    }


async def test_twice_delivered_shuffled_events_give_identical_figures(christmas_scenario):
    events = christmas_scenario(2026, "u")
    in_order = MetricsService(repository=FakeFacts(), timezone="Europe/Amsterdam", clock=lambda: AFTER_ALL_DEADLINES)
    await deliver(in_order, events)
    shuffled = MetricsService(repository=FakeFacts(), timezone="Europe/Amsterdam", clock=lambda: AFTER_ALL_DEADLINES)
    twice = events * 2
    random.Random(6).shuffle(twice)
    await deliver(shuffled, twice)

    period = {"first": date(2026, 12, 21), "last": date(2026, 12, 24)}
    assert figures(await shuffled.service_norms(**period)) == figures(await in_order.service_norms(**period))


async def test_an_unanswered_email_is_pending_until_its_deadline_and_missed_after(christmas_scenario):
    events = [(e, t) for e, t in christmas_scenario(2026, "u") if (getattr(e.data, "contact_id", None) or "").endswith("mail-3") and e.type.endswith("received")]
    period = {"first": date(2026, 12, 24), "last": date(2026, 12, 24), "channel": "email"}
    before = MetricsService(repository=FakeFacts(), timezone="Europe/Amsterdam", clock=lambda: datetime(2026, 12, 29, 22, 59, tzinfo=UTC))
    after = MetricsService(repository=FakeFacts(), timezone="Europe/Amsterdam", clock=lambda: datetime(2026, 12, 29, 23, 0, tzinfo=UTC))
    await deliver(before, events)
    await deliver(after, events)

    (pending,) = [k for k in (await before.service_norms(**period)).kpis if k.name == "answered_in_time"]
    (missed,) = [k for k in (await after.service_norms(**period)).kpis if k.name == "answered_in_time"]
    assert (pending.value, pending.met, pending.counts["pending"]) == (None, None, 1)
    assert (missed.value, missed.met, missed.counts["missed"]) == (0.0, False, 1)


def test_two_working_days_skip_weekends_and_dutch_public_holidays():
    # Thursday 24 Dec 2026: Christmas (Fri 25) and the weekend do not count -> Mon 28, Tue 29.
    assert end_of_working_days(datetime(2026, 12, 24, 10, tzinfo=AMS), 2, tz=AMS).date() == date(2026, 12, 29)
    # Friday 27 Nov 2026 -> Mon 30 Nov, Tue 1 Dec; 23:30 UTC on Friday is already Saturday in Amsterdam.
    assert end_of_working_days(datetime(2026, 11, 27, 9, tzinfo=AMS), 2, tz=AMS).date() == date(2026, 12, 1)
    assert end_of_working_days(datetime(2026, 11, 27, 23, 30, tzinfo=UTC), 2, tz=AMS).date() == date(2026, 12, 1)
    # Wednesday 29 April 2026: Koningsdag was Monday 27 April, so Thu 30 Apr, Fri 1 May.
    assert end_of_working_days(datetime(2026, 4, 29, 9, tzinfo=AMS), 2, tz=AMS).date() == date(2026, 5, 1)
    # Monday 4 May 2026: Bevrijdingsdag (Tue 5 May) counts every year (Algemene termijnenwet) -> Wed 6, Thu 7.
    assert end_of_working_days(datetime(2026, 5, 4, 9, tzinfo=AMS), 2, tz=AMS).date() == date(2026, 5, 7)


def test_norms_are_configurable_per_municipality(monkeypatch):
    monkeypatch.setenv("KCC_METRICS_NORM_EMAIL_WORKING_DAYS", "3")
    monkeypatch.setenv("KCC_METRICS_NORM_SOCIAL_HOURS", "4")
    norms = NormSettings()
    fact = {"received_at": datetime(2026, 12, 24, 10, tzinfo=AMS), "channel": "email"}
    assert deadline(fact, norms=norms, tz=AMS).date() == date(2026, 12, 30)
    social = {**fact, "channel": "social"}
    assert deadline(social, norms=norms, tz=AMS) == datetime(2026, 12, 24, 14, tzinfo=AMS)


async def test_a_department_report_counts_only_the_contacts_routed_to_that_department(christmas_scenario):
    metrics = MetricsService(repository=FakeFacts(), timezone="Europe/Amsterdam", clock=lambda: AFTER_ALL_DEADLINES)
    await deliver(metrics, christmas_scenario(2026, "u"))
    for name, department in (("mail-1", "belastingen"), ("mail-2", "burgerzaken"), ("mail-3", "burgerzaken")):
        await metrics.contact_routed(ContactRouted.create(source="/tests", data=ContactRoutedData(
            contact_id=f"u-{name}", channel="email", decision="forward_to_department", reason="test",
            department_id=department, routed_at=datetime(2026, 12, 24, 10, 1, tzinfo=AMS),
        )))

    report = await metrics.service_norms(first=date(2026, 12, 21), last=date(2026, 12, 24), department="burgerzaken")

    by_name = {(k.channel, k.name): k for k in report.kpis}
    # Calls carry no department: no call KPIs (a telephone contact routed there may still be rated).
    assert [name for channel, name in by_name if channel == "telephone"] == ["satisfaction_average"]
    assert by_name[("email", "answered_in_time")].counts == {
        "met": 0, "missed": 2, "pending": 0, "by_reply": 0, "by_resolve": 1, "replies": 0, "undelivered": 0,
    }
    assert by_name[("letter", "answered_in_time")].counts == {
        "met": 0, "missed": 0, "pending": 0, "by_reply": 0, "by_resolve": 0, "replies": 0, "undelivered": 0,
    }


def visit(ticket: str, stage: str, minute: int, *, appointment: str | None = None):
    from kcc_shared.contracts import CounterVisit, CounterVisitData

    at = datetime(2026, 11, 24, 9, 0, tzinfo=AMS).replace(minute=0) + __import__("datetime").timedelta(minutes=minute)
    data = CounterVisitData(ticket_id=ticket, location="stadsbalie", stage=stage, at=at, appointment_id=appointment)
    return CounterVisit.create(source="/tests", data=data)


async def test_counter_waiting_times_against_15_and_5_minutes():
    # Walk-ins wait 3, 12 and 20 min; a fourth leaves uncalled after 25. With an appointment: 4 and 7 min.
    events = [
        visit("A1", "drawn", 0), visit("A1", "called", 3),
        visit("A2", "drawn", 0), visit("A2", "called", 12),
        visit("A3", "drawn", 0), visit("A3", "called", 20),
        visit("A4", "drawn", 0), visit("A4", "left", 25),
        visit("B1", "drawn", 10, appointment="ap-1"), visit("B1", "called", 14),
        visit("B2", "drawn", 10, appointment="ap-2"), visit("B2", "called", 17),
    ]
    metrics = MetricsService(repository=FakeFacts(), timezone="Europe/Amsterdam", clock=lambda: AFTER_ALL_DEADLINES)
    for event in reversed(events):  # out of order on purpose
        await metrics.counter_visit(event)
        await metrics.counter_visit(event)  # and twice
    report = await metrics.service_norms(first=date(2026, 11, 24), last=date(2026, 11, 24), channel="counter")
    kpis = {k.name: k for k in report.kpis if k.channel == "counter"}
    walk_in, appointment = kpis["waiting_within_norm_walk_in"], kpis["waiting_within_norm_appointment"]
    assert (walk_in.value, walk_in.met) == (0.5, False)  # 3 and 12 of (3 called + 1 left)
    assert walk_in.counts == {"visits": 4, "called": 3, "left_uncalled": 1, "within": 2, "limit_min": 15}
    assert (appointment.value, appointment.met) == (0.5, False)  # 4 of (4, 7)
    # Waits of the called: 3, 12, 20, 4, 7 min -> p50 = 7 min, p90 = 20 min (nearest rank).
    assert kpis["waiting_p50"].value == 7 * 60 and kpis["waiting_p90"].value == 20 * 60
    assert {k: kpis["waiting_p50"].counts[k] for k in ("up_to_5_min", "up_to_15_min", "over_30_min")} == {
        "up_to_5_min": 2, "up_to_15_min": 4, "over_30_min": 0,
    }


async def test_callback_promises_kept_by_the_day_of_the_first_booking():
    from datetime import timedelta

    from kcc_shared.contracts import (
        CallbackCompleted, CallbackCompletedData, CallbackFailed, CallbackFailedData, CallbackScheduled, CallbackScheduledData,
    )

    booked = datetime(2026, 11, 23, 10, tzinfo=AMS)
    deadline = booked + timedelta(days=1)

    def scheduled(cb: str, *, rescheduled: bool = False, on=booked):
        data = CallbackScheduledData(callback_id=cb, contact_id="c", department_id="sozawe", slot_start=on, slot_end=on,
                                     deadline=deadline, rescheduled=rescheduled)
        return CallbackScheduled.create(source="/tests", data=data, time=on)

    def completed(cb: str, within: bool):
        done = deadline if within else deadline + timedelta(minutes=30)  # late: after the first booking's deadline
        data = CallbackCompletedData(callback_id=cb, contact_id="c", department_id="sozawe", completed_at=done,
                                     completed_by="m-1", deadline=deadline, within_deadline=within, attempts=1)
        return CallbackCompleted.create(source="/tests", data=data, time=done)

    failed = CallbackFailed.create(source="/tests", time=deadline, data=CallbackFailedData(
        callback_id="cb-3", contact_id="c", department_id="sozawe", failed_at=deadline, reason="max_attempts", attempts=3))
    events = [
        scheduled("cb-1"), completed("cb-1", True),          # kept
        scheduled("cb-2"), scheduled("cb-2", rescheduled=True, on=booked + timedelta(days=3)), completed("cb-2", False),  # late
        scheduled("cb-3"), failed,                           # failed
        scheduled("cb-4"),                                   # open, deadline passed at `now`
        scheduled("cb-5"), completed("cb-5", True),          # kept
    ]
    metrics = MetricsService(repository=FakeFacts(), timezone="Europe/Amsterdam", clock=lambda: deadline + timedelta(hours=1))
    for event in events[::-1] + events:
        await metrics.callback_event(event)
    report = await metrics.service_norms(first=date(2026, 11, 23), last=date(2026, 11, 23), channel="callback")
    [kpi] = [k for k in report.kpis if k.channel == "callback"]
    assert (kpi.value, kpi.met) == (2 / 5, False)
    assert kpi.counts == {"kept": 2, "broken": 3, "pending": 0, "cancelled": 0}
    early = MetricsService(repository=metrics._repository, timezone="Europe/Amsterdam", clock=lambda: booked)
    [kpi] = [k for k in (await early.service_norms(first=date(2026, 11, 23), last=date(2026, 11, 23), channel="callback")).kpis
             if k.channel == "callback"]
    assert kpi.counts == {"kept": 2, "broken": 2, "pending": 1, "cancelled": 0}  # cb-4 is not late yet


@pytest.mark.parametrize("clock", [datetime(2026, 12, 24, 12, tzinfo=UTC), datetime(2026, 12, 28, 9, tzinfo=UTC), AFTER_ALL_DEADLINES])
async def test_a_period_from_day_sheets_equals_the_period_computed_from_its_facts(christmas_scenario, clock):
    """Adding up the days' sheets gives the figures of the whole period read at once, for every
    filter, before, between and after the deadlines (pending items are where days could disagree)."""
    metrics = MetricsService(repository=FakeFacts(), timezone="Europe/Amsterdam", clock=lambda: clock)
    await deliver(metrics, christmas_scenario(2026, "u"))
    await metrics.contact_routed(ContactRouted.create(source="/tests", data=ContactRoutedData(
        contact_id="u-mail-2", channel="email", decision="forward_to_department", reason="test",
        department_id="burgerzaken", routed_at=datetime(2026, 12, 24, 10, 1, tzinfo=AMS),
    )))
    first, last = date(2026, 12, 20), date(2026, 12, 27)
    for channel, department in ((None, None), ("telephone", None), ("email", None), ("counter", None), ("callback", None),
                                ("handoff", None), ("letter", None), (None, "burgerzaken")):
        direct = await metrics._figures(first=first, last=last, channel=channel, department=department, now=Now(clock))
        report = await metrics.service_norms(first=first, last=last, channel=channel, department=department)
        assert [k.model_dump() for k in report.kpis] == [k.model_dump() for k in direct["kpis"]], (channel, department)


async def test_a_stored_sheet_is_reused_until_the_day_changes_or_a_pending_deadline_passes(christmas_scenario):
    now = [datetime(2026, 12, 24, 12, tzinfo=UTC)]
    facts = FakeFacts()
    metrics = MetricsService(repository=facts, timezone="Europe/Amsterdam", clock=lambda: now[0])
    await deliver(metrics, christmas_scenario(2026, "u"))
    day = date(2026, 12, 24)
    [sheet] = await metrics.day_sheets([day], channel="email", department=None)
    assert sheet["valid_until"] is not None and sheet["valid_until"] > now[0]  # an e-mail of the day is pending
    facts.stored_sheets[sheet["_id"]] = {**sheet, "kpis": []}  # marked, to see whether it is read back or recomputed
    assert (await metrics.day_sheets([day], channel="email", department=None))[0]["kpis"] == []
    now[0] = sheet["valid_until"] + timedelta(seconds=1)
    assert (await metrics.day_sheets([day], channel="email", department=None))[0]["kpis"] != []
    facts.stored_sheets[sheet["_id"]]["kpis"] = []
    facts.seq += 1  # a batch changed the day
    assert (await metrics.day_sheets([day], channel="email", department=None))[0]["kpis"] != []


async def test_written_channels_are_judged_on_the_answer_sent_with_the_click_as_fallback():
    """Hand-computed: e-mails received Thursday 24 Dec 2026 10:00 are due by the end of Tuesday 29
    Dec (Christmas, Boxing Day and the weekend do not count); social messages 24 h after receipt."""
    from kcc_shared.contracts import (
        CONTACT_ANSWERED, CONTACT_RECEIVED, CONTACT_RESOLVED, Channel, ContactAnswered, ContactAnsweredData, ContactReceived,
        ContactReceivedData, ContactReplyUndelivered, ContactReplyUndeliveredData, ContactResolved, ContactResolvedData,
    )

    def at(month: int, day: int, hour: int) -> datetime:
        return datetime(2026 if month == 12 else 2027, month, day, hour, tzinfo=AMS)

    events = []

    def contact(name, channel, received, *, click=None, replies=(), bounced=()):
        cid = f"w-{name}"
        events.append((ContactReceived.create(source="/t", data=ContactReceivedData(contact_id=cid, channel=channel, received_at=received)), CONTACT_RECEIVED))
        if click:
            events.append((ContactResolved.create(source="/t", data=ContactResolvedData(contact_id=cid, channel=channel, outcome="answered_in_kcc", resolved_at=click)), CONTACT_RESOLVED))
        for i, sent in enumerate(replies):
            kind = "email" if channel == Channel.EMAIL else "social"
            events.append((ContactAnswered.create(source="/t", data=ContactAnsweredData(contact_id=cid, reply_id=f"{cid}-r{i}", channel=channel, reply_channel=kind, answered_at=sent)), CONTACT_ANSWERED))
            if i in bounced:
                events.append((ContactReplyUndelivered.create(source="/t", data=ContactReplyUndeliveredData(
                    contact_id=cid, reply_id=f"{cid}-r{i}", channel=channel, reply_channel=kind, received_at=received,
                    reason="bounce: 5.1.1", undelivered_at=sent + timedelta(minutes=5))), CONTACT_ANSWERED))

    # Clicked resolved in time, but the answer went out on Wednesday 30 Dec: missed (the reply decides).
    contact("late-reply", Channel.EMAIL, at(12, 24, 10), click=at(12, 28, 9), replies=[at(12, 30, 9)])
    # Clicked late, but the answer went out on Monday 28 Dec: met.
    contact("late-click", Channel.EMAIL, at(12, 24, 10), click=at(12, 31, 9), replies=[at(12, 28, 15)])
    # The first answer bounced on Monday; the second went out on Wednesday: missed.
    contact("bounced", Channel.EMAIL, at(12, 24, 10), click=at(12, 28, 9), replies=[at(12, 28, 9), at(12, 30, 11)], bounced={0})
    # No answer through the platform (a phone call instead): the click on Tuesday decides, met.
    contact("click-only", Channel.EMAIL, at(12, 24, 10), click=at(12, 29, 16))
    # Social, received Wednesday 23 Dec 12:00: replied after 23 h (met); replied after 25 h, clicked after 2 h (missed).
    contact("social-fast", Channel.SOCIAL, at(12, 23, 12), replies=[at(12, 24, 11)])
    contact("social-slow", Channel.SOCIAL, at(12, 23, 12), click=at(12, 23, 14), replies=[at(12, 24, 13)])

    metrics = MetricsService(repository=FakeFacts(), timezone="Europe/Amsterdam", clock=lambda: AFTER_ALL_DEADLINES)
    await deliver(metrics, events)
    report = await metrics.service_norms(first=date(2026, 12, 23), last=date(2026, 12, 24))
    by_name = {(k.channel, k.name): k for k in report.kpis}

    email, social = by_name[("email", "answered_in_time")], by_name[("social", "answered_in_time")]
    assert email.counts == {"met": 2, "missed": 2, "pending": 0, "by_reply": 3, "by_resolve": 1, "replies": 4, "undelivered": 1}
    assert email.value == 0.5
    assert social.counts == {"met": 1, "missed": 1, "pending": 0, "by_reply": 2, "by_resolve": 0, "replies": 2, "undelivered": 0}
    assert "resolve click" in email.definition and "contact.answered" in email.definition
    # Judged on clicks alone (the definition before replies), the same contacts gave 3 of 4 e-mails and 1 of 1 social in time.
    clicks_only = MetricsService(repository=FakeFacts(), timezone="Europe/Amsterdam", clock=lambda: AFTER_ALL_DEADLINES)
    await deliver(clicks_only, [(e, t) for e, t in events if t is not CONTACT_ANSWERED])
    before = {(k.channel, k.name): k for k in (await clicks_only.service_norms(first=date(2026, 12, 23), last=date(2026, 12, 24))).kpis}
    assert (before[("email", "answered_in_time")].counts["met"], before[("email", "answered_in_time")].counts["missed"]) == (3, 1)
    assert (before[("social", "answered_in_time")].counts["met"], before[("social", "answered_in_time")].counts["missed"]) == (1, 1)


def appointment(appointment_id: str, status: str, *, planned_minute: int, at_minute: int):
    from kcc_shared.contracts import CounterAppointment, CounterAppointmentData

    day = datetime(2026, 11, 24, 9, 0, tzinfo=AMS)
    data = CounterAppointmentData(
        appointment_id=appointment_id, location="stadsbalie", status=status,
        scheduled_for=day + timedelta(minutes=planned_minute), at=day + timedelta(minutes=at_minute),
    )
    return CounterAppointment.create(source="/tests", data=data)


async def test_counter_appointments_kept_and_waits_counted_from_the_planned_time():
    # ap-1 planned 9:15; its visitor draws a ticket at 9:05 (early) and is called at 9:18: a
    # 3-minute wait against the appointment, 13 from the ticket. ap-2 planned 9:10, drawn 9:12,
    # called 9:19: 7 minutes. ap-3 a no-show, ap-4 cancelled, ap-5 booked and moved to the next
    # day (counted there), ap-6 still booked.
    events = [
        appointment("ap-1", "booked", planned_minute=15, at_minute=-600), appointment("ap-1", "served", planned_minute=15, at_minute=25),
        appointment("ap-2", "booked", planned_minute=10, at_minute=-600), appointment("ap-2", "served", planned_minute=10, at_minute=30),
        appointment("ap-3", "booked", planned_minute=20, at_minute=-600), appointment("ap-3", "no_show", planned_minute=20, at_minute=50),
        appointment("ap-4", "booked", planned_minute=30, at_minute=-600), appointment("ap-4", "cancelled", planned_minute=30, at_minute=-60),
        appointment("ap-5", "booked", planned_minute=40, at_minute=-600), appointment("ap-5", "booked", planned_minute=40 + 24 * 60, at_minute=-300),
        appointment("ap-6", "booked", planned_minute=45, at_minute=-600),
        visit("B1", "drawn", 5, appointment="ap-1"), visit("B1", "called", 18),
        visit("B2", "drawn", 12, appointment="ap-2"), visit("B2", "called", 19),
    ]
    metrics = MetricsService(repository=FakeFacts(), timezone="Europe/Amsterdam", clock=lambda: AFTER_ALL_DEADLINES)
    [(topic, method, handles)] = [s for s in SUBSCRIPTIONS if s[0].name == "kcc.counter.events.v1"]
    for event in reversed(events):  # out of order, as the consumer may see them, and twice
        await getattr(metrics, method)(event)
        await getattr(metrics, method)(event)
    report = await metrics.service_norms(first=date(2026, 11, 24), last=date(2026, 11, 24), channel="counter")
    kpis = {k.name: k for k in report.kpis if k.channel == "counter"}
    kept = kpis["appointments_kept"]
    assert kept.counts == {"appointments": 5, "served": 2, "no_show": 1, "cancelled": 1, "booked": 1}
    assert kept.value == 2 / 3
    waiting = kpis["waiting_within_norm_appointment"]
    assert waiting.counts["within"] == 1 and waiting.value == 0.5  # 3 min of (3, 7): from the planned time, not the ticket
    assert kpis["waiting_p50"].value == 3 * 60
    next_day = await metrics.service_norms(first=date(2026, 11, 25), last=date(2026, 11, 25), channel="counter")
    assert {k.name: k for k in next_day.kpis}["appointments_kept"].counts["booked"] == 1  # ap-5, moved
