"""Metrics' HTTP API."""

from datetime import date, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, Request

from kcc_metrics.models import DailyCounts, ServiceNormsReport
from kcc_metrics.service import MetricsService


def _service(request: Request) -> MetricsService:
    return request.app.state.metrics


Metrics = Annotated[MetricsService, Depends(_service)]

router = APIRouter(prefix="/v1")

ChannelName = Literal["telephone", "email", "web", "counter", "letter", "social", "callback"]


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
    first: Annotated[date, Query(alias="from", description="First local day (Europe/Amsterdam), YYYY-MM-DD")],
    last: Annotated[date, Query(alias="to", description="Last local day, inclusive, YYYY-MM-DD")],
    channel: Annotated[ChannelName | None, Query(description="Only this channel's KPIs")] = None,
    department: Annotated[str | None, Query(description="Only contacts routed to this department")] = None,
) -> ServiceNormsReport:
    if first > last:
        raise HTTPException(
            status_code=422,
            detail=[{"loc": ["query", "from"], "msg": "from must not be after to", "type": "value_error"}],
        )
    return await metrics.service_norms(first=first, last=last, channel=channel, department=department)
