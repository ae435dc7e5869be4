"""Interval reports: service level, ASA and abandonment per 15 or 30 minutes and per service
line, as contact-centre managers read them, from the counters calls.py keeps per 15 minutes."""

from collections.abc import Iterable
from datetime import date, datetime, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel, Field

from kcc_metrics.calls import summed
from kcc_metrics.models import DEFINITION_VERSION, ratio

DEFINITION = (
    "Calls by the local interval (Europe/Amsterdam) and service line of their offer. service_level = answered within the "
    "threshold / (answered + abandoned - abandoned within the threshold); average_speed_of_answer_s = mean queue wait of "
    "answered calls; abandonment_rate = abandoned (never answered) / offered."
)


class IntervalFigures(BaseModel):
    offered: int
    answered: int
    answered_within: int = Field(description="Answered within the threshold")
    abandoned: int
    abandoned_within: int = Field(description="Abandoned within the threshold (short abandons)")
    service_level: float | None = Field(description="None when no call was answered or abandoned after the threshold")
    average_speed_of_answer_s: float | None
    abandonment_rate: float | None


class IntervalRow(IntervalFigures):
    start: datetime = Field(description="Local start of the interval, with its UTC offset")
    end: datetime
    service_line: str = Field(description="A service line, or `all` for every line together")


class ServiceLineRow(IntervalFigures):
    service_line: str


class IntervalReport(BaseModel):
    from_: date = Field(serialization_alias="from")
    to: date
    minutes: Literal[15, 30]
    service_line: str | None = None
    threshold_s: float | None = Field(description="The service-level threshold the counters were kept with")
    definition: str = DEFINITION
    definition_version: str = DEFINITION_VERSION
    intervals: list[IntervalRow] = Field(description="Per interval and service line, then per interval for all lines")
    service_lines: list[ServiceLineRow] = Field(description="The whole period per service line")


def figures(rows: Iterable[dict[str, Any]]) -> dict[str, Any]:
    total = summed(rows)
    return {
        "offered": total["offered"], "answered": total["answered"], "answered_within": total["answered_within"],
        "abandoned": total["abandoned"], "abandoned_within": total["abandoned_within"],
        "service_level": ratio(total["answered_within"], total["answered"] + total["abandoned"] - total["abandoned_within"]),
        "average_speed_of_answer_s": ratio(total["wait_s_total"], total["answered"]),
        "abandonment_rate": ratio(total["abandoned"], total["offered"]),
    }


def interval_report(
    rows: list[dict[str, Any]], *, first: date, last: date, minutes: Literal[15, 30], service_line: str | None, tz: ZoneInfo
) -> IntervalReport:
    """Group 15-minute counters into `minutes`-long local intervals, per service line and for all lines."""
    groups: dict[tuple[datetime, str], list[dict[str, Any]]] = {}
    for row in rows:
        local = row["start"].astimezone(tz)
        start = local.replace(minute=local.minute - local.minute % minutes)
        groups.setdefault((start, row["service_line"]), []).append(row)
        groups.setdefault((start, "all"), []).append(row)
    intervals = [
        IntervalRow(start=start, end=start + timedelta(minutes=minutes), service_line=line, **figures(group))
        for (start, line), group in sorted(groups.items(), key=lambda item: (item[0][1] == "all", item[0][0], item[0][1]))
    ]
    lines: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        lines.setdefault(row["service_line"], []).append(row)
    return IntervalReport(
        from_=first, to=last, minutes=minutes, service_line=service_line,
        threshold_s=rows[0]["threshold_s"] if rows else None, intervals=intervals,
        service_lines=[ServiceLineRow(service_line=line, **figures(group)) for line, group in sorted(lines.items())],
    )
