"""A scripted week around Christmas 2026 (Friday 25 December) with hand-computed KPIs.

Shared by the unit test (fake store) and the integration test (real broker and store)."""

from datetime import datetime, time, timedelta

import pytest
from zoneinfo import ZoneInfo

from kcc_shared.contracts import (
    CALL_EVENTS,
    CALLBACK_CANCELLED,
    CALLBACK_COMPLETED,
    CALLBACK_FAILED,
    CALLBACK_SCHEDULED,
    CONTACT_ACKNOWLEDGED,
    CONTACT_RECEIVED,
    CONTACT_RESOLVED,
    CONTACT_ROUTED,
    COUNTER_EVENTS,
    SURVEY_ANSWERED,
    CallbackCancelled,
    CallbackCancelledData,
    CallbackCompleted,
    CallbackCompletedData,
    CallbackFailed,
    CallbackFailedData,
    CallbackScheduled,
    CallbackScheduledData,
    ContactAcknowledged,
    ContactAcknowledgedData,
    ContactRouted,
    ContactRoutedData,
    CounterAppointment,
    CounterAppointmentData,
    CounterVisit,
    CounterVisitData,
    SurveyAnswered,
    SurveyAnsweredData,
    CallAbandoned,
    CallAbandonedData,
    CallAnswered,
    CallAnsweredData,
    CallEnded,
    CallEndedData,
    CallOffered,
    CallOfferedData,
    CallTransferred,
    CallTransferredData,
    Channel,
    ContactReceived,
    ContactReceivedData,
    ContactResolved,
    ContactResolvedData,
)

AMS = ZoneInfo("Europe/Amsterdam")


def scenario(year: int, tag: str) -> list[tuple[object, object]]:
    """(event, topic) pairs; `year` must have Christmas on a Friday, `tag` keeps ids unique per run."""
    def at(month: int, day: int, hour: int, minute: int = 0) -> datetime:
        return datetime(year + (1 if month == 1 else 0), month, day, hour, minute, tzinfo=AMS)

    events: list[tuple[object, object]] = []

    def call(n: int, *, wait: float, answered: bool, talk=0.0, hold=0.0, wrap=0.0, transfers=0, day=22) -> None:
        call_id, start = f"{tag}-call-{n}", at(12, day, 10)
        events.append((CallOffered.create(source="/tests", data=CallOfferedData(call_id=call_id, dialled_number="14050", offered_at=start)), CALL_EVENTS))
        moment = start + timedelta(seconds=wait)
        if not answered:
            events.append((CallAbandoned.create(source="/tests", data=CallAbandonedData(call_id=call_id, wait_s=wait, abandoned_at=moment)), CALL_EVENTS))
            return
        events.append((CallAnswered.create(source="/tests", data=CallAnsweredData(call_id=call_id, agent_id="a1", wait_s=wait, answered_at=moment)), CALL_EVENTS))
        for i in range(transfers):
            events.append((CallTransferred.create(source="/tests", data=CallTransferredData(call_id=call_id, target=f"d{i}", warm=True, announced=True, transferred_at=moment + timedelta(seconds=i + 1))), CALL_EVENTS))
        events.append((CallEnded.create(source="/tests", data=CallEndedData(call_id=call_id, talk_s=talk, hold_s=hold, wrap_up_s=wrap, ended_at=moment + timedelta(seconds=talk + hold))), CALL_EVENTS))

    call(1, wait=10, answered=True, talk=200, hold=20, wrap=30)
    call(2, wait=30, answered=True, talk=100, wrap=50, transfers=1)
    call(3, wait=5, answered=False)
    call(4, wait=40, answered=False)
    call(5, wait=20, answered=True, talk=290, hold=10, transfers=3)
    call(6, wait=1, answered=True, talk=60, day=20)  # Sunday before the period: not counted

    def contact(name: str, channel: Channel, received: datetime, answers: list[tuple[datetime, str]], *, citizen=None, **due) -> None:
        contact_id = f"{tag}-{name}"
        key = f"bsn:{tag}-{citizen}" if citizen else None  # the keyed pseudonym intake would set
        events.append((ContactReceived.create(source="/tests", data=ContactReceivedData(contact_id=contact_id, channel=channel, received_at=received, citizen_key=key, **due)), CONTACT_RECEIVED))
        for resolved_at, outcome in answers:
            events.append((ContactResolved.create(source="/tests", data=ContactResolvedData(contact_id=contact_id, channel=channel, outcome=outcome, resolved_at=resolved_at)), CONTACT_RESOLVED))

    # E-mails on Thursday 24 Dec: Friday 25 is Christmas, then a weekend; due by the end of Tuesday 29 Dec.
    contact("mail-1", Channel.EMAIL, at(12, 24, 10), [(at(12, 29, 16), "answered_in_kcc")])  # met
    contact("mail-2", Channel.EMAIL, at(12, 24, 10), [(at(12, 30, 9), "answered_in_kcc")], citizen="K2")  # missed
    contact("mail-3", Channel.EMAIL, at(12, 24, 10), [], citizen="K1")  # never answered: missed once due
    # Letters on Monday 21 Dec: one with a due date from intake, one without (6 weeks: 1 February).
    due = datetime.combine(at(1, 31, 0).date(), time(23, 59, 59), AMS)
    contact("letter-1", Channel.LETTER, at(12, 21, 9), [(at(1, 15, 11), "forwarded")], answer_due_at=due)  # met
    contact("letter-2", Channel.LETTER, at(12, 21, 9), [(at(1, 2, 12), "forwarded")])  # met (2 Jan < 1 Feb)
    contact("letter-3", Channel.LETTER, at(12, 21, 9), [(datetime(year + 1, 2, 2, 9, tzinfo=AMS), "forwarded")])  # missed
    # Social on Wednesday 23 Dec 12:00: due 24 h later.
    contact("social-1", Channel.SOCIAL, at(12, 23, 12), [(at(12, 24, 11), "answered_in_kcc"), (at(12, 28, 9), "forwarded")], citizen="K3")
    contact("social-2", Channel.SOCIAL, at(12, 23, 12), [(at(12, 24, 13), "answered_in_kcc")])
    # Telephone contacts resolved on Tuesday 22 Dec.
    contact("phone-1", Channel.TELEPHONE, at(12, 22, 10), [(at(12, 22, 10, 5), "answered_in_kcc")], citizen="K1")
    contact("phone-2", Channel.TELEPHONE, at(12, 22, 10), [(at(12, 22, 10, 5), "answered_in_kcc")], citizen="K2")
    contact("phone-3", Channel.TELEPHONE, at(12, 22, 10), [(at(12, 22, 10, 5), "forwarded")])
    return events + more_of_the_week(year, tag, at)


