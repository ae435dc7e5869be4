"""The end-of-run service-norm report and the demo's live one-screen summary, both from the
metrics API (`/v1/service-norms`, `/v1/counts/daily`, `/v1/realtime`)."""

import asyncio
import time
from collections import Counter
from datetime import date, datetime, timedelta
from typing import Any

from kcc_cli.sim.client import PlatformClient
from kcc_cli.sim.runner import Ledger

CHANNELS = ("telephone", "counter", "email", "web", "letter", "social")
LABEL = {"telephone": "telephone", "counter": "counter", "email": "e-mail", "web": "web", "letter": "letter", "social": "social", "callback": "call-back", "all": "all"}
DASH = "–"


def days_of(first: date, last: date) -> list[str]:
    return [(first + timedelta(days=n)).isoformat() for n in range((last - first).days + 1)]


def kpi(report: dict[str, Any] | None, name: str, channel: str) -> dict[str, Any] | None:
    for item in (report or {}).get("kpis", []):
        if item["name"] == name and item["channel"] == channel:
            return item
    return None


def expected(ledger: Ledger, days: list[str]) -> dict[str, int]:
    """The figures metrics must reach once it has processed everything the simulator sent."""
    calls: Counter = Counter()
    for (day, what), n in ledger.calls.items():
        if day in days:
            calls[what] += n
    counter: Counter = Counter()
    for (day, what), n in ledger.counter.items():
        if day in days:
            counter[what] += n
    return {
        "offered": calls["offered"], "answered": calls["answered"], "abandoned": calls["abandoned"],
        "ended": calls["ended"], "transfers": calls["transferred"],
        "counter_called": counter["called_walk_in"] + counter["called_appointment"],
        "counter_left": counter["left_walk_in"] + counter["left_appointment"],
        "resolved": sum(n for (day, _), n in ledger.resolved.items() if day in days),
        "callbacks_booked": sum(n for day, n in ledger.callback_requests.items() if day in days),
        "callbacks_closed": ledger.callbacks["completed"] + ledger.callbacks["failed"],
    }


def observed(report: dict[str, Any] | None) -> dict[str, int]:
    def count(name: str, channel: str, key: str) -> int:
        item = kpi(report, name, channel)
        return int(item["counts"].get(key, 0)) if item else 0

    return {
        "offered": count("offered", "telephone", "offered"), "answered": count("offered", "telephone", "answered"),
        "abandoned": count("offered", "telephone", "abandoned"), "ended": count("average_handle_time", "telephone", "ended"),
        "transfers": count("transfers_per_call", "telephone", "transfers"),
        "counter_called": count("waiting_within_norm_walk_in", "counter", "called") + count("waiting_within_norm_appointment", "counter", "called"),
        "counter_left": count("waiting_within_norm_walk_in", "counter", "left_uncalled") + count("waiting_within_norm_appointment", "counter", "left_uncalled"),
        "resolved": count("resolved_in_kcc", "all", "resolved"),
        "callbacks_booked": sum(count("promises_kept", "callback", k) for k in ("kept", "broken", "pending")),
        "callbacks_closed": count("promises_kept", "callback", "kept") + count("promises_kept", "callback", "broken"),
    }


async def fetch(client: PlatformClient, first: date, last: date) -> tuple[dict[str, Any] | None, dict[str, dict[str, int]]]:
    """The service-norm report for the period and the contacts per channel of each day."""
    reply = await client.metrics("/v1/service-norms", {"from": first.isoformat(), "to": last.isoformat()})
    report = reply.body if reply.ok and isinstance(reply.body, dict) else None
    counts = {}
    for day in days_of(first, last):
        daily = await client.metrics("/v1/counts/daily", {"day": day})
        counts[day] = daily.body.get("received", {}) if daily.ok and isinstance(daily.body, dict) else {}
    return report, counts


