"""Satisfaction (klanttevredenheid): the rapportcijfer citizens gave a contact, averaged.

An answer belongs to the period of its local day; a contact's first answer counts (one score
per contact). The channel is the contact's (contact.received); the department is that of its
first routing decision ("unrouted" without one)."""

from collections import defaultdict
from collections.abc import Iterable, Mapping
from typing import Any

from kcc_metrics.kpis.written import _aware
from kcc_metrics.models import Kpi, Norm, judged, ratio
from kcc_metrics.norms import NORM_SOURCES, NormSettings

DEFINITION = (
    "Mean rapportcijfer (1-10) of the first survey answer per contact, by local day of the answer; grouped by the "
    "contact's channel and by the department of its first routing decision."
)


def first_answers(surveys: Iterable[dict[str, Any]]) -> dict[str, int]:
    first: dict[str, tuple[Any, int]] = {}
    for fact in surveys:
        candidate = (_aware(fact["answered_at"]), fact["score"])
        if fact["contact_id"] not in first or candidate < first[fact["contact_id"]]:
            first[fact["contact_id"]] = candidate
    return {contact_id: score for contact_id, (_, score) in first.items()}


def grouped(scores: Mapping[str, int], group_of: Mapping[str, str], *, missing: str) -> dict[str, list[int]]:
    groups: dict[str, list[int]] = defaultdict(list)
    for contact_id, score in scores.items():
        groups[group_of.get(contact_id, missing)].append(score)
    return dict(sorted(groups.items()))


def satisfaction_kpis(scores: Mapping[str, int], *, channels: Mapping[str, str], norms: NormSettings) -> list[Kpi]:
    """One KPI per channel with answers, and one over all of them."""
    norm = Norm(target=norms.satisfaction_target, comparison=">=", source=NORM_SOURCES["satisfaction"])
    groups = grouped(scores, channels, missing="unknown")
    groups["all"] = list(scores.values())
    return [
        judged(
            name="satisfaction_average", channel=channel, unit="score", norm=norm, value=ratio(sum(values), len(values)),
            counts={"answers": len(values), "score_total": sum(values)}, definition=DEFINITION,
        )
        for channel, values in groups.items()
    ]