PASPOORT, AFVAL, PARKEREN = (f"http://standaarden.overheid.nl/owms/terms/{p}" for p in ("Paspoort", "Afvalinzameling", "Parkeervergunning"))


def more_of_the_week(year: int, tag: str, at) -> list[tuple[object, object]]:
    """Routing, acknowledgements, hand-offs, call-backs, counter visits and survey answers."""
    events: list[tuple[object, object]] = []

    def routed(name: str, channel: Channel, decision: str, department: str, moment: datetime, upl: str | None = None, due=None):
        data = ContactRoutedData(contact_id=f"{tag}-{name}", channel=channel, decision=decision, reason="scenario",
                                 department_id=department, upl_uri=upl, due_at=due, routed_at=moment)
        events.append((ContactRouted.create(source="/tests", data=data), CONTACT_ROUTED))

    def received(name: str, channel: Channel, moment: datetime, *, citizen=None, message_id=None) -> None:
        data = ContactReceivedData(contact_id=f"{tag}-{name}", channel=channel, received_at=moment,
                                   citizen_key=f"bsn:{tag}-{citizen}" if citizen else None, channel_message_id=message_id)
        events.append((ContactReceived.create(source="/tests", data=data), CONTACT_RECEIVED))

    # First-contact resolution: phone-1 (K1, Paspoort) is repeated by mail-3 (K1, Paspoort, 24 Dec); phone-2 (K2,
    # Afval) is not: mail-2 (K2) is about Paspoort; social-1 (K3, Parkeren, resolved 24 Dec 11:00) gets web-1 on
    # 31 Dec 12:00, one hour after its 7-day window; social-2 is anonymous (unlinkable); phone-3 was forwarded.
    routed("phone-1", Channel.TELEPHONE, "answer_in_kcc", "burgerzaken", at(12, 22, 10, 1), PASPOORT)
    routed("phone-2", Channel.TELEPHONE, "answer_in_kcc", "milieudienst", at(12, 22, 10, 1), AFVAL)
    routed("phone-3", Channel.TELEPHONE, "answer_in_kcc", "belastingen", at(12, 22, 10, 1))
    routed("social-1", Channel.SOCIAL, "answer_in_kcc", "kcc", at(12, 23, 12, 1), PARKEREN)
    routed("mail-2", Channel.EMAIL, "answer_in_kcc", "burgerzaken", at(12, 24, 10, 1), PASPOORT)
    routed("mail-3", Channel.EMAIL, "answer_in_kcc", "burgerzaken", at(12, 24, 10, 1), PASPOORT)
    received("web-1", Channel.WEB, at(12, 31, 12), citizen="K3")
    routed("web-1", Channel.WEB, "answer_in_kcc", "kcc", at(12, 31, 12, 1), PARKEREN)

    # Letters of Monday 21 Dec, acknowledgement due by the end of Tuesday 29 Dec (Tue 22, Wed 23, Thu 24, [Fri 25
    # Christmas, weekend], Mon 28, Tue 29): letter-1 on Mon 28 (met), letter-2 on Tue 29 (met only because
    # Christmas does not count), letter-3 on Wed 30 (missed).
    for name, moment in (("letter-1", at(12, 28, 10)), ("letter-2", at(12, 29, 15)), ("letter-3", at(12, 30, 9))):
        data = ContactAcknowledgedData(contact_id=f"{tag}-{name}", channel=Channel.LETTER, acknowledged_at=moment)
        events.append((ContactAcknowledged.create(source="/tests", data=data), CONTACT_ACKNOWLEDGED))

    # Hand-offs: letter-1 and letter-3 forwarded to vergunningen on Mon 21 09:30, due 31 Jan and 1 Feb (end of day);
    # letter-1 resolved 15 Jan (kept), letter-3 on 2 Feb (broken).
    routed("letter-1", Channel.LETTER, "forward_to_department", "vergunningen", at(12, 21, 9, 30),
           due=datetime.combine(at(1, 31, 0).date(), time(23, 59, 59), AMS))
    routed("letter-3", Channel.LETTER, "forward_to_department", "vergunningen", at(12, 21, 9, 30),
           due=datetime.combine(at(1, 1, 0).date().replace(month=2, day=1), time(23, 59, 59), AMS))
    # Warm transfers of calls 2 (transferred warm and announced: kept) and 4 (abandoned: broken).
    for n in (2, 4):
        received(f"call{n}-contact", Channel.TELEPHONE, at(12, 22, 10), message_id=f"{tag}-call-{n}")
        routed(f"call{n}-contact", Channel.TELEPHONE, "warm_transfer", "belastingen", at(12, 22, 10, 0))
    # Call-backs for sozawe booked Tue 22 Dec 10:15, deadline Wed 23 Dec 17:00: cb-1 completed Wed 11:00 (kept),
    # cb-2 completed Thu 24 09:00 (late), cb-3 failed; cb-4 (no hand-off) cancelled.
    deadline = at(12, 23, 17)
    for n in (1, 2, 3):
        received(f"cb-phone-{n}", Channel.TELEPHONE, at(12, 22, 10))
        routed(f"cb-phone-{n}", Channel.TELEPHONE, "callback", "sozawe", at(12, 22, 10, 10), due=deadline)
    for n in (1, 2, 3, 4):
        contact_id = f"{tag}-cb-phone-{n}" if n < 4 else f"{tag}-loose-1"
        booked = at(12, 22, 10, 15)
        data = CallbackScheduledData(callback_id=f"{tag}-cb-{n}", contact_id=contact_id, department_id="sozawe",
                                     slot_start=booked, slot_end=booked, deadline=deadline)
        events.append((CallbackScheduled.create(source="/tests", data=data, time=booked), CALLBACK_SCHEDULED))
    for n, done in ((1, at(12, 23, 11)), (2, at(12, 24, 9))):
        data = CallbackCompletedData(callback_id=f"{tag}-cb-{n}", contact_id=f"{tag}-cb-phone-{n}", department_id="sozawe",
                                     completed_at=done, completed_by="m-1", deadline=deadline, within_deadline=done <= deadline, attempts=1)
        events.append((CallbackCompleted.create(source="/tests", data=data, time=done), CALLBACK_COMPLETED))
    failed = CallbackFailedData(callback_id=f"{tag}-cb-3", contact_id=f"{tag}-cb-phone-3", department_id="sozawe",
                                failed_at=at(12, 23, 16), reason="max_attempts", attempts=3)
    events.append((CallbackFailed.create(source="/tests", data=failed, time=at(12, 23, 16)), CALLBACK_FAILED))
    cancelled = CallbackCancelledData(callback_id=f"{tag}-cb-4", department_id="sozawe", cancelled_at=at(12, 22, 11), cancelled_by="kcc")
    events.append((CallbackCancelled.create(source="/tests", data=cancelled, time=at(12, 22, 11)), CALLBACK_CANCELLED))

    # Counter on Tue 22 Dec from 09:00: walk-ins wait 3, 12 and 20 min, one leaves uncalled after 25; with an
    # appointment 4 and 7 min.
    for ticket, stage, minute, appointment in (
        ("A1", "drawn", 0, None), ("A1", "called", 3, None), ("A2", "drawn", 0, None), ("A2", "called", 12, None),
        ("A3", "drawn", 0, None), ("A3", "called", 20, None), ("A4", "drawn", 0, None), ("A4", "left", 25, None),
        ("B1", "drawn", 10, "ap-1"), ("B1", "called", 14, "ap-1"), ("B2", "drawn", 10, "ap-2"), ("B2", "called", 17, "ap-2"),
    ):
        data = CounterVisitData(ticket_id=f"{tag}-{ticket}", location="stadsbalie", stage=stage,
                                at=at(12, 22, 9) + timedelta(minutes=minute), appointment_id=appointment and f"{tag}-{appointment}")
        events.append((CounterVisit.create(source="/tests", data=data), COUNTER_EVENTS))
    # The planner: ap-1 and ap-2 planned at 09:10 (when their visitors drew a ticket) and served; ap-3 at
    # 09:30, a no-show. Kept: 2 of 3.
    for appointment, planned, outcome, done in (("ap-1", 10, "served", 20), ("ap-2", 10, "served", 25), ("ap-3", 30, "no_show", 45)):
        for status, moment in (("booked", at(12, 15, 10)), (outcome, at(12, 22, 9) + timedelta(minutes=done))):
            data = CounterAppointmentData(appointment_id=f"{tag}-{appointment}", location="stadsbalie", status=status,
                                          scheduled_for=at(12, 22, 9) + timedelta(minutes=planned), at=moment)
            events.append((CounterAppointment.create(source="/tests", data=data), COUNTER_EVENTS))
    received("counter-1", Channel.COUNTER, at(12, 22, 9))
    received("counter-2", Channel.COUNTER, at(12, 22, 9))

    # Survey answers (rapportcijfers): phone-1 8 (and a later 3 that does not count: the first answer does),
    # phone-2 6, social-1 9, counter-1 8, counter-2 7.
    for name, score, moment in (("phone-1", 8, at(12, 22, 12)), ("phone-1", 3, at(12, 22, 13)), ("phone-2", 6, at(12, 22, 12)),
                                ("social-1", 9, at(12, 24, 12)), ("counter-1", 8, at(12, 22, 10)), ("counter-2", 7, at(12, 22, 10))):
        data = SurveyAnsweredData(contact_id=f"{tag}-{name}", score=score, answered_at=moment)
        events.append((SurveyAnswered.create(source="/tests", data=data), SURVEY_ANSWERED))
    return events


