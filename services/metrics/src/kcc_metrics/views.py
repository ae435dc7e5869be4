"""Counts for steering rather than norms: the channel mix over time (kanaalsturing), breakdowns
of contacts by day, hour, department or UPL product, and satisfaction per group. Pure: each
day's are counted from its facts into its sheet (`day_views`), a period's added up from its
days' sheets."""

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from datetime import date
from typing import Any, Literal
from zoneinfo import ZoneInfo

from kcc_metrics.kpis.resolution import first_resolutions
from kcc_metrics.kpis.satisfaction import grouped
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


def period_key(local: date, by: Literal["day", "week"]) -> str:
    """A local day's period: the day, or its ISO week."""
    if by == "day":
        return local.isoformat()
    year, week, _ = local.isocalendar()
    return f"{year}-W{week:02d}"


def mix_row(period: str, channels: Counter[str]) -> dict[str, Any]:
    counts, total = dict(sorted(channels.items())), sum(channels.values())
    return {"period": period, "total": total, "counts": counts, "shares": {c: n / total for c, n in counts.items()}}


def channel_mix(days: Mapping[date, Mapping[str, int]], *, by: Literal["day", "week"]) -> list[dict[str, Any]]:
    """Contacts received per channel per local day -> the mix per day or ISO week."""
    periods: dict[str, Counter[str]] = defaultdict(Counter)
    for day, counts in days.items():
        if counts:
            periods[period_key(day, by)].update(counts)
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
            key = period_key(_aware(fact["received_at"]).astimezone(tz).date(), "day")
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


BY = ("hour", "department", "product")
FIELDS = ("received", "resolved", "answered_in_kcc", "handed_off")


def day_views(
    received: list[dict[str, Any]], *, routed: Mapping[str, dict[str, Any]], resolved: list[dict[str, Any]],
    scores: Mapping[str, int], channels: Mapping[str, str], departments: Mapping[str, str], tz: ZoneInfo,
) -> dict[str, Any]:
    """A day's share of the views: breakdown rows per grouping and channel, and satisfaction groups
    as [answers, score total] (a contact's first answer, in the day it was given)."""
    rows = {
        by: {
            channel: breakdown([f for f in received if f["channel"] == channel], by=by, first_routed=routed, resolved=resolved, tz=tz)
            for channel in sorted({f["channel"] for f in received})
        }
        for by in BY
    }
    groups = {
        name: {group: [len(values), sum(values)] for group, values in grouped(scores, of, missing=missing).items()}
        for name, of, missing in (("channel", channels, "unknown"), ("department", departments, "unrouted"))
    }
    return {"breakdown": rows, "satisfaction": groups}


def added_rows(sheets: Iterable[dict[str, Any]], *, by: Literal["day", "hour", "department", "product"], channel: str | None) -> list[dict[str, Any]]:
    """A period's breakdown from its days' sheets (a day's rows per channel, added up per key)."""
    rows: dict[str, Counter[str]] = defaultdict(Counter)
    for sheet in sheets:
        for seen, found in sheet["views"]["breakdown"]["hour" if by == "day" else by].items():
            if channel not in (None, seen):
                continue
            for row in found:
                key = sheet["day"] if by == "day" else row["key"]
                rows[key].update({f: row[f] for f in FIELDS})
    return [{"key": key, **{f: rows[key][f] for f in FIELDS}} for key in sorted(rows)]


def added_scores(sheets: Iterable[dict[str, Any]], name: Literal["channel", "department"]) -> dict[str, list[int]]:
    """group -> [answers, score total] over the days' sheets."""
    total: dict[str, list[int]] = {}
    for sheet in sheets:
        for group, (answers, score) in sheet["views"]["satisfaction"][name].items():
            held = total.setdefault(group, [0, 0])
            held[0], held[1] = held[0] + answers, held[1] + score
    return dict(sorted(total.items()))
