"""Counter (balie) waiting times, from a period's queue-ticket facts joined per visit, and the
appointments kept, from the counter planner's facts.

A visit belongs to the period of its `drawn` fact. Its wait runs from the ticket being drawn to
being called; for a visitor with an appointment, from the appointment's time if the visitor came
early (an early arrival is not a wait of ours). A visitor who left uncalled waited too long by
definition (not within the norm). An appointment belongs to the period of the day it was
planned for; its last status counts (booked, cancelled, no-show, served)."""

import math
from collections import defaultdict
from collections.abc import Iterable
from datetime import date
from typing import Any

from kcc_metrics.models import Kpi, Norm, judged, ratio
from kcc_metrics.norms import NORM_SOURCES, NormSettings

CHANNEL = "counter"
BUCKETS_MIN = (5, 10, 15, 30)


def percentile(values: list[float], q: float) -> float | None:
    """Nearest-rank percentile (the value at rank ceil(q * n))."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


def scheduled_times(appointments: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """Appointment id -> the time it is planned for (its latest booking, when moved)."""
    latest: dict[str, dict[str, Any]] = {}
    for fact in appointments:
        known = latest.get(fact["appointment_id"])
        if known is None or fact["at"] > known["at"]:
            latest[fact["appointment_id"]] = fact
    return {key: fact["scheduled_for"] for key, fact in latest.items()}


def _wait_min(visit: dict[str, dict[str, Any]], scheduled: dict[str, Any]) -> float:
    start = visit["drawn"]["at"]
    planned = scheduled.get(visit["drawn"].get("appointment_id") or "")
    if planned is not None and planned > start:
        start = planned
    return max((visit["called"]["at"] - start).total_seconds(), 0.0) / 60


def appointment_kpis(appointments: Iterable[dict[str, Any]], *, first: date, last: date) -> list[Kpi]:
    """Of the appointments (every fact of each) whose last status is planned in [first, last]:
    how many were kept (served) of those served or missed."""
    latest: dict[str, dict[str, Any]] = {}
    for fact in appointments:
        known = latest.get(fact["appointment_id"])
        if known is None or fact["at"] > known["at"]:
            latest[fact["appointment_id"]] = fact
    status = [fact["event"] for fact in latest.values() if first.isoformat() <= fact["day"] <= last.isoformat()]
    counts = {"appointments": len(status), **{s: status.count(s) for s in ("served", "no_show", "cancelled", "booked")}}
    return [
        judged(
            name="appointments_kept", channel=CHANNEL, unit="share", norm=None,
            value=ratio(counts["served"], counts["served"] + counts["no_show"]), counts=counts,
            definition="Counter appointments planned in the period and served / (served + no-show); cancelled ones and "
            "those still booked are counted apart. Each appointment counts once, by its last status.",
        )
    ]


def _visits(facts: Iterable[dict[str, Any]]) -> list[dict[str, dict[str, Any]]]:
    visits: dict[str, dict[str, dict[str, Any]]] = defaultdict(dict)
    for fact in facts:
        visits[fact["visit_key"]].setdefault(fact["event"], fact)
    return [stages for stages in visits.values() if "drawn" in stages]


def called_waits(facts: Iterable[dict[str, Any]], scheduled: dict[str, Any] | None = None) -> list[float]:
    """The waits, in minutes, of every visit called (walk-in and with appointment)."""
    return [_wait_min(v, scheduled or {}) for v in _visits(facts) if "called" in v]


def counter_kpis(facts: Iterable[dict[str, Any]], *, norms: NormSettings, scheduled: dict[str, Any] | None = None) -> list[Kpi]:
    """Share waiting within the limit (walk-in and with appointment) and the wait distribution;
    `scheduled` gives the planned time of the visits' appointments (`scheduled_times`)."""
    source = NORM_SOURCES["counter"]
    kpis: list[Kpi] = []
    waits: list[float] = []
    for with_appointment, limit in ((False, norms.counter_wait_minutes), (True, norms.counter_wait_appointment_minutes)):
        group = [v for v in _visits(facts) if bool(v["drawn"].get("appointment_id")) is with_appointment]
        called = [_wait_min(v, scheduled or {}) for v in group if "called" in v]
        left = sum(1 for v in group if "called" not in v and "left" in v)
        within = sum(1 for wait in called if wait <= limit)
        waits += called
        kind = "appointment" if with_appointment else "walk_in"
        kpis.append(
            judged(
                name=f"waiting_within_norm_{kind}", channel=CHANNEL, unit="share",
                norm=Norm(target=norms.counter_share, comparison=">=", source=source),
                value=ratio(within, len(called) + left),
                counts={"visits": len(group), "called": len(called), "left_uncalled": left, "within": within, "limit_min": limit},
                definition=(
                    f"Visitors with an appointment called within {limit:g} min of drawing a ticket, or of the appointment's "
                    "time when they came early / (called + left uncalled)." if with_appointment else
                    f"Walk-in visitors called within {limit:g} min of drawing a ticket / (called + left uncalled)."
                ),
            )
        )
    distribution = {f"up_to_{b}_min": sum(1 for w in waits if w <= b) for b in BUCKETS_MIN}
    distribution["over_30_min"] = sum(1 for w in waits if w > BUCKETS_MIN[-1])
    for q in (0.5, 0.9):
        value = percentile(waits, q)
        kpis.append(
            judged(
                name=f"waiting_p{int(q * 100)}", channel=CHANNEL, unit="seconds", norm=None,
                value=value * 60 if value is not None else None, counts={"called": len(waits), **distribution},
                definition=f"{int(q * 100)}th percentile (nearest rank) of the wait from ticket to call, in seconds; "
                "counts hold the distribution in minutes (cumulative up to each bound).",
            )
        )
    return kpis