async def settle(client: PlatformClient, ledger: Ledger, first: date, last: date, *, timeout_s: float) -> tuple[bool, list[str], dict[str, Any] | None, dict[str, dict[str, int]]]:
    """Wait until metrics has counted at least what the simulator sent (events travel through
    Kafka, so the figures trail the requests) and its figures hold still, then return them.

    The ledger knows only some of the figures (contacts, calls, resolutions, call-backs): events
    it does not count (an acknowledgement, a survey answer, a hand-off) may still be on their
    way when those are complete, so the report is final once two reads a second apart agree."""
    days = days_of(first, last)
    deadline = time.monotonic() + timeout_s
    previous: tuple[dict[str, Any] | None, dict[str, dict[str, int]]] | None = None
    while True:
        report, counts = await fetch(client, first, last)
        behind = []
        for (day, channel), n in sorted(ledger.received.items()):
            if day in counts and counts[day].get(channel, 0) < n:
                behind.append(f"{day} {channel}: {counts[day].get(channel, 0)} of {n} contacts")
        want, have = expected(ledger, days), observed(report)
        behind += [f"{key}: {have[key]} of {n}" for key, n in want.items() if have[key] < n]
        if (not behind and previous == (report, counts)) or time.monotonic() > deadline:
            return not behind, behind, report, counts
        previous = None if behind else (report, counts)
        await asyncio.sleep(1.0)


# --- formatting ----------------------------------------------------------------------------------------


def fmt_value(item: dict[str, Any] | None) -> str:
    if item is None or item.get("value") is None:
        return DASH
    value, unit = item["value"], item["unit"]
    if unit == "share":
        return f"{value:.1%}"
    if unit == "seconds":
        return f"{value:.0f} s"
    if unit == "calls":
        return f"{value:.0f}"
    return f"{value:.2f}"


def fmt_norm(item: dict[str, Any] | None) -> str:
    norm = (item or {}).get("norm")
    if not norm:
        return ""
    target = f"{norm['target']:.0%}" if item and item["unit"] == "share" else f"{norm['target']:g}"
    return f"{'≥' if norm['comparison'] == '>=' else '≤'} {target}"


def format_report(report: dict[str, Any] | None, counts: dict[str, dict[str, int]], ledger: Ledger, *, first: date, last: date, settled: bool, behind: list[str]) -> str:
    lines = [f"Service norms {first.isoformat()} .. {last.isoformat()}  (from the metrics API"
             + (f", definitions {report.get('definition_version')})" if report else ")")]
    if report is None:
        lines.append("  the metrics API did not answer")
    else:
        lines.append(f"  {'channel':<10} {'KPI':<40} {'value':>9}  {'norm':<8} met")
        for item in report["kpis"]:
            met = {True: "yes", False: "NO", None: ""}[item.get("met")]
            lines.append(f"  {LABEL.get(item['channel'], item['channel']):<10} {item['name']:<40} {fmt_value(item):>9}  {fmt_norm(item):<8} {met}")
    per_channel: Counter = Counter()
    for received in counts.values():
        per_channel.update(received)
    lines.append("Contacts per channel (metrics): " + "  ".join(f"{LABEL[c]} {per_channel.get(c, 0)}" for c in CHANNELS))
    sent = ledger.contacts_by_channel()
    lines.append("Contacts sent (simulator):      " + "  ".join(f"{LABEL[c]} {sent.get(c, 0)}" for c in CHANNELS))
    want = expected(ledger, days_of(first, last))
    lines.append(f"Calls sent: offered {want['offered']}, answered {want['answered']}, abandoned {want['abandoned']}, warm transfers {want['transfers']}")
    if ledger.decisions:
        lines.append("Hand-offs decided by routing: " + ", ".join(f"{k} {v}" for k, v in sorted(ledger.decisions.items())))
    cb = ledger.callbacks
    lines.append(f"Call-backs worked: {cb['seen']} seen due today, {sum(v for k, v in cb.items() if k.startswith('attempt:'))} attempts, "
                 f"{cb['completed']} completed, {cb['failed']} failed")
    lines.append(f"Presence reports: {ledger.presence_reports}; agent status reports: {ledger.agent_status_reports}; queue claims: " + ", ".join(f"{k} {v}" for k, v in sorted(ledger.claims.items())))
    if ledger.errors:
        lines.append(f"Requests refused or failed ({sum(ledger.errors.values())}):")
        lines += [f"  {n} x {what}" for what, n in ledger.errors.most_common(8)]
    if not settled:
        lines.append("Metrics had not caught up when the wait ended: " + "; ".join(behind[:6]))
    return "\n".join(lines)


