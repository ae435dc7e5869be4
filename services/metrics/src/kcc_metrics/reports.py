"""Read models besides the service norms: channel mix, breakdowns, satisfaction per group, and
the live picture. Each answer carries its definition, like every KPI."""

from collections import Counter
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel, Field

from kcc_metrics.kpis.satisfaction import DEFINITION as SATISFACTION_DEFINITION
from kcc_metrics.kpis.satisfaction import first_answers, grouped
from kcc_metrics.models import DEFINITION_VERSION
from kcc_metrics.realtime import Realtime, snapshot
from kcc_metrics.repository import FactRepository
from kcc_metrics.views import BREAKDOWN_DEFINITION, MIX_DEFINITION, breakdown, channel_mix, first_routed, mix_row


class MixRow(BaseModel):
    period: str = Field(description="Local day (YYYY-MM-DD) or ISO week (YYYY-Www)")
    total: int
    counts: dict[str, int]
    shares: dict[str, float]


class ChannelMix(BaseModel):
    from_: date = Field(serialization_alias="from")
    to: date
    by: Literal["day", "week"]
    definition: str = MIX_DEFINITION
    definition_version: str = DEFINITION_VERSION
    total: MixRow
    periods: list[MixRow]


class BreakdownRow(BaseModel):
    key: str
    received: int
    resolved: int
    answered_in_kcc: int
    handed_off: int


class Breakdown(BaseModel):
    from_: date = Field(serialization_alias="from")
    to: date
    by: Literal["day", "hour", "department", "product"]
    channel: str | None = None
    definition: str = BREAKDOWN_DEFINITION
    definition_version: str = DEFINITION_VERSION
    rows: list[BreakdownRow]


class ScoreGroup(BaseModel):
    group: str
    answers: int
    average: float


class Satisfaction(BaseModel):
    from_: date = Field(serialization_alias="from")
    to: date
    definition: str = SATISFACTION_DEFINITION
    definition_version: str = DEFINITION_VERSION
    answers: int
    average: float | None
    by_channel: list[ScoreGroup]
    by_department: list[ScoreGroup]


def _scores(groups: dict[str, list[int]]) -> list[ScoreGroup]:
    return [ScoreGroup(group=g, answers=len(v), average=sum(v) / len(v)) for g, v in groups.items()]


class Reports:
    def __init__(
        self, *, repository: FactRepository, timezone: str, realtime_days: int = 14,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._repository, self._tz, self._realtime_days, self._clock = repository, ZoneInfo(timezone), realtime_days, clock

    async def channel_mix(self, *, first: date, last: date, by: Literal["day", "week"]) -> ChannelMix:
        received = await self._repository.in_period(kind="received", first=first, last=last)
        overall = mix_row(f"{first.isoformat()}/{last.isoformat()}", Counter(f["channel"] for f in received))
        return ChannelMix(
            from_=first, to=last, by=by, total=MixRow(**overall), periods=[MixRow(**r) for r in channel_mix(received, by=by, tz=self._tz)]
        )

    async def breakdown(
        self, *, first: date, last: date, by: Literal["day", "hour", "department", "product"], channel: str | None
    ) -> Breakdown:
        received = [
            f for f in await self._repository.in_period(kind="received", first=first, last=last) if channel in (None, f["channel"])
        ]
        ids = sorted({f["contact_id"] for f in received})
        routed = first_routed(await self._repository.where_in(kind="routed", field="contact_id", values=ids))
        resolved = await self._repository.where_in(kind="resolved", field="contact_id", values=ids)
        rows = breakdown(received, by=by, first_routed=routed, resolved=resolved, tz=self._tz)
        return Breakdown(from_=first, to=last, by=by, channel=channel, rows=[BreakdownRow(**r) for r in rows])

    async def satisfaction(self, *, first: date, last: date) -> Satisfaction:
        scores = first_answers(await self._repository.in_period(kind="survey", first=first, last=last))
        ids = sorted(scores)
        channels = {
            f["contact_id"]: f["channel"]
            for f in await self._repository.where_in(kind="received", field="contact_id", values=ids)
        }
        routed = first_routed(await self._repository.where_in(kind="routed", field="contact_id", values=ids))
        departments = {cid: f.get("department_id") or "unrouted" for cid, f in routed.items()}
        values = list(scores.values())
        return Satisfaction(
            from_=first, to=last, answers=len(values), average=sum(values) / len(values) if values else None,
            by_channel=_scores(grouped(scores, channels, missing="unknown")),
            by_department=_scores(grouped(scores, departments, missing="unrouted")),
        )

    async def realtime(self) -> Realtime:
        now = self._clock()
        today = now.astimezone(self._tz).date()
        yesterday, horizon = today - timedelta(days=1), today - timedelta(days=self._realtime_days)
        routed = await self._repository.in_period(kind="routed", first=horizon, last=today)
        resolved = await self._repository.in_period(kind="resolved", first=horizon, last=today)
        done = {f["contact_id"] for f in resolved}
        waiting_ids = sorted({f["contact_id"] for f in routed} - done)
        received = {
            f["contact_id"]: f
            for f in await self._repository.where_in(kind="received", field="contact_id", values=waiting_ids)
        }
        return snapshot(
            now=now, tz=self._tz,
            calls=await self._repository.in_period(kind="call", first=yesterday, last=today),
            tickets=await self._repository.in_period(kind="counter", first=yesterday, last=today),
            routed=routed, resolved=resolved, received=received,
            callbacks=await self._repository.in_period(kind="callback", first=horizon, last=today),
            agents=await self._repository.in_period(kind="agent", first=today, last=today),
        )
