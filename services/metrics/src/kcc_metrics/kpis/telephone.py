"""Telephone KPIs, computed from a period's call facts joined by call id.

A call belongs to the period of its `offered` fact; its other facts may arrive late, twice or
out of order and still join to it (one fact per event id, joined here at query time)."""

from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from kcc_metrics.models import Kpi, Norm, judged, ratio
from kcc_metrics.norms import NORM_SOURCES, NormSettings

CHANNEL = "telephone"


def _calls(facts: Iterable[dict[str, Any]]) -> dict[str, dict[str, list[dict[str, Any]]]]:
    calls: dict[str, dict[str, list[dict[str, Any]]]] = defaultdict(lambda: defaultdict(list))
    for fact in facts:
        calls[fact["call_id"]][fact["event"]].append(fact)
    return {call_id: events for call_id, events in calls.items() if events.get("offered")}


def telephone_kpis(facts: Iterable[dict[str, Any]], *, norms: NormSettings) -> list[Kpi]:
    """Offered, service level (both definitions), ASA, abandonment, AHT and transfers per call."""
    calls = _calls(facts)
    threshold = norms.telephone_threshold_s
    source = NORM_SOURCES["telephone"]
    answered_waits = [events["answered"][0]["wait_s"] for events in calls.values() if events.get("answered")]
    abandoned_waits = [
        events["abandoned"][0]["wait_s"] for events in calls.values() if events.get("abandoned") and not events.get("answered")
    ]
    offered, answered, abandoned = len(calls), len(answered_waits), len(abandoned_waits)
    answered_in_time = sum(1 for wait in answered_waits if wait <= threshold)
    abandoned_in_time = sum(1 for wait in abandoned_waits if wait <= threshold)
    handle_times = [
        end["talk_s"] + end["hold_s"] + end["wrap_up_s"]
        for events in calls.values()
        for end in events.get("ended", [])[:1]
        if events.get("answered")
    ]
    transfers = [len(events.get("transferred", [])) for events in calls.values() if events.get("answered")]
    over_limit = sum(1 for n in transfers if n > norms.telephone_transfers_max)
    base = {"offered": offered, "answered": answered, "abandoned": abandoned}
    service_level = Norm(target=norms.telephone_service_level, comparison=">=", source=source)
    return [
        judged(
            name="offered", channel=CHANNEL, value=float(offered), unit="calls", norm=None, counts=base,
            definition="Calls offered to the queue in the period (by local day of the offer).",
        ),
        judged(
            name="service_level_abandoned_short_met", channel=CHANNEL, unit="share", norm=service_level,
            value=ratio(answered_in_time + abandoned_in_time, answered + abandoned),
            counts={**base, "answered_within": answered_in_time, "abandoned_within": abandoned_in_time, "threshold_s": threshold},
            definition=f"(answered within {threshold:g} s + abandoned within {threshold:g} s) / (answered + abandoned): "
            "a caller who hangs up before the threshold counts as served in time.",
        ),
        judged(
            name="service_level_abandoned_short_excluded", channel=CHANNEL, unit="share", norm=service_level,
            value=ratio(answered_in_time, answered + abandoned - abandoned_in_time),
            counts={**base, "answered_within": answered_in_time, "abandoned_within": abandoned_in_time, "threshold_s": threshold},
            definition=f"answered within {threshold:g} s / (answered + abandoned - abandoned within {threshold:g} s): "
            "callers who hang up before the threshold are left out.",
        ),
        judged(
            name="average_speed_of_answer", channel=CHANNEL, unit="seconds", norm=None,
            value=ratio(sum(answered_waits), answered), counts={"answered": answered, "wait_s_total": sum(answered_waits)},
            definition="Mean queue wait of answered calls, in seconds.",
        ),
        judged(
            name="abandonment_rate", channel=CHANNEL, unit="share",
            norm=Norm(target=norms.telephone_abandonment_max, comparison="<=", source=source),
            value=ratio(abandoned, offered), counts=base,
            definition="Calls abandoned in the queue (never answered) / calls offered.",
        ),
        judged(
            name="average_handle_time", channel=CHANNEL, unit="seconds", norm=None,
            value=ratio(sum(handle_times), len(handle_times)),
            counts={"ended": len(handle_times), "handle_s_total": sum(handle_times)},
            definition="Mean of talk + hold + wrap-up over answered calls that ended, in seconds.",
        ),
        judged(
            name="transfers_per_call", channel=CHANNEL, unit="per_call", norm=None,
            value=ratio(sum(transfers), answered), counts={"answered": answered, "transfers": sum(transfers)},
            definition="Transfers / answered calls.",
        ),
        judged(
            name="max_transfers_per_call", channel=CHANNEL, unit="per_call",
            norm=Norm(target=norms.telephone_transfers_max, comparison="<=", source=source),
            value=float(max(transfers)) if transfers else None,
            counts={"answered": answered, "calls_over_limit": over_limit},
            definition=f"Most transfers any answered call had (the norm holds per call: at most {norms.telephone_transfers_max}).",
        ),
    ]
