"""Letters acknowledged in time: the ontvangstbevestiging within 5 working days of receipt.

A letter belongs to the period of its receipt; its acknowledgement is the earliest
`contact.acknowledged` for it, whenever that arrives. Unacknowledged past the deadline is
missed; before it, pending (left out of the share)."""

from collections.abc import Iterable
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from kcc_metrics.kpis.written import _aware
from kcc_metrics.models import Kpi, Norm, judged, ratio
from kcc_metrics.norms import NORM_SOURCES, NormSettings
from kcc_metrics.workdays import end_of_working_days
from kcc_metrics.kpis.now import Now, as_now


def acknowledge_deadline(fact: dict[str, Any], *, norms: NormSettings, tz: ZoneInfo) -> datetime:
    """Intake's acknowledge_due_at, else the end of the 5th working day after the local day received."""
    if fact.get("acknowledge_due_at"):
        return _aware(fact["acknowledge_due_at"])
    return end_of_working_days(_aware(fact["received_at"]), norms.letter_ack_working_days, tz=tz)


def acknowledgement_kpi(
    received: Iterable[dict[str, Any]], acknowledged: Iterable[dict[str, Any]], *, norms: NormSettings, tz: ZoneInfo,
    now: datetime | Now,
) -> Kpi:
    now = as_now(now)
    first: dict[str, datetime] = {}
    for fact in acknowledged:
        at = _aware(fact["acknowledged_at"])
        if fact["contact_id"] not in first or at < first[fact["contact_id"]]:
            first[fact["contact_id"]] = at
    counts = {"met": 0, "missed": 0, "pending": 0}
    for fact in received:
        if fact["channel"] != "letter":
            continue
        due, at = acknowledge_deadline(fact, norms=norms, tz=tz), first.get(fact["contact_id"])
        if at is not None:
            counts["met" if at <= due else "missed"] += 1
        else:
            counts["missed" if now.past(due) else "pending"] += 1
    return judged(
        name="acknowledged_in_time", channel="letter", unit="share",
        value=ratio(counts["met"], counts["met"] + counts["missed"]),
        norm=Norm(target=norms.letter_ack_share, comparison=">=", source=NORM_SOURCES["letter"]),
        counts=counts,
        definition=f"Letters whose acknowledgement (contact.acknowledged) was sent by their acknowledge_due_at (else the end of "
        f"the {norms.letter_ack_working_days}th working day after receipt; weekends and Dutch public holidays do not count) / "
        "letters due, by local day of receipt.",
    )
