"""Promises kept end to end across the front-office/back-office hand-off.

A hand-off is a contact routing gave to a department: `warm_transfer`, `callback` or
`forward_to_department`. It belongs to the period of its first hand-off decision, and the
promise made there is kept when:
- callback: the call-back was completed (callback.completed's completed_at) by the deadline of
  its first booking (else routing's due_at); failed, late, or open past the deadline is broken;
  cancelled (no longer needed) is left out;
- warm_transfer: the call shows a warm, announced transfer (call.transferred); a call that
  ended or was abandoned without one, or was transferred cold, is broken;
- forward_to_department: the contact was resolved (contact.resolved after the hand-off, as the
  back-office reports it) by routing's due_at; resolved late, or unresolved past due_at, is broken.
Anything not yet decided is pending and left out."""

from collections import defaultdict
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from kcc_metrics.kpis.written import _aware
from kcc_metrics.models import Kpi, Norm, judged, ratio
from kcc_metrics.norms import NORM_SOURCES, NormSettings
from kcc_metrics.kpis.now import Now, as_now

HANDOFFS = ("warm_transfer", "callback", "forward_to_department")


def first_handoffs(routed: Iterable[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """contact id -> its first hand-off decision (by routed_at, ties by decision)."""
    first: dict[str, dict[str, Any]] = {}
    for fact in routed:
        if fact["decision"] not in HANDOFFS or not fact.get("routed_at"):
            continue
        held = first.get(fact["contact_id"])
        if held is None or (_aware(fact["routed_at"]), fact["decision"]) < (_aware(held["routed_at"]), held["decision"]):
            first[fact["contact_id"]] = fact
    return first


def _earliest(facts: Iterable[dict[str, Any]], field: str) -> dict[str, Any] | None:
    return min(facts, key=lambda f: (_aware(f[field]), str(f.get("_id", ""))), default=None)


def _callback(handoff: dict[str, Any], callbacks: list[dict[str, Any]], now: Now) -> str:
    by_event: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for fact in callbacks:
        by_event[fact["event"]].append(fact)
    booked = _earliest(by_event["scheduled"], "at")
    due = _aware(booked["deadline"]) if booked else (_aware(handoff["due_at"]) if handoff.get("due_at") else None)
    done = _earliest(by_event["completed"], "at")
    if done is not None:
        return "kept" if due is None or _aware(done["at"]) <= due else "broken"
    if by_event["failed"]:
        return "broken"
    if by_event["cancelled"]:
        return "cancelled"
    return "broken" if due is not None and now.past(due) else "pending"


def _warm_transfer(calls: list[dict[str, Any]]) -> str:
    transfers = [f for f in calls if f["event"] == "transferred"]
    if any(f.get("warm") and f.get("announced") for f in transfers):
        return "kept"
    if transfers or any(f["event"] in ("ended", "abandoned") for f in calls):
        return "broken"
    return "pending"


def _forward(handoff: dict[str, Any], resolved: list[dict[str, Any]], now: Now) -> str:
    after = [f for f in resolved if _aware(f["resolved_at"]) > _aware(handoff["routed_at"])]
    due = _aware(handoff["due_at"]) if handoff.get("due_at") else None
    done = _earliest(after, "resolved_at")
    if done is not None:
        return "kept" if due is None or _aware(done["resolved_at"]) <= due else "broken"
    return "broken" if due is not None and now.past(due) else "pending"


def handoff_kpi(
    handoffs: Mapping[str, dict[str, Any]], *, callbacks: Iterable[dict[str, Any]], resolved: Iterable[dict[str, Any]],
    calls: Mapping[str, list[dict[str, Any]]], norms: NormSettings, now: datetime | Now,
) -> Kpi:
    """`handoffs`: contact id -> first hand-off fact; `calls`: contact id -> its call's facts."""
    now = as_now(now)
    callbacks_of, resolved_of = defaultdict(list), defaultdict(list)
    for fact in callbacks:
        callbacks_of[fact.get("contact_id")].append(fact)
    for fact in resolved:
        resolved_of[fact["contact_id"]].append(fact)
    counts: dict[str, float] = {f"{kind}_{status}": 0 for kind in HANDOFFS for status in ("kept", "broken", "pending")}
    counts["callback_cancelled"] = 0
    for contact_id, handoff in handoffs.items():
        kind = handoff["decision"]
        if kind == "callback":
            status = _callback(handoff, callbacks_of[contact_id], now)
        elif kind == "warm_transfer":
            status = _warm_transfer(calls.get(contact_id, []))
        else:
            status = _forward(handoff, resolved_of[contact_id], now)
        counts[f"{kind}_{status}"] += 1
    kept = sum(counts[f"{k}_kept"] for k in HANDOFFS)
    broken = sum(counts[f"{k}_broken"] for k in HANDOFFS)
    return judged(
        name="promises_kept_end_to_end", channel="handoff", unit="share", value=ratio(kept, kept + broken),
        norm=Norm(target=norms.handoff_share, comparison=">=", source=NORM_SOURCES["handoff"]),
        counts={"handoffs": len(handoffs), "kept": kept, "broken": broken, **counts},
        definition="Contacts handed to a department (first warm_transfer, callback or forward_to_department decision, by its "
        "local day) whose promise was kept: call-back completed by the first booking's deadline; warm, announced transfer "
        "on the call; forwarded contact resolved by routing's due_at / hand-offs kept + broken (pending and cancelled "
        "call-backs left out).",
    )