# --- the demo's live summary ----------------------------------------------------------------------------


async def live_summary(client: PlatformClient, *, today: date, simulated: str, docs: dict[str, str]) -> str:
    """One screen: contacts per channel, service levels, waiting now and call-backs, and the URLs."""
    norms = await client.metrics("/v1/service-norms", {"from": today.isoformat(), "to": today.isoformat()})
    daily = await client.metrics("/v1/counts/daily", {"day": today.isoformat()})
    realtime = await client.metrics("/v1/realtime")
    report = norms.body if norms.ok and isinstance(norms.body, dict) else None
    received = daily.body.get("received", {}) if daily.ok and isinstance(daily.body, dict) else {}
    live = realtime.body if realtime.ok and isinstance(realtime.body, dict) else None

    def v(name: str, channel: str) -> str:
        return fmt_value(kpi(report, name, channel))

    lines = [
        f"Contact.STAD at work: simulated {simulated}        {datetime.now():%H:%M:%S}",
        "",
        "Contacts today   " + "  ".join(f"{LABEL[c]} {received.get(c, 0)}" for c in CHANNELS),
        f"Telephone        service level {v('service_level_abandoned_short_met', 'telephone')} (≥ 80% in 20 s)   "
        f"abandoned {v('abandonment_rate', 'telephone')} (≤ 5%)   ASA {v('average_speed_of_answer', 'telephone')}   "
        f"AHT {v('average_handle_time', 'telephone')}",
        f"Counter          walk-ins within 15 min {v('waiting_within_norm_walk_in', 'counter')}   "
        f"appointments within 5 min {v('waiting_within_norm_appointment', 'counter')}",
        f"Written          e-mail in time {v('answered_in_time', 'email')}   letters {v('answered_in_time', 'letter')}   "
        f"social {v('answered_in_time', 'social')}   resolved in the KCC {v('resolved_in_kcc', 'all')} (≥ 80%)",
    ]
    if live is None:
        lines.append(f"Waiting now      {DASH}   agents available {DASH}")
        lines.append(f"Call-backs       due today {DASH}   overdue {DASH}   promises kept {v('promises_kept', 'callback')}")
    else:
        # One line: the total, then the longest queues (a department's queue per department).
        waiting = sorted(live.get("queues", []), key=lambda q: -q.get("waiting", 0))
        busiest = "  ".join(
            f"{q.get('queue')} {q.get('waiting', 0)}" + (f" (oldest {q['oldest_waiting_s'] / 60:.0f} min)" if q.get("oldest_waiting_s") else "")
            for q in waiting[:4] if q.get("waiting")
        )
        total = sum(q.get("waiting", 0) for q in waiting)
        agents = live.get("agents_available")
        lines.append(f"Waiting now      {total} in all{':  ' + busiest if busiest else ''}   agents available {DASH if agents is None else agents}")
        lines.append(f"Call-backs       due today {live.get('callbacks_due_today', DASH)}   overdue {live.get('callbacks_overdue', DASH)}   "
                     f"promises kept {v('promises_kept', 'callback')}")
    lines += ["", "APIs and docs"]
    lines += [f"  {name:<9} {url}/docs" for name, url in docs.items()]
    lines += ["", "The simulator feeds the platform through its public APIs (KCC_DEMO=0 turns it off). Ctrl-C stops everything."]
    return "\n".join(lines)
