"""Read models besides the service norms: channel mix, breakdowns, satisfaction per group, and
the live picture. Each answer carries its definition, like every KPI."""

from collections import Counter
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel, Field

from kcc_metrics import live
from kcc_metrics.calls import stages
from kcc_metrics.kpis.written import _aware
from kcc_metrics.intervals import IntervalReport, interval_report
from kcc_metrics.kpis.satisfaction import DEFINITION as SATISFACTION_DEFINITION
from kcc_metrics.models import DEFINITION_VERSION
from kcc_metrics.realtime import Realtime, snapshot
from kcc_metrics.repository import FactRepository
from kcc_metrics.service import MetricsService
from kcc_metrics.views import BREAKDOWN_DEFINITION, MIX_DEFINITION, added_rows, added_scores, channel_mix, mix_row


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
    """[answers, score total] per group as rows."""
    return [ScoreGroup(group=g, answers=n, average=total / n) for g, (n, total) in groups.items() if n]


class Reports:
    def __init__(
        self, *, repository: FactRepository, timezone: str, realtime_days: int = 14,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC), metrics: MetricsService | None = None,
    ) -> None:
        """`metrics` keeps the day sheets the views add up (by default one over `repository` with the default norms)."""
        self._repository, self._tz, self._realtime_days, self._clock = repository, ZoneInfo(timezone), realtime_days, clock
        self._metrics = metrics or MetricsService(repository=repository, timezone=timezone, clock=clock)

    async def _sheets(self, first: date, last: date) -> list[dict[str, Any]]:
        """The whole KCC's day sheets of the period: each view adds them up, one document per day."""
        days = [first + timedelta(days=n) for n in range((last - first).days + 1)]
        return await self._metrics.day_sheets(days, channel=None, department=None, leave_out=("kpis",))

    async def channel_mix(self, *, first: date, last: date, by: Literal["day", "week"]) -> ChannelMix:
        days = {date.fromisoformat(sheet["day"]): sheet["received"] for sheet in await self._sheets(first, last)}
        overall = mix_row(f"{first.isoformat()}/{last.isoformat()}", sum((Counter(c) for c in days.values()), Counter()))
        return ChannelMix(
            from_=first, to=last, by=by, total=MixRow(**overall), periods=[MixRow(**r) for r in channel_mix(days, by=by)]
        )

    async def breakdown(
        self, *, first: date, last: date, by: Literal["day", "hour", "department", "product"], channel: str | None
    ) -> Breakdown:
        rows = added_rows(await self._sheets(first, last), by=by, channel=channel)
        return Breakdown(from_=first, to=last, by=by, channel=channel, rows=[BreakdownRow(**r) for r in rows])

    async def satisfaction(self, *, first: date, last: date) -> Satisfaction:
        sheets = await self._sheets(first, last)
        by_channel, by_department = added_scores(sheets, "channel"), added_scores(sheets, "department")
        answers, total = sum(n for n, _ in by_channel.values()), sum(t for _, t in by_channel.values())
        return Satisfaction(
            from_=first, to=last, answers=answers, average=total / answers if answers else None,
            by_channel=_scores(by_channel), by_department=_scores(by_department),
        )

    async def intervals(self, *, first: date, last: date, minutes: Literal[15, 30], service_line: str | None) -> IntervalReport:
        """Telephone figures per 15 or 30 local minutes and service line: reads the period's interval counters only."""
        rows = await self._repository.intervals(first=first, last=last, service_line=service_line)
        return interval_report(rows, first=first, last=last, minutes=minutes, service_line=service_line, tz=self._tz)

    async def realtime(self) -> Realtime:
        """The live picture from the live documents: what waits now, never the period's events."""
        now = self._clock()
        today = now.astimezone(self._tz).date()
        yesterday, horizon = today - timedelta(days=1), today - timedelta(days=self._realtime_days)
        repository = self._repository
        calls = [
            {"call_id": c["_id"], "event": "offered", "at": entry["at"], "service_line": c.get("service_line")}
            for c in await repository.waiting_calls(since=yesterday)
            for entry in stages(c)["offered"][:1]
        ]
        tickets = [
            {**entry, "visit_key": d["_id"]} for d in await repository.open_documents(live.VISIT, since=yesterday) for entry in live.entries(d)
        ]
        callbacks = [
            {**entry, "callback_id": d["_id"]} for d in await repository.open_documents(live.CALLBACK, since=horizon)
            for entry in live.entries(d)
        ]
        routed, received = [], {}
        for d in await repository.open_documents(live.CONTACT, since=horizon):
            for entry in live.entries(d):
                if entry["kind"] == "received":
                    received.setdefault(d["_id"], {**entry, "contact_id": d["_id"]})
                elif entry["kind"] == "routed" and horizon <= _aware(entry["routed_at"]).astimezone(self._tz).date():
                    routed.append({**entry, "contact_id": d["_id"]})
        # A queue shows while something was put in it lately, even when nobody waits in it now.
        seen = [
            q["queue"] for q in await repository.queues_seen(since=horizon)
            if q["day"] >= yesterday.isoformat() or not q["queue"].startswith(live.LIVE_CHANNELS)
        ]
        return snapshot(
            now=now, tz=self._tz, seen=seen, calls=calls, tickets=tickets, routed=routed, resolved=[], received=received,
            callbacks=callbacks, agents=await repository.agents_on(today),
        )
