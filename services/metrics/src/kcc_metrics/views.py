"""Counts for steering rather than norms: the channel mix over time (kanaalsturing) and
breakdowns of contacts by day, hour, department or UPL product. Pure functions over facts."""

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any, Literal
from zoneinfo import ZoneInfo

from kcc_metrics.kpis.resolution import first_resolutions
from kcc_metrics.kpis.written import _aware

MIX_DEFINITION = (
    "Contacts received (contact.received) per channel in each local day or ISO week (Europe/Amsterdam), and each "
    "channel's share of that period's total."
)
BREAKDOWN_DEFINITION = (
    "Contacts received in the period grouped by local day, local hour of receipt, or the department / UPL product of "
    "their first routing decision ('unrouted' without one); `resolved` of them have a resolution, `answered_in_kcc` "
    "were first resolved by the KCC itself, `handed_off` went to a department."
)


def period_key(moment: datetime, by: Literal["day", "week"], tz: ZoneInfo) -> str:
    local = _aware(moment).astimezone(tz).date()
    if by == "day":
        return local.isoformat()
    year, week, _ = local.isocalendar()
    return f"{year}-W{week:02d}"


def mix_row(period: str, channels: Counter[str]) -> dict[str, Any]:
    counts, total = dict(sorted(channels.items())), sum(channels.values())
    return {"period": period, "total": total, "counts": counts, "shares": {c: n / total for c, n in counts.items()}}


def channel_mix(received: Iterable[dict[str, Any]], *, by: Literal["day", "week"], tz: ZoneInfo) -> list[dict[str, Any]]:
    periods: dict[str, Counter[str]] = defaultdict(Counter)
    for fact in received:
        periods[period_key(fact["received_at"], by, tz)][fact["channel"]] += 1
    return [mix_row(key, periods[key]) for key in sorted(periods)]


def breakdown(
    received: Iterable[dict[str, Any]], *, by: Literal["day", "hour", "department", "product"],
    first_routed: Mapping[str, dict[str, Any]], resolved: Iterable[dict[str, Any]], tz: ZoneInfo,
) -> list[dict[str, Any]]:
    outcomes = first_resolutions(resolved)
    rows: dict[str, Counter[str]] = defaultdict(Counter)
    for fact in received:
        contact_id, routed = fact["contact_id"], first_routed.get(fact["contact_id"])
        if by == "day":
            key = period_key(fact["received_at"], "day", tz)
        elif by == "hour":
            key = f"{_aware(fact['received_at']).astimezone(tz).hour:02d}"
        else:
            key = (routed or {}).get("department_id" if by == "department" else "upl_uri") or "unrouted"
        row = rows[key]
        row["received"] += 1
        row["resolved"] += contact_id in outcomes
        row["answered_in_kcc"] += outcomes.get(contact_id, (None, ""))[1] == "answered_in_kcc"
        row["handed_off"] += bool(routed and routed["decision"] != "answer_in_kcc")
    fields = ("received", "resolved", "answered_in_kcc", "handed_off")
    return [{"key": key, **{f: rows[key][f] for f in fields}} for key in sorted(rows)]


def first_routed(routed: Iterable[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """contact id -> its first routing decision (by routed_at, ties by decision)."""
    first: dict[str, dict[str, Any]] = {}
    for fact in routed:
        if not fact.get("routed_at"):
            continue
        held = first.get(fact["contact_id"])
        if held is None or (_aware(fact["routed_at"]), fact["decision"]) < (_aware(held["routed_at"]), held["decision"]):
            first[fact["contact_id"]] = fact
    return first
