"""Telephone KPIs from the counters of a period's 15-minute intervals (calls.py).

A call belongs to the interval, and so the period, of its offer; its other events may arrive
late, twice or out of order and still count, because the counters are recomputed from the
call's keyed document whenever one of its events arrives."""

from typing import Any

from kcc_metrics.models import Kpi, Norm, judged, ratio
from kcc_metrics.norms import NORM_SOURCES, NormSettings

CHANNEL = "telephone"


def telephone_kpis(total: dict[str, Any], *, norms: NormSettings) -> list[Kpi]:
    """Offered, service level (both definitions), ASA, abandonment, AHT and transfers per call, from summed counters."""
    threshold = norms.telephone_threshold_s
    source = NORM_SOURCES["telephone"]
    offered, answered, abandoned = total["offered"], total["answered"], total["abandoned"]
    answered_in_time, abandoned_in_time = total["answered_within"], total["abandoned_within"]
    wait_total, handle_total, ended, transfers = total["wait_s_total"], total["handle_s_total"], total["ended"], total["transfers"]
    over_limit, most = total["calls_over_limit"], total["max_transfers"]
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
            value=ratio(wait_total, answered), counts={"answered": answered, "wait_s_total": wait_total},
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
            value=ratio(handle_total, ended),
            counts={"ended": ended, "handle_s_total": handle_total},
            definition="Mean of talk + hold + wrap-up over answered calls that ended, in seconds.",
        ),
        judged(
            name="transfers_per_call", channel=CHANNEL, unit="per_call", norm=None,
            value=ratio(transfers, answered), counts={"answered": answered, "transfers": transfers},
            definition="Transfers / answered calls.",
        ),
        judged(
            name="max_transfers_per_call", channel=CHANNEL, unit="per_call",
            norm=Norm(target=norms.telephone_transfers_max, comparison="<=", source=source),
            value=float(most) if most is not None else None,
            counts={"answered": answered, "calls_over_limit": over_limit},
            definition=f"Most transfers any answered call had (the norm holds per call: at most {norms.telephone_transfers_max}).",
        ),
    ]
