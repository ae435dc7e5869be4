"""Service-norm figures per local day ("sheets"), pure: a report over a period reads one small
document per day and adds them up, instead of reading the period's facts.

A day's sheet holds every KPI of that day with the counts behind it, the day's telephone
counters (from the 15-minute intervals) and the counter waits it saw (for the percentiles). A
period's KPI is its days' counts added up, with the value recomputed from the sums by the rule
the KPI was defined with (`SHARES`); percentiles come from the merged waits and the telephone
KPIs from the summed counters. This is exact because every KPI assigns each contact, call,
visit, call-back or hand-off to exactly one local day (its receipt, its first resolution, its
first booking, ...).

A sheet holds while three things stay as they were when it was computed:
- `seq`: the day's change counter, which the consumers raise whenever a batch brings a fact that
  can change the day's figures (see `FactRepository.mark_changes`);
- `computed_at` and `valid_until`: the earliest deadline one of its pending items still waited
  for (kpis/now.py) has not passed;
- `version`: the KPI definitions and norms it was computed with (a definition change recomputes
  every sheet from the stored facts, which outlive the topics).
"""

import hashlib
from collections import Counter
from collections.abc import Iterable, Mapping
from datetime import date, datetime
from typing import Any

from kcc_metrics.calls import summed
from kcc_metrics.kpis.counter import percentile
from kcc_metrics.kpis.telephone import telephone_kpis
from kcc_metrics.models import DEFINITION_VERSION, Kpi, Norm, judged, ratio
from kcc_metrics.norms import NormSettings

# KPI name -> (numerator count, denominator counts): its value from its (added-up) counts.
SHARES: dict[str, tuple[str, tuple[str, ...]]] = {
    "answered_in_time": ("met", ("met", "missed")),
    "acknowledged_in_time": ("met", ("met", "missed")),
    "resolved_in_kcc": ("answered_in_kcc", ("resolved",)),
    "first_contact_resolution": ("first_time", ("first_time", "repeated", "not_in_kcc")),
    "satisfaction_average": ("score_total", ("answers",)),
    "waiting_within_norm_walk_in": ("within", ("called", "left_uncalled")),
    "waiting_within_norm_appointment": ("within", ("called", "left_uncalled")),
    "appointments_kept": ("served", ("served", "no_show")),
    "promises_kept": ("kept", ("kept", "broken")),
    "promises_kept_end_to_end": ("kept", ("kept", "broken")),
}
# Percentiles of the counter waits: KPI name -> quantile.
PERCENTILES = {"waiting_p50": 0.5, "waiting_p90": 0.9}
# Counts that state a setting rather than count something: kept, not added.
SETTINGS = frozenset({"limit_min", "threshold_s"})
# The KPIs computed from the 15-minute telephone counters.
TELEPHONE = frozenset(kpi.name for kpi in telephone_kpis(summed([]), norms=NormSettings()))


# Raise when what a sheet holds changes shape: stored sheets of another form are then recomputed.
FORM = 2


def version(norms: NormSettings, timezone: str) -> str:
    """What a sheet's figures depend on besides the facts: its form, the definitions, the norms, the zone."""
    settings = hashlib.sha256(norms.model_dump_json().encode()).hexdigest()[:16]
    return f"{FORM}|{DEFINITION_VERSION}|{settings}|{timezone}"


def sheet_id(day: date, channel: str | None, department: str | None) -> str:
    return f"{day.isoformat()}|{channel or '*'}|{department or '*'}"


def holds(sheet: dict[str, Any] | None, *, seq: int, version: str, now: datetime) -> bool:
    """Whether a stored sheet still gives the day's figures."""
    if sheet is None or sheet.get("version") != version or sheet.get("seq") != seq:
        return False
    since, until = sheet.get("computed_at"), sheet.get("valid_until")
    return (since is None or since <= now) and (until is None or now < until)


def waits_histogram(waits: Iterable[float]) -> list[list[float]]:
    """Counter waits (minutes) as [value, how many] pairs: a day's sheet keeps each value once."""
    return [[value, n] for value, n in sorted(Counter(waits).items())]


def stored(kpi: Kpi) -> dict[str, Any]:
    """What a sheet keeps of a KPI: what it counted. Its unit, norm and definition are the same on
    every day of a version: kept once (`template`), not 365 times in a year's sheets."""
    return {"name": kpi.name, "channel": kpi.channel, "counts": kpi.counts}


def template(kpi: Kpi) -> tuple[str, dict[str, Any]]:
    """A KPI's key and what every day of a version has the same: unit, norm and definition."""
    return f"{kpi.name}|{kpi.channel}", {"unit": kpi.unit, "norm": kpi.norm.model_dump() if kpi.norm else None, "definition": kpi.definition}


def combined(sheets: Iterable[dict[str, Any]], *, norms: NormSettings, templates: Mapping[str, dict[str, Any]]) -> list[Kpi]:
    """The KPIs of a period from the sheets of its days, with the templates of their version."""
    sheets = list(sheets)
    kpis: dict[tuple[str, str], dict[str, Any]] = {}
    for sheet in sheets:
        for kpi in sheet["kpis"]:
            if kpi["channel"] == "telephone" and kpi["name"] in TELEPHONE:
                continue  # recomputed below from the summed counters
            key = (kpi["name"], kpi["channel"])
            if key not in kpis:
                kpis[key] = {**kpi, "counts": dict(kpi["counts"])}
                continue
            counts = kpis[key]["counts"]
            for name, n in kpi["counts"].items():
                counts[name] = n if name in SETTINGS else counts.get(name, 0) + n
    waits: Counter[float] = Counter()
    for sheet in sheets:
        for value, n in sheet.get("waits") or ():
            waits[value] += n
    counters = [sheet["telephone"] for sheet in sheets if sheet.get("telephone") is not None]
    result = telephone_kpis(summed(counters), norms=norms) if counters else []
    return result + [_judged(kpi, waits, templates) for _, kpi in sorted(kpis.items(), key=_order(list(kpis)))]


def _order(keys: list[tuple[str, str]]) -> Any:
    """The order a day's report has: by KPI as they first appear; satisfaction per channel, then all."""
    first_of: dict[str, int] = {}
    for n, (name, _) in enumerate(keys):
        first_of.setdefault(name, n)

    def key(item: tuple[tuple[str, str], Any]) -> tuple[int, bool, str, int]:
        (name, channel), _ = item
        by_channel = name == "satisfaction_average"
        return first_of[name], by_channel and channel == "all", channel if by_channel else "", keys.index((name, channel))

    return key


def _judged(kpi: dict[str, Any], waits: Counter[float], templates: Mapping[str, dict[str, Any]]) -> Kpi:
    name, counts = kpi["name"], kpi["counts"]
    if name in SHARES:
        numerator, denominator = SHARES[name]
        value = ratio(counts.get(numerator, 0), sum(counts.get(c, 0) for c in denominator))
    elif name in PERCENTILES:
        ordered = [value for value, n in sorted(waits.items()) for _ in range(int(n))]
        found = percentile(ordered, PERCENTILES[name])
        value = found * 60 if found is not None else None
    else:
        raise KeyError(f"no rule to add up the KPI {name!r} over days: add it to sheets.SHARES")
    shape = templates[f"{name}|{kpi['channel']}"]
    return judged(
        name=name, channel=kpi["channel"], value=value, unit=shape["unit"],
        norm=Norm(**shape["norm"]) if shape.get("norm") else None, counts=counts, definition=shape["definition"],
    )
