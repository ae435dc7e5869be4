"""The chaos ledger check: what the simulator was told against what the platform holds.

Pure functions over plain data, so every rule below has a unit test. "Duplicated" means a
second *effect* (two different event ids for one arrival's decision, two bookings for one
call-back request, two resolutions of one contact), never a redelivered record with the same
event id: at-least-once delivery de-duplicated on the event id is the platform's contract.
"""

import json
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from kcc_cli.sim.runner import handoff_key
from kcc_shared.contracts import derived_id


@dataclass(frozen=True)
class Accepted:
    contact_id: str
    channel: str
    day: str
    at: float  # wall clock (s) when the simulator got the first 202 naming this contact


@dataclass(frozen=True)
class Transfer:
    contact_id: str
    key: str  # the Idempotency-Key the simulator sent
    decision: str

    @property
    def event_id(self) -> str:
        """Routing's decision event id for a transfer with this key (see RoutingService.transfer)."""
        return derived_id(self.contact_id, f"transfer/{self.key}")

    @property
    def callback_id(self) -> str:
        return derived_id(self.event_id, "callback")


@dataclass
class SimLedger:
    """What the simulator sent and was told (its `--ledger` JSON lines)."""

    accepted: dict[str, Accepted] = field(default_factory=dict)
    transfers: list[Transfer] = field(default_factory=list)
    resolved: dict[str, str] = field(default_factory=dict)  # contact id -> outcome told

    @classmethod
    def from_lines(cls, lines: Iterable[str]) -> "SimLedger":
        ledger = cls()
        for line in lines:
            if not line.strip():
                continue
            record = json.loads(line)
            kind = record["kind"]
            if kind == "accepted" and record["contact_id"] not in ledger.accepted:
                ledger.accepted[record["contact_id"]] = Accepted(record["contact_id"], record["channel"], record["day"], record["at"])
            elif kind == "transfer":
                ledger.transfers.append(Transfer(record["contact_id"], record["key"], record["decision"]))
            elif kind == "resolved":
                ledger.resolved[record["contact_id"]] = record["outcome"]
        return ledger


@dataclass(frozen=True)
class Routed:
    event_id: str
    contact_id: str
    decision: str
    published_at: float  # the record's timestamp on kcc.contact.routed.v1 (s)


@dataclass
class Observed:
    """What the platform holds, read from the topics and the metrics API after settling."""

    received: dict[str, dict[str, str]] = field(default_factory=dict)  # contact id -> {event id: channel}
    received_day: dict[str, str] = field(default_factory=dict)  # contact id -> local day metrics counts it on
    routed: list[Routed] = field(default_factory=list)
    resolved: dict[str, dict[str, str]] = field(default_factory=dict)  # contact id -> {event id: outcome}
    bookings: dict[str, set[str]] = field(default_factory=dict)  # call-back id -> first-booking event ids (scheduled, not rescheduled)
    metrics_received: dict[tuple[str, str], int] = field(default_factory=dict)  # (day, channel) -> metrics' count


@dataclass
class Verdict:
    accepted: int = 0
    lost: int = 0
    duplicated: int = 0
    wrong: int = 0
    max_delay_s: float = 0.0
    unknown: int = 0  # contacts on the topic the simulator was never told of (an answer lost on the way)
    delays: list[tuple[float, float, str]] = field(default_factory=list)  # (delay s, accepted at, contact id) per routed contact
    findings: list[str] = field(default_factory=list)

    def line(self) -> str:
        return (f"chaos: accepted {self.accepted}, lost {self.lost}, duplicated {self.duplicated}, "
                f"wrong {self.wrong}, max delay {self.max_delay_s:.1f} s")

    def passed(self, *, max_delay_s: float = 30.0) -> bool:
        return self.lost == 0 and self.duplicated == 0 and self.wrong == 0 and self.max_delay_s < max_delay_s


def compare(ledger: SimLedger, observed: Observed) -> Verdict:
    """Every accepted contact routed once on arrival, every hand-off decided once, every call-back
    request booked once, every resolution announced once, and metrics' counts equal to the ledger."""
    verdict = Verdict(accepted=len(ledger.accepted))
    routed_by_contact: dict[str, dict[str, Routed]] = defaultdict(dict)
    for record in observed.routed:
        routed_by_contact[record.contact_id].setdefault(record.event_id, record)
    lost_unreceived: Counter = Counter()
    for contact in ledger.accepted.values():
        _check_arrival(contact, observed, routed_by_contact[contact.contact_id], verdict, lost_unreceived)
    for transfer in ledger.transfers:
        _check_transfer(transfer, routed_by_contact[transfer.contact_id], observed, verdict)
    _check_unasked_decisions(ledger, observed, routed_by_contact, verdict)
    for contact_id, outcome in ledger.resolved.items():
        _check_resolution(contact_id, outcome, observed, verdict)
    _check_metrics(ledger, observed, lost_unreceived, verdict)
    return verdict


