"""Counter (balie) waiting times, from a period's queue-ticket facts joined per visit.

A visit belongs to the period of its `drawn` fact. Its wait runs from the ticket being drawn to
being called; a visitor who left uncalled waited too long by definition (not within the norm)."""

import math
from collections import defaultdict
from collections.abc import Iterable
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


def _visits(facts: Iterable[dict[str, Any]]) -> list[dict[str, dict[str, Any]]]:
    visits: dict[str, dict[str, dict[str, Any]]] = defaultdict(dict)
    for fact in facts:
        visits[fact["visit_key"]].setdefault(fact["event"], fact)
    return [stages for stages in visits.values() if "drawn" in stages]


def called_waits(facts: Iterable[dict[str, Any]]) -> list[float]:
    """The waits, in minutes, of every visit called (walk-in and with appointment)."""
    return [(v["called"]["at"] - v["drawn"]["at"]).total_seconds() / 60 for v in _visits(facts) if "called" in v]


def counter_kpis(facts: Iterable[dict[str, Any]], *, norms: NormSettings) -> list[Kpi]:
    """Share waiting within the limit (walk-in and with appointment) and the wait distribution."""
    source = NORM_SOURCES["counter"]
    kpis: list[Kpi] = []
    waits: list[float] = []
    for with_appointment, limit in ((False, norms.counter_wait_minutes), (True, norms.counter_wait_appointment_minutes)):
        group = [v for v in _visits(facts) if bool(v["drawn"].get("appointment_id")) is with_appointment]
        called = [(v["called"]["at"] - v["drawn"]["at"]).total_seconds() / 60 for v in group if "called" in v]
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
                definition=f"{'Visitors with an appointment' if with_appointment else 'Walk-in visitors'} called within "
                f"{limit:g} min of drawing a ticket / (called + left uncalled).",
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
