"""A scripted week around Christmas 2026 (Friday 25 December) with hand-computed KPIs.

Shared by the unit test (fake store) and the integration test (real broker and store)."""

from datetime import datetime, time, timedelta

import pytest
from zoneinfo import ZoneInfo

from kcc_shared.contracts import (
    CALL_EVENTS,
    CONTACT_RECEIVED,
    CONTACT_RESOLVED,
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

    def contact(name: str, channel: Channel, received: datetime, answers: list[tuple[datetime, str]], **due) -> None:
        contact_id = f"{tag}-{name}"
        events.append((ContactReceived.create(source="/tests", data=ContactReceivedData(contact_id=contact_id, channel=channel, received_at=received, **due)), CONTACT_RECEIVED))
        for resolved_at, outcome in answers:
            events.append((ContactResolved.create(source="/tests", data=ContactResolvedData(contact_id=contact_id, channel=channel, outcome=outcome, resolved_at=resolved_at)), CONTACT_RESOLVED))

    # E-mails on Thursday 24 Dec: Friday 25 is Christmas, then a weekend; due by the end of Tuesday 29 Dec.
    contact("mail-1", Channel.EMAIL, at(12, 24, 10), [(at(12, 29, 16), "answered_in_kcc")])  # met
    contact("mail-2", Channel.EMAIL, at(12, 24, 10), [(at(12, 30, 9), "answered_in_kcc")])  # missed
    contact("mail-3", Channel.EMAIL, at(12, 24, 10), [])  # never answered: missed once due
    # Letters on Monday 21 Dec: one with a due date from intake, one without (6 weeks: 1 February).
    due = datetime.combine(at(1, 31, 0).date(), time(23, 59, 59), AMS)
    contact("letter-1", Channel.LETTER, at(12, 21, 9), [(at(1, 15, 11), "forwarded")], answer_due_at=due)  # met
    contact("letter-2", Channel.LETTER, at(12, 21, 9), [(at(1, 2, 12), "forwarded")])  # met (2 Jan < 1 Feb)
    contact("letter-3", Channel.LETTER, at(12, 21, 9), [(datetime(year + 1, 2, 2, 9, tzinfo=AMS), "forwarded")])  # missed
    # Social on Wednesday 23 Dec 12:00: due 24 h later.
    contact("social-1", Channel.SOCIAL, at(12, 23, 12), [(at(12, 24, 11), "answered_in_kcc"), (at(12, 28, 9), "forwarded")])
    contact("social-2", Channel.SOCIAL, at(12, 23, 12), [(at(12, 24, 13), "answered_in_kcc")])
    # Telephone contacts resolved on Tuesday 22 Dec.
    contact("phone-1", Channel.TELEPHONE, at(12, 22, 10), [(at(12, 22, 10, 5), "answered_in_kcc")])
    contact("phone-2", Channel.TELEPHONE, at(12, 22, 10), [(at(12, 22, 10, 5), "answered_in_kcc")])
    contact("phone-3", Channel.TELEPHONE, at(12, 22, 10), [(at(12, 22, 10, 5), "forwarded")])
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
    # No counter visits in this week's scenario: nothing to measure.
    ("counter", "waiting_within_norm_walk_in"): None,
    ("counter", "waiting_within_norm_appointment"): None,
    ("counter", "waiting_p50"): None,
    ("counter", "waiting_p90"): None,
    ("callback", "promises_kept"): None,
}
EXPECTED_MET = {
    ("telephone", "service_level_abandoned_short_met"): False,
    ("telephone", "abandonment_rate"): False,
    ("telephone", "max_transfers_per_call"): False,
    ("email", "answered_in_time"): False,
    ("letter", "answered_in_time"): False,
    ("social", "answered_in_time"): False,
    ("all", "resolved_in_kcc"): True,
}


@pytest.fixture
def christmas_scenario():
    """Build the scenario's events for a year and a run tag; compare with EXPECTED / EXPECTED_MET."""
    return scenario


@pytest.fixture
def christmas_expected():
    return EXPECTED, EXPECTED_MET
