from datetime import date
from typing import Literal

from pydantic import BaseModel, Field

# Bump when a KPI's definition changes: figures are then recomputed from the facts (a rebuild),
# never migrated by hand.
DEFINITION_VERSION = "2026-12-07.2"  # counter appointments kept, appointment waits from the planned time; written channels answered by the reply sent


class DailyCounts(BaseModel):
    """Contacts counted on one local day (Europe/Amsterdam)."""

    day: date
    received: dict[str, int] = Field(description="Contacts received per channel")
    routed: dict[str, int] = Field(description="Routing decisions per decision kind")


class Norm(BaseModel):
    target: float = Field(description="The value the KPI must reach (or stay under)")
    comparison: Literal[">=", "<="]
    source: str = Field(description="Where the default comes from")


class Kpi(BaseModel):
    """One KPI over a period: its value, its norm, whether the norm was met, and the counts behind it."""

    name: str
    channel: str
    value: float | None = Field(description="None when there is nothing to measure yet")
    unit: Literal["share", "seconds", "calls", "per_call", "score"]
    norm: Norm | None = None
    met: bool | None = Field(default=None, description="None without a norm or without a value")
    counts: dict[str, float] = Field(default_factory=dict)
    definition: str


class ServiceNormsReport(BaseModel):
    from_: date = Field(alias="from", serialization_alias="from")
    to: date
    channel: str | None = None
    department: str | None = None
    definition_version: str = DEFINITION_VERSION
    kpis: list[Kpi]

    model_config = {"populate_by_name": True}


def judged(
    *, name: str, channel: str, value: float | None, unit: str, norm: Norm | None, counts: dict[str, float], definition: str
) -> Kpi:
    """A KPI with `met` decided from its value and norm."""
    met = None
    if norm is not None and value is not None:
        met = value >= norm.target if norm.comparison == ">=" else value <= norm.target
    return Kpi(name=name, channel=channel, value=value, unit=unit, norm=norm, met=met, counts=counts, definition=definition)


def ratio(numerator: float, denominator: float) -> float | None:
    return numerator / denominator if denominator else None