# Over 21-24 December, threshold 20 s, asked after every deadline has passed:
EXPECTED = {
    ("telephone", "offered"): 5.0,
    ("telephone", "service_level_abandoned_short_met"): 3 / 5,  # (answered<=20: 10,20 + abandoned<=20: 5) / (3+2)
    ("telephone", "service_level_abandoned_short_excluded"): 2 / 4,  # 2 / (3 + 2 - 1)
    ("telephone", "average_speed_of_answer"): 20.0,  # (10 + 30 + 20) / 3
    ("telephone", "abandonment_rate"): 2 / 5,
    ("telephone", "average_handle_time"): 700 / 3,  # (250 + 150 + 300) / 3
    ("telephone", "transfers_per_call"): 4 / 3,  # (0 + 1 + 3) / 3 answered
    ("telephone", "max_transfers_per_call"): 3.0,  # call 5 had 3 (> 2: norm missed)
    ("email", "answered_in_time"): 1 / 3,
    ("letter", "answered_in_time"): 2 / 3,
    ("social", "answered_in_time"): 1 / 2,
    # Resolved 21-24 Dec (first resolution): social-1, social-2, phone-1, phone-2 in KCC; phone-3 forwarded.
    ("all", "resolved_in_kcc"): 4 / 5,
    ("letter", "acknowledged_in_time"): 2 / 3,  # letter-1 and letter-2 by Tue 29 Dec; letter-3 on Wed 30
    # First resolved in the period: phone-2, social-1 and social-2 (unlinkable) first time; phone-1 repeated; phone-3 not in KCC.
    ("all", "first_contact_resolution"): 3 / 5,
    ("counter", "waiting_within_norm_walk_in"): 2 / 4,  # 3 and 12 min of (3 called + 1 left)
    ("counter", "waiting_within_norm_appointment"): 1 / 2,  # 4 min of (4, 7)
    ("counter", "waiting_p50"): 7 * 60.0,  # waits 3, 4, 7, 12, 20 min: rank ceil(2.5) = 3 -> 7 min
    ("counter", "waiting_p90"): 20 * 60.0,  # rank ceil(4.5) = 5 -> 20 min
    ("counter", "appointments_kept"): 2 / 3,  # ap-1 and ap-2 served, ap-3 a no-show
    ("callback", "promises_kept"): 1 / 3,  # cb-1 kept; cb-2 late, cb-3 failed; cb-4 cancelled, left out
    # Hand-offs kept: cb-1, call 2's warm transfer, letter-1; broken: cb-2, cb-3, call 4 (abandoned), letter-3.
    ("handoff", "promises_kept_end_to_end"): 3 / 7,
    ("telephone", "satisfaction_average"): (8 + 6) / 2,
    ("social", "satisfaction_average"): 9.0,
    ("counter", "satisfaction_average"): (8 + 7) / 2,
    ("all", "satisfaction_average"): (8 + 6 + 9 + 8 + 7) / 5,
}
EXPECTED_MET = {
    ("telephone", "service_level_abandoned_short_met"): False,
    ("telephone", "abandonment_rate"): False,
    ("telephone", "max_transfers_per_call"): False,
    ("email", "answered_in_time"): False,
    ("letter", "answered_in_time"): False,
    ("social", "answered_in_time"): False,
    ("all", "resolved_in_kcc"): True,
    ("letter", "acknowledged_in_time"): False,
    ("all", "first_contact_resolution"): False,
    ("counter", "waiting_within_norm_walk_in"): False,
    ("counter", "waiting_within_norm_appointment"): False,
    ("callback", "promises_kept"): False,
    ("handoff", "promises_kept_end_to_end"): False,
    ("telephone", "satisfaction_average"): True,  # 7.0 >= 7.0
    ("social", "satisfaction_average"): True,
    ("counter", "satisfaction_average"): True,
    ("all", "satisfaction_average"): True,
}
# GET /v1/breakdown?by=department over 21-24 Dec: (received, resolved, answered_in_kcc, handed_off) per first-routed department.
EXPECTED_BY_DEPARTMENT = {
    "belastingen": (3, 1, 0, 2),  # phone-3 (forwarded), call 2 and call 4 contacts (warm transfers)
    "burgerzaken": (3, 2, 2, 0),  # phone-1, mail-2 (answered 30 Dec), mail-3 (never)
    "kcc": (1, 1, 1, 0),  # social-1
    "milieudienst": (1, 1, 1, 0),  # phone-2
    "sozawe": (3, 0, 0, 3),  # the three call-back contacts
    "unrouted": (5, 3, 2, 0),  # letter-2 (forwarded), counter-1, counter-2, social-2, mail-1
    "vergunningen": (2, 2, 0, 2),  # letter-1, letter-3
}
# GET /v1/channel-mix: 21 Dec 3 letters; 22 Dec 8 telephone + 2 counter; 23 Dec 2 social; 24 Dec 3 e-mail.
EXPECTED_MIX = {
    "day": {"21": {"letter": 3}, "22": {"counter": 2, "telephone": 8}, "23": {"social": 2}, "24": {"email": 3}},
    "total": {"counter": 2, "email": 3, "letter": 3, "social": 2, "telephone": 8},
}


@pytest.fixture
def christmas_scenario():
    """Build the scenario's events for a year and a run tag; compare with EXPECTED / EXPECTED_MET."""
    return scenario


@pytest.fixture
def christmas_expected():
    return EXPECTED, EXPECTED_MET


@pytest.fixture
def christmas_views():
    return EXPECTED_BY_DEPARTMENT, EXPECTED_MIX
