"""Metrics' HTTP API."""

from datetime import date, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request

from kcc_metrics.models import DailyCounts
from kcc_metrics.service import MetricsService


def _service(request: Request) -> MetricsService:
    return request.app.state.metrics


Metrics = Annotated[MetricsService, Depends(_service)]

router = APIRouter(prefix="/v1")


@router.get("/counts/daily", tags=["metrics"], summary="Contacts received and routed on one local day")
async def daily_counts(
    metrics: Metrics,
    day: Annotated[date | None, Query(description="Local date (Europe/Amsterdam); default today")] = None,
) -> DailyCounts:
    return await metrics.daily_counts(day or metrics.local_day(datetime.now().astimezone()))
