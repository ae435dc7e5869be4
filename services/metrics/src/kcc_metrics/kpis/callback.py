"""Call-back promises kept: a promise belongs to the period of its first booking, and is kept
when completed (completed_at) no later than that booking's deadline; completed late, failed,
or still open after the deadline is broken; still open before the deadline is pending and a
cancelled one (no longer needed) is left out."""

from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from kcc_metrics.kpis.written import _aware
from kcc_metrics.models import Kpi, Norm, judged, ratio
from kcc_metrics.norms import NORM_SOURCES, NormSettings
from kcc_metrics.kpis.now import Now, as_now

CHANNEL = "callback"


def _earliest(facts: list[dict[str, Any]]) -> dict[str, Any]:
    return min(facts, key=lambda f: (_aware(f.get("at") or f["deadline"]), str(f.get("_id", ""))))


def callback_kpis(facts: Iterable[dict[str, Any]], *, norms: NormSettings, now: datetime | Now) -> list[Kpi]:
    now = as_now(now)
    promises: dict[str, dict[str, list[dict[str, Any]]]] = defaultdict(lambda: defaultdict(list))
    for fact in facts:
        promises[fact["callback_id"]][fact["event"]].append(fact)
    kept = broken = pending = cancelled = 0
    for events in promises.values():
        if not events["scheduled"]:
            continue
        deadline = _aware(_earliest(events["scheduled"])["deadline"])
        if events["completed"]:
            done = _earliest(events["completed"])
            completed_at = _aware(done["at"]) if done.get("at") else None
            on_time = completed_at <= deadline if completed_at is not None else done["within_deadline"]
            kept, broken = (kept + 1, broken) if on_time else (kept, broken + 1)
        elif events["failed"]:
            broken += 1
        elif events["cancelled"]:
            cancelled += 1
        elif now.reached(deadline):
            broken += 1
        else:
            pending += 1
    return [
        judged(
            name="promises_kept", channel=CHANNEL, unit="share",
            norm=Norm(target=norms.callback_share, comparison=">=", source=NORM_SOURCES["callback"]),
            value=ratio(kept, kept + broken),
            counts={"kept": kept, "broken": broken, "pending": pending, "cancelled": cancelled},
            definition="Call-backs completed (completed_at) by the deadline of their first booking / call-backs whose "
            "outcome is known (completed, failed, or open past the deadline), by the day of the first booking; "
            "cancelled ones are left out.",
        )
    ]
