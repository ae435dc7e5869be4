"""The telephone read model, pure: a keyed document per call and counters per 15-minute interval.

A call's document holds each of its events under the event's id (so a redelivery rewrites the
same entry and a late or out-of-order event joins whenever it comes) plus what the offer says:
the local day, the 15-minute interval (Europe/Amsterdam) and the service line. An interval's
counters are recomputed from the documents of the calls offered in it whenever a batch touches
one of them: the same figures whatever the order, how often an event came, or how the events
were batched. The service-level threshold and the transfer limit are those configured when
the counters were written: after changing them, rebuild (as after any definition change).
"""

from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from kcc_metrics.kpis.written import _aware
from kcc_metrics.norms import NormSettings

INTERVAL_MINUTES = 15
DEFAULT_LINE = "algemeen"
FIELDS = ("wait_s", "talk_s", "hold_s", "wrap_up_s", "service_line", "target", "warm", "announced")
TOTALS = (
    "offered", "answered", "answered_within", "abandoned", "abandoned_within", "wait_s_total", "abandoned_wait_s_total",
    "ended", "handle_s_total", "transfers", "calls_over_limit",
)


def entry_key(event_id: str) -> str:
    """An event id as a field name (no dots or dollars in a document path)."""
    return event_id.replace(".", "_").replace("$", "_")


def interval_start(moment: datetime, tz: ZoneInfo) -> datetime:
    """The start of the local 15-minute interval holding `moment` (Dutch offsets are whole hours)."""
    local = _aware(moment).astimezone(tz)
    return local.replace(minute=local.minute - local.minute % INTERVAL_MINUTES, second=0, microsecond=0)


def call_updates(facts: Iterable[dict[str, Any]], *, tz: ZoneInfo) -> dict[str, dict[str, Any]]:
    """call id -> the `$set` that adds a batch's call facts to the call's document."""
    updates: dict[str, dict[str, Any]] = defaultdict(dict)
    for fact in facts:
        entry = {"event": fact["event"], "at": fact["at"], **{k: fact[k] for k in FIELDS if fact.get(k) is not None}}
        update = updates[fact["call_id"]]
        update[f"events.{entry_key(fact['_id'])}"] = entry
        if fact["event"] == "offered":
            interval = interval_start(fact["at"], tz).isoformat(timespec="minutes")  # with its offset: DST's hour twice
            update |= {"day": fact["day"], "interval": interval, "service_line": fact.get("service_line") or DEFAULT_LINE}
    return updates


def merged(call: dict[str, Any] | None, call_id: str, update: dict[str, Any]) -> dict[str, Any]:
    """A call document with a batch's `$set` applied (what the store holds after the upsert)."""
    document: dict[str, Any] = {"_id": call_id, **(call or {}), "events": dict((call or {}).get("events", {}))}
    for path, value in update.items():
        if path.startswith("events."):
            document["events"][path[len("events."):]] = value
        else:
            document[path] = value
    return document


def documents(facts: Iterable[dict[str, Any]], *, tz: ZoneInfo) -> list[dict[str, Any]]:
    """Call documents built in memory from call facts (what the store's upserts build)."""
    keyed = [{"_id": fact.get("_id") or f"fact-{n}", **fact} for n, fact in enumerate(facts)]
    return [merged(None, call_id, update) for call_id, update in call_updates(keyed, tz=tz).items()]


def stages(call: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """A call document's events per stage, earliest first (ties by event id)."""
    by_stage: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for key, entry in sorted(call.get("events", {}).items(), key=lambda item: (_aware(item[1]["at"]), item[0])):
        by_stage[entry["event"]].append(entry)
    return by_stage


def waiting(call: dict[str, Any]) -> bool:
    """Offered, and not yet answered, abandoned or ended."""
    events = stages(call)
    return bool(events["offered"]) and not (events["answered"] or events["abandoned"] or events["ended"])


def contribution(call: dict[str, Any], *, norms: NormSettings) -> dict[str, Any] | None:
    """What one call adds to the counters of its interval (None until its offer is known)."""
    events = stages(call)
    if not events["offered"] or not call.get("interval"):
        return None
    threshold, limit = norms.telephone_threshold_s, norms.telephone_transfers_max
    row: dict[str, Any] = {**dict.fromkeys(TOTALS, 0), "max_transfers": None, "offered": 1}
    if events["answered"]:
        wait = events["answered"][0]["wait_s"]
        row |= {"answered": 1, "answered_within": int(wait <= threshold), "wait_s_total": wait}
        if events["ended"]:
            end = events["ended"][0]
            row |= {"ended": 1, "handle_s_total": end.get("talk_s", 0) + end.get("hold_s", 0) + end.get("wrap_up_s", 0)}
        transfers = len(events["transferred"])
        row |= {"transfers": transfers, "calls_over_limit": int(transfers > limit), "max_transfers": transfers}
    elif events["abandoned"]:
        wait = events["abandoned"][0]["wait_s"]
        row |= {"abandoned": 1, "abandoned_within": int(wait <= threshold), "abandoned_wait_s_total": wait}
    return row


def interval_sums(calls: Iterable[dict[str, Any]]) -> dict[tuple[str, str], dict[str, Any]]:
    """(interval, service line) -> the sum of the stored contributions (`c`) of the calls offered in it."""
    groups: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for call in sorted(calls, key=lambda c: c["_id"]):
        if call.get("c") is not None and call.get("interval"):
            groups[(call["interval"], call["service_line"])].append(call["c"])
    return {key: summed(rows) for key, rows in groups.items()}


def interval_totals(calls: Iterable[dict[str, Any]], *, norms: NormSettings) -> dict[tuple[str, str], dict[str, Any]]:
    """(interval, service line) -> the counters of the calls offered in it (telephone_kpis' definitions)."""
    return interval_sums({**call, "c": contribution(call, norms=norms)} for call in calls)


def interval_documents(totals: dict[tuple[str, str], dict[str, Any]], *, norms: NormSettings) -> list[dict[str, Any]]:
    """The stored form of interval counters: one document per interval and service line."""
    stored = []
    for (interval, line), row in totals.items():
        start = datetime.fromisoformat(interval)
        stored.append({
            "_id": f"{interval}|{line}", "interval": interval, "day": interval[:10], "service_line": line,
            "start": start, "end": start + timedelta(minutes=INTERVAL_MINUTES),
            "threshold_s": norms.telephone_threshold_s, **row,
        })
    return stored


def summed(rows: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """Interval counters added up (over intervals, service lines or both)."""
    total: dict[str, Any] = {**dict.fromkeys(TOTALS, 0), "max_transfers": None}
    for row in rows:
        for name in TOTALS:
            total[name] += row.get(name, 0)
        if row.get("max_transfers") is not None:
            total["max_transfers"] = max(total["max_transfers"] or 0, row["max_transfers"])
    return total
