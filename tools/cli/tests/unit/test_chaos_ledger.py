"""The chaos ledger check: given what the simulator was told and what the platform holds, the
counts of lost, duplicated and wrong effects and the longest delay to routing."""

import json

from kcc_cli.chaos.ledger import Observed, Routed, SimLedger, Transfer, compare
from kcc_cli.sim.runner import handoff_key
from kcc_shared.contracts import derived_id

DAY = "2026-12-07"


def lines(*records: dict) -> list[str]:
    return [json.dumps(r) for r in records]


def accepted(contact_id: str, channel: str = "web", at: float = 100.0, duplicate: bool = False) -> dict:
    return {"kind": "accepted", "contact_id": contact_id, "channel": channel, "day": DAY, "at": at, "duplicate": duplicate}


def platform_holding(*contacts: tuple[str, str], routed_after: float = 101.0) -> Observed:
    """Each contact received once (event id `r-<contact>`) and routed once on arrival, counted by metrics."""
    seen = Observed()
    for contact_id, channel in contacts:
        seen.received[contact_id] = {f"r-{contact_id}": channel}
        seen.received_day[contact_id] = DAY
        seen.routed.append(Routed(derived_id(f"r-{contact_id}", "routed"), contact_id, "answer_in_kcc", routed_after))
        seen.metrics_received[(DAY, channel)] = seen.metrics_received.get((DAY, channel), 0) + 1
    return seen


def test_everything_once_is_clean_with_the_delay_from_acceptance_to_the_routed_record():
    ledger = SimLedger.from_lines(lines(accepted("c1", at=100.0), accepted("c2", "email", at=100.5)))
    verdict = compare(ledger, platform_holding(("c1", "web"), ("c2", "email"), routed_after=112.5))
    assert (verdict.accepted, verdict.lost, verdict.duplicated, verdict.wrong) == (2, 0, 0, 0)
    assert verdict.max_delay_s == 12.5
    assert verdict.line() == "chaos: accepted 2, lost 0, duplicated 0, wrong 0, max delay 12.5 s"
    assert verdict.passed()


def test_a_retried_request_answered_duplicate_is_one_contact():
    ledger = SimLedger.from_lines(lines(accepted("c1", at=100.0), accepted("c1", at=104.0, duplicate=True)))
    verdict = compare(ledger, platform_holding(("c1", "web")))
    assert (verdict.accepted, verdict.lost, verdict.duplicated, verdict.wrong) == (1, 0, 0, 0)
    assert verdict.max_delay_s == 1.0  # from the first answer


def test_a_contact_never_published_is_lost_once_and_metrics_short_by_it_is_not_also_wrong():
    ledger = SimLedger.from_lines(lines(accepted("c1"), accepted("c2")))
    seen = platform_holding(("c1", "web"))
    verdict = compare(ledger, seen)
    assert (verdict.lost, verdict.duplicated, verdict.wrong) == (1, 0, 0)
    assert not verdict.passed()
    assert "c2" in verdict.findings[0]


def test_a_contact_received_but_never_routed_is_lost():
    ledger = SimLedger.from_lines(lines(accepted("c1")))
    seen = platform_holding(("c1", "web"))
    seen.routed.clear()
    assert compare(ledger, seen).lost == 1


def test_redelivered_records_with_the_same_event_id_are_no_duplicate():
    ledger = SimLedger.from_lines(lines(accepted("c1")))
    seen = platform_holding(("c1", "web"))
    seen.routed.append(seen.routed[0])  # the same decision event published twice (at least once)
    assert compare(ledger, seen).duplicated == 0


def test_two_receipts_of_one_contact_are_one_duplicate_even_when_both_are_routed():
    ledger = SimLedger.from_lines(lines(accepted("c1")))
    seen = platform_holding(("c1", "web"))
    seen.received["c1"]["r-c1-again"] = "web"
    seen.routed.append(Routed(derived_id("r-c1-again", "routed"), "c1", "answer_in_kcc", 102.0))
    verdict = compare(ledger, seen)
    assert verdict.duplicated == 1


def test_a_decision_nobody_asked_for_is_a_duplicate_effect():
    ledger = SimLedger.from_lines(lines(accepted("c1")))
    seen = platform_holding(("c1", "web"))
    seen.routed.append(Routed("some-other-decision", "c1", "callback", 130.0))
    assert compare(ledger, seen).duplicated == 1


def test_a_hand_off_whose_answer_was_lost_is_no_duplicate():
    ledger = SimLedger.from_lines(lines(accepted("c1")))
    seen = platform_holding(("c1", "web"))
    seen.routed.append(Routed(Transfer("c1", handoff_key("c1"), "").event_id, "c1", "forward_to_department", 130.0))
    assert compare(ledger, seen).duplicated == 0


