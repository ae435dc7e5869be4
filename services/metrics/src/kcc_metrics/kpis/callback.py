"""Call-back promises kept: a promise belongs to the period of its first booking, and is kept
when completed by its deadline; completed late, failed, or still open after the deadline is
broken; still open before the deadline is pending (left out)."""

from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from kcc_metrics.models import Kpi, Norm, judged, ratio
from kcc_metrics.norms import NORM_SOURCES, NormSettings

CHANNEL = "callback"


def callback_kpis(facts: Iterable[dict[str, Any]], *, norms: NormSettings, now: datetime) -> list[Kpi]:
    promises: dict[str, dict[str, dict[str, Any]]] = defaultdict(dict)
    for fact in facts:
        promises[fact["callback_id"]].setdefault(fact["event"], fact)
    kept = broken = pending = 0
    for events in promises.values():
        if "scheduled" not in events:
            continue
        if "completed" in events:
            kept, broken = (kept + 1, broken) if events["completed"]["within_deadline"] else (kept, broken + 1)
        elif "failed" in events or events["scheduled"]["deadline"] <= now:
            broken += 1
        else:
            pending += 1
    return [
        judged(
            name="promises_kept", channel=CHANNEL, unit="share",
            norm=Norm(target=norms.callback_share, comparison=">=", source=NORM_SOURCES["callback"]),
            value=ratio(kept, kept + broken), counts={"kept": kept, "broken": broken, "pending": pending},
            definition="Call-backs completed by their deadline / call-backs whose outcome is known (completed, "
            "failed, or open past the deadline), by the day of the first booking.",
        )
    ]