def _check_arrival(contact: Accepted, observed: Observed, decisions: dict[str, Routed], verdict: Verdict, lost_unreceived: Counter) -> None:
    received = observed.received.get(contact.contact_id, {})
    if not received:
        verdict.lost += 1
        lost_unreceived[(contact.day, contact.channel)] += 1
        verdict.findings.append(f"lost: contact {contact.contact_id} ({contact.channel}) accepted but never on kcc.contact.received.v1")
        return
    if len(received) > 1:
        verdict.duplicated += 1
        verdict.findings.append(f"duplicated: contact {contact.contact_id} published as {len(received)} different events {sorted(received)}")
    if any(channel != contact.channel for channel in received.values()):
        verdict.wrong += 1
        verdict.findings.append(f"wrong: contact {contact.contact_id} accepted on {contact.channel}, published as {sorted(set(received.values()))}")
    arrival_ids = {derived_id(event_id, "routed") for event_id in received}
    arrivals = [decisions[event_id] for event_id in arrival_ids if event_id in decisions]
    if not arrivals:
        verdict.lost += 1
        verdict.findings.append(f"lost: contact {contact.contact_id} ({contact.channel}) received but never routed")
        return
    if len(arrivals) > 1 and len(received) == 1:  # (two receipts were counted above already)
        verdict.duplicated += 1
        verdict.findings.append(f"duplicated: contact {contact.contact_id} routed {len(arrivals)} times on arrival")
    delay = max(0.0, min(a.published_at for a in arrivals) - contact.at)
    verdict.max_delay_s = max(verdict.max_delay_s, delay)
    verdict.delays.append((delay, contact.at, contact.contact_id))


def _check_transfer(transfer: Transfer, decisions: dict[str, Routed], observed: Observed, verdict: Verdict) -> None:
    decided = decisions.get(transfer.event_id)
    if decided is None:
        verdict.lost += 1
        verdict.findings.append(f"lost: hand-off of {transfer.contact_id} answered {transfer.decision} but no decision {transfer.event_id} on the topic")
    elif decided.decision != transfer.decision:
        verdict.wrong += 1
        verdict.findings.append(f"wrong: hand-off of {transfer.contact_id} answered {transfer.decision}, published {decided.decision}")
    if transfer.decision != "callback":
        return
    # The answer promised a call-back: it is owed whatever became of the decision's event.
    bookings = observed.bookings.get(transfer.callback_id, set())
    if not bookings:
        verdict.lost += 1
        verdict.findings.append(f"lost: call-back {transfer.callback_id} (contact {transfer.contact_id}) requested but never booked")
    elif len(bookings) > 1:
        verdict.duplicated += 1
        verdict.findings.append(f"duplicated: call-back {transfer.callback_id} booked {len(bookings)} times {sorted(bookings)}")


def _check_unasked_decisions(ledger: SimLedger, observed: Observed, routed_by_contact: dict[str, dict[str, Routed]], verdict: Verdict) -> None:
    """A decision that is neither an arrival's nor a hand-off the simulator was answered is a
    second effect of some request (e.g. a transfer retried without its key)."""
    asked = {transfer.event_id for transfer in ledger.transfers}
    for contact_id in ledger.accepted:
        # A hand-off whose answer never reached the simulator still carries its key.
        asked.add(Transfer(contact_id, handoff_key(contact_id), "").event_id)
        arrival_ids = {derived_id(event_id, "routed") for event_id in observed.received.get(contact_id, {})}
        for event_id, record in routed_by_contact.get(contact_id, {}).items():
            if event_id not in arrival_ids and event_id not in asked:
                verdict.duplicated += 1
                verdict.findings.append(f"duplicated: contact {contact_id} has a decision nobody was answered ({record.decision}, {event_id})")


def _check_resolution(contact_id: str, outcome: str, observed: Observed, verdict: Verdict) -> None:
    announced = observed.resolved.get(contact_id, {})
    if not announced:
        verdict.lost += 1
        verdict.findings.append(f"lost: resolution of {contact_id} answered 200 but never on kcc.contact.resolved.v1")
        return
    if len(announced) > 1:
        verdict.duplicated += 1
        verdict.findings.append(f"duplicated: contact {contact_id} resolved {len(announced)} times {sorted(announced)}")
    if any(told != outcome for told in announced.values()):
        verdict.wrong += 1
        verdict.findings.append(f"wrong: contact {contact_id} resolved as {outcome}, published {sorted(set(announced.values()))}")


def _check_metrics(ledger: SimLedger, observed: Observed, lost_unreceived: Counter, verdict: Verdict) -> None:
    """Metrics must count per day and channel what the simulator was told, plus the contacts the
    platform accepted whose answer never reached the simulator, minus those already counted lost
    (so one loss is not also counted as a wrong figure)."""
    expected: Counter = Counter()
    for contact in ledger.accepted.values():
        expected[(contact.day, contact.channel)] += 1
    for contact_id, events in observed.received.items():
        if contact_id not in ledger.accepted:
            verdict.unknown += 1
            channel = next(iter(events.values()))
            expected[(observed.received_day.get(contact_id, "?"), channel)] += 1
    expected.subtract(lost_unreceived)
    for key in sorted(set(expected) | set(observed.metrics_received)):
        want, have = expected.get(key, 0), observed.metrics_received.get(key, 0)
        if want != have:
            verdict.wrong += abs(want - have)
            verdict.findings.append(f"wrong: metrics counts {have} {key[1]} contacts on {key[0]}, the ledger {want}")


def summarise(observed: Observed) -> dict[str, Any]:
    """Sizes of what was read, for the report."""
    return {
        "received": len(observed.received), "routed": len(observed.routed), "resolved": len(observed.resolved),
        "bookings": len(observed.bookings), "metrics": sum(observed.metrics_received.values()),
    }