def test_a_call_back_hand_off_needs_its_decision_and_exactly_one_booking():
    transfer = {"kind": "transfer", "contact_id": "c1", "key": handoff_key("c1"), "decision": "callback", "at": 120.0}
    ledger = SimLedger.from_lines(lines(accepted("c1"), transfer))
    [asked] = ledger.transfers
    seen = platform_holding(("c1", "web"))
    assert compare(ledger, seen).lost == 2  # neither the decision nor the booking

    seen.routed.append(Routed(asked.event_id, "c1", "callback", 121.0))
    assert compare(ledger, seen).lost == 1  # no booking
    seen.bookings[asked.callback_id] = {"s1"}
    assert (compare(ledger, seen).lost, compare(ledger, seen).duplicated) == (0, 0)
    seen.bookings[asked.callback_id] = {"s1", "s2"}
    assert compare(ledger, seen).duplicated == 1


def test_a_hand_off_published_with_another_decision_is_wrong():
    transfer = {"kind": "transfer", "contact_id": "c1", "key": handoff_key("c1"), "decision": "warm_transfer", "at": 120.0}
    ledger = SimLedger.from_lines(lines(accepted("c1"), transfer))
    seen = platform_holding(("c1", "web"))
    seen.routed.append(Routed(ledger.transfers[0].event_id, "c1", "forward_to_department", 121.0))
    assert compare(ledger, seen).wrong == 1


def test_resolutions_once_with_the_outcome_told():
    resolved = {"kind": "resolved", "contact_id": "c1", "outcome": "answered_in_kcc", "at": 150.0}
    ledger = SimLedger.from_lines(lines(accepted("c1"), resolved))
    seen = platform_holding(("c1", "web"))
    assert compare(ledger, seen).lost == 1
    seen.resolved["c1"] = {"e1": "answered_in_kcc"}
    assert compare(ledger, seen).passed()
    seen.resolved["c1"]["e2"] = "answered_in_kcc"
    assert compare(ledger, seen).duplicated == 1
    seen.resolved["c1"] = {"e1": "forwarded"}
    assert compare(ledger, seen).wrong == 1


def test_metrics_counting_other_figures_than_the_ledger_is_wrong_by_the_difference():
    ledger = SimLedger.from_lines(lines(accepted("c1"), accepted("c2")))
    seen = platform_holding(("c1", "web"), ("c2", "web"))
    seen.metrics_received[(DAY, "web")] = 5
    assert compare(ledger, seen).wrong == 3
    seen.metrics_received[(DAY, "web")] = 1
    assert compare(ledger, seen).wrong == 1


def test_a_contact_accepted_whose_answer_never_arrived_is_expected_in_metrics_not_lost():
    ledger = SimLedger.from_lines(lines(accepted("c1")))
    seen = platform_holding(("c1", "web"), ("c9", "web"))
    verdict = compare(ledger, seen)
    assert (verdict.lost, verdict.wrong, verdict.unknown) == (0, 0, 1)


def test_a_contact_published_on_another_channel_is_wrong():
    ledger = SimLedger.from_lines(lines(accepted("c1", "letter")))
    seen = platform_holding(("c1", "web"))
    verdict = compare(ledger, seen)
    assert verdict.wrong >= 1


def test_thirty_seconds_to_routing_fails_the_run():
    ledger = SimLedger.from_lines(lines(accepted("c1", at=100.0)))
    verdict = compare(ledger, platform_holding(("c1", "web"), routed_after=130.0))
    assert verdict.max_delay_s == 30.0
    assert not verdict.passed(max_delay_s=30.0)


def test_the_report_lists_what_happened_and_ends_with_the_one_line(tmp_path):
    from kcc_cli.chaos.timeline import Timeline, report

    timeline = Timeline()
    timeline.note("kill -9 routing-1 (pid 42)")
    timeline.kills["routing"] += 1
    verdict = compare(SimLedger.from_lines(lines(accepted("c1"))), platform_holding(("c1", "web")))
    text = report(timeline, verdict, [], duration_s=600, logs=tmp_path, ledger=tmp_path / "ledger.jsonl")
    assert "kill -9 routing-1 (pid 42)" in text
    assert "Kills per service: intake 0, routing 1, callback 0, metrics 0" in text
    assert text.splitlines()[-1] == "chaos: accepted 1, lost 0, duplicated 0, wrong 0, max delay 1.0 s"
