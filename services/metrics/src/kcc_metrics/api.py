"""Metrics' HTTP API."""

from datetime import date, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, Request, status

from kcc_metrics.intervals import IntervalReport
from kcc_metrics.models import DailyCounts, ServiceNormsReport
from kcc_metrics.realtime import Realtime
from kcc_metrics.reports import Breakdown, ChannelMix, Reports, Satisfaction
from kcc_metrics.service import MetricsService
from kcc_metrics.surveys import SurveyAccepted, SurveyAnswerIn, Surveys


def _service(request: Request) -> MetricsService:
    return request.app.state.metrics


def _reports(request: Request) -> Reports:
    return request.app.state.reports


def _surveys(request: Request) -> Surveys:
    return request.app.state.surveys


Metrics = Annotated[MetricsService, Depends(_service)]
ReadModels = Annotated[Reports, Depends(_reports)]
SurveyIntake = Annotated[Surveys, Depends(_surveys)]

router = APIRouter(prefix="/v1")

ChannelName = Literal["telephone", "email", "web", "counter", "letter", "social", "callback", "handoff"]
ContactChannel = Literal["telephone", "email", "web", "counter", "letter", "social"]
First = Annotated[date, Query(alias="from", description="First local day (Europe/Amsterdam), YYYY-MM-DD")]
Last = Annotated[date, Query(alias="to", description="Last local day, inclusive, YYYY-MM-DD")]


def _check_period(first: date, last: date) -> None:
    if first > last:
        raise HTTPException(
            status_code=422,
            detail=[{"loc": ["query", "from"], "msg": "from must not be after to", "type": "value_error"}],
        )


@router.get("/counts/daily", tags=["metrics"], summary="Contacts received and routed on one local day")
async def daily_counts(
    metrics: Metrics,
    day: Annotated[date | None, Query(description="Local date (Europe/Amsterdam); default today")] = None,
) -> DailyCounts:
    return await metrics.daily_counts(day or metrics.local_day(datetime.now().astimezone()))


@router.get(
    "/service-norms",
    tags=["metrics"],
    summary="Per KPI over a period: value, norm, met or not, the counts behind it, and its definition",
    response_model_by_alias=True,
)
async def service_norms(
    metrics: Metrics,
    first: First,
    last: Last,
    channel: Annotated[ChannelName | None, Query(description="Only this channel's KPIs")] = None,
    department: Annotated[str | None, Query(description="Only contacts routed to this department")] = None,
) -> ServiceNormsReport:
    _check_period(first, last)
    return await metrics.service_norms(first=first, last=last, channel=channel, department=department)


@router.get("/channel-mix", tags=["metrics"], summary="Contacts per channel and share, per local day or ISO week (kanaalsturing)",
            response_model_by_alias=True)
async def channel_mix(
    reports: ReadModels, first: First, last: Last,
    by: Annotated[Literal["day", "week"], Query(description="Group per local day or ISO week")] = "day",
) -> ChannelMix:
    _check_period(first, last)
    return await reports.channel_mix(first=first, last=last, by=by)


@router.get("/breakdown", tags=["metrics"], summary="Contacts by local day, hour, department or UPL product",
            response_model_by_alias=True)
async def breakdown(
    reports: ReadModels, first: First, last: Last,
    by: Annotated[Literal["day", "hour", "department", "product"], Query(description="What to group on")],
    channel: Annotated[ContactChannel | None, Query(description="Only contacts of this channel")] = None,
) -> Breakdown:
    _check_period(first, last)
    return await reports.breakdown(first=first, last=last, by=by, channel=channel)


@router.get("/satisfaction", tags=["satisfaction"], summary="Average rapportcijfer per channel and department, with counts",
            response_model_by_alias=True)
async def satisfaction(reports: ReadModels, first: First, last: Last) -> Satisfaction:
    _check_period(first, last)
    return await reports.satisfaction(first=first, last=last)


@router.post(
    "/satisfaction", tags=["satisfaction"], summary="A citizen's rapportcijfer (1-10) for one contact",
    status_code=status.HTTP_202_ACCEPTED,
    responses={422: {"description": "A field is missing or invalid: `detail` names it and says why"}},
)
async def answer_survey(answer: SurveyAnswerIn, surveys: SurveyIntake) -> SurveyAccepted:
    return await surveys.answer(answer)


@router.get(
    "/intervals", tags=["metrics"], response_model_by_alias=True,
    summary="Telephone service level, ASA and abandonment per 15 or 30 minutes and per service line",
)
async def intervals(
    reports: ReadModels, first: First, last: Last,
    # An int in 15..30 stepping by 15: a Literal of ints would refuse the query string "30".
    minutes: Annotated[int, Query(ge=15, le=30, multiple_of=15, description="Interval length: 15 or 30 minutes (local time)")] = 15,
    service_line: Annotated[str | None, Query(description="Only this service line (e.g. belastingen)", max_length=100)] = None,
) -> IntervalReport:
    """Per local interval and service line, then per interval for all lines, then the period per line.

    Each call counts in the interval of its offer; answered, abandoned and waits are the call's, whenever
    those events arrived. Reads one small document per 15 minutes and service line."""
    _check_period(first, last)
    return await reports.intervals(first=first, last=last, minutes=15 if minutes == 15 else 30, service_line=service_line)


@router.get("/realtime", tags=["metrics"], summary="Contacts waiting per queue, oldest wait, agents available, call-backs due")
async def realtime(reports: ReadModels) -> Realtime:
    return await reports.realtime()
