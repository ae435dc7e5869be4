"""The telephone read model's pure part: which interval a call counts in, and counters that do
not depend on the order, batching or repetition of its events."""

import random
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from kcc_metrics.calls import documents, interval_start, interval_totals, summed, waiting
from kcc_metrics.norms import NormSettings

AMS = ZoneInfo("Europe/Amsterdam")


def test_a_call_counts_in_the_local_quarter_hour_of_its_offer_also_in_the_hour_dst_repeats():
    assert interval_start(datetime(2026, 12, 22, 9, 14, 59, tzinfo=UTC), AMS).isoformat() == "2026-12-22T10:00:00+01:00"
    assert interval_start(datetime(2026, 12, 22, 9, 15, tzinfo=UTC), AMS).isoformat() == "2026-12-22T10:15:00+01:00"
    # 25 October 2026: 02:00-03:00 local happens twice (summer time, then winter time): two intervals.
    summer = interval_start(datetime(2026, 10, 25, 0, 20, tzinfo=UTC), AMS).isoformat(timespec="minutes")
    winter = interval_start(datetime(2026, 10, 25, 1, 20, tzinfo=UTC), AMS).isoformat(timespec="minutes")
    assert (summer, winter) == ("2026-10-25T02:15+02:00", "2026-10-25T02:15+01:00")


def fact(n: int, call: str, event: str, at: datetime, **fields) -> dict:
    return {"_id": f"e{n}", "kind": "call", "call_id": call, "event": event, "at": at, "day": at.astimezone(AMS).date().isoformat(), **fields}


def test_counters_are_the_same_for_any_order_and_redelivery_and_a_call_waits_until_answered():
    at = datetime(2026, 12, 22, 10, 5, tzinfo=AMS)
    facts = [
        fact(1, "a", "offered", at, service_line="belastingen"),
        fact(2, "a", "answered", at + timedelta(seconds=25), wait_s=25),
        fact(3, "a", "transferred", at + timedelta(seconds=30), warm=True, announced=True),
        fact(4, "a", "transferred", at + timedelta(seconds=40), warm=True, announced=True),
        fact(5, "a", "transferred", at + timedelta(seconds=50), warm=False, announced=False),
        fact(6, "a", "ended", at + timedelta(minutes=5), talk_s=240, hold_s=20, wrap_up_s=40),
        fact(7, "b", "offered", at + timedelta(minutes=9)),
        fact(8, "b", "abandoned", at + timedelta(minutes=9, seconds=12), wait_s=12),
        fact(9, "c", "answered", at, wait_s=3),  # its offer has not arrived: not counted yet
        fact(10, "d", "offered", at + timedelta(minutes=10)),  # 10:15: the next interval, still waiting
    ]
    norms = NormSettings()
    expected = interval_totals(documents(facts, tz=AMS), norms=norms)
    shuffled = facts * 3
    random.Random(7).shuffle(shuffled)
    assert interval_totals(documents(shuffled, tz=AMS), norms=norms) == expected

    quarter = expected[("2026-12-22T10:00+01:00", "belastingen")]
    assert (quarter["offered"], quarter["answered"], quarter["answered_within"], quarter["wait_s_total"]) == (1, 1, 0, 25)
    assert (quarter["ended"], quarter["handle_s_total"], quarter["transfers"], quarter["max_transfers"]) == (1, 300, 3, 3)
    assert quarter["calls_over_limit"] == 1
    walk_in = expected[("2026-12-22T10:00+01:00", "algemeen")]
    assert (walk_in["offered"], walk_in["abandoned"], walk_in["abandoned_within"], walk_in["max_transfers"]) == (1, 1, 1, None)
    assert summed(expected.values())["offered"] == 3
    assert {c["_id"]: waiting(c) for c in documents(facts, tz=AMS)} == {"a": False, "b": False, "c": False, "d": True}
