"""`kcc report --from --to`: the council's service-norm report ("Terugblik") as one
self-contained HTML file, a section per channel with its results against each norm and charts.

Everything comes from the metrics API (`/v1/service-norms`, `/v1/counts/daily` and the channel
list in `/openapi.json`); KPIs are rendered from what the API returns (name, value, unit, norm,
met, counts, definition), so a KPI added to the service appears in the report without a change here.
"""

import argparse
import asyncio
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from kcc_cli.report_api import ApiError, ApiSettings, MetricsApi, metrics_client

GRANULARITIES = ("auto", "day", "week", "month", "none")
MONTHS = ("jan", "feb", "mrt", "apr", "mei", "jun", "jul", "aug", "sep", "okt", "nov", "dec")


@dataclass(frozen=True)
class Period:
    """One point of a trend: a day, an ISO week or a month, clipped to the report's period."""

    first: date
    last: date
    label: str


@dataclass
class ReportData:
    """All the report shows, as the API returned it."""

    first: date
    last: date
    source: str
    generated_at: datetime
    channels: list[str]
    overall: dict[str, Any]  # /v1/service-norms without a channel
    per_channel: dict[str, dict[str, Any]]  # channel -> /v1/service-norms?channel=
    periods: list[Period] = field(default_factory=list)
    trend: list[dict[str, Any]] = field(default_factory=list)  # /v1/service-norms without a channel, per period
    received: list[dict[str, int]] = field(default_factory=list)  # per period: channel -> contacts received


def periods(first: date, last: date, granularity: str) -> list[Period]:
    """The trend's points; `auto` picks days up to a month, weeks up to half a year, else months."""
    days = (last - first).days + 1
    if granularity == "none":
        return []
    if granularity == "auto":
        granularity = "day" if days <= 31 else "week" if days <= 183 else "month"
    out: list[Period] = []
    start = first
    while start <= last:
        if granularity == "day":
            end, label = start, f"{start.day}-{start.month}"
        elif granularity == "week":
            end = min(start + timedelta(days=6 - start.weekday()), last)
            label = f"wk {start.isocalendar().week}"
        else:
            following = date(start.year + start.month // 12, start.month % 12 + 1, 1)
            end = min(following - timedelta(days=1), last)
            label = f"{MONTHS[start.month - 1]} {start.year}"
        out.append(Period(first=start, last=end, label=label))
        start = end + timedelta(days=1)
    return out


async def collect(api: MetricsApi, *, first: date, last: date, granularity: str = "auto", source: str = "") -> ReportData:
    """Ask the metrics API for the whole period (overall and per channel), for each trend point,
    and for the daily counts.

    A trend point is one request without a channel: it carries every channel's own KPIs, and
    the service computes each at query time from its facts, so one request per point instead of
    one per channel and point keeps a month's report to about 70 requests. The per-channel
    share resolved in the KCC therefore has no trend line (the KCC-wide one has)."""
    channels = await api.channels()
    overall, *per_channel = await asyncio.gather(
        api.service_norms(first=first, last=last),
        *(api.service_norms(first=first, last=last, channel=c) for c in channels),
    )
    points = periods(first, last, granularity)
    trend = points if len(points) > 1 else []  # one point is the whole period: no line to draw
    trend_reports = await asyncio.gather(*(api.service_norms(first=p.first, last=p.last) for p in trend))
    days = [first + timedelta(days=i) for i in range((last - first).days + 1)] if points else []
    daily = await asyncio.gather(*(api.daily_counts(day) for day in days))
    received: list[dict[str, int]] = []
    for point in points:
        totals: dict[str, int] = {}
        for day, counts in zip(days, daily):
            if point.first <= day <= point.last:
                for channel, n in counts.get("received", {}).items():
                    totals[channel] = totals.get(channel, 0) + int(n)
        received.append(totals)
    return ReportData(
        first=first,
        last=last,
        source=source,
        generated_at=datetime.now(UTC),
        channels=channels,
        overall=overall,
        per_channel=dict(zip(channels, per_channel)),
        periods=points,
        trend=list(trend_reports),
        received=received,
    )


async def build_report(api: MetricsApi, *, first: date, last: date, granularity: str = "auto", source: str = "") -> str:
    """The report as one HTML document."""
    from kcc_cli.report_html import render

    return render(await collect(api, first=first, last=last, granularity=granularity, source=source))


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {text!r}") from None


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    settings = ApiSettings()
    parser = subparsers.add_parser(
        "report",
        help="write the service-norm report per channel as one self-contained HTML file",
        description="The council's service-norm report (Terugblik): per channel the results against each "
        "norm, with charts, from the metrics API. One HTML file with inline CSS and SVG, nothing external.",
    )
    parser.add_argument("--from", dest="first", type=_day, required=True, help="first local day, YYYY-MM-DD")
    parser.add_argument("--to", dest="last", type=_day, required=True, help="last local day (inclusive), YYYY-MM-DD")
    parser.add_argument(
        "--metrics-url", default=settings.metrics_url, help="metrics service base URL (env KCC_METRICS_URL; default %(default)s)"
    )
    parser.add_argument("--out", type=Path, default=Path("report.html"), help="HTML file to write (default %(default)s)")
    parser.add_argument(
        "--granularity", choices=GRANULARITIES, default="auto",
        help="trend points: day, week, month, none; auto = days up to 31 days, weeks up to 183, else months",
    )
    parser.add_argument(
        "--timeout", type=float, default=600.0, help="seconds to wait for each answer of the metrics API (default %(default)s)"
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    if args.first > args.last:
        print(f"kcc report: --from {args.first} is after --to {args.last}", file=sys.stderr)
        return 2

    started = time.monotonic()

    def progress(answered: int) -> None:
        if sys.stderr.isatty():
            print(f"\rkcc report: {answered} answers from the metrics API, {time.monotonic() - started:.0f} s", end="", file=sys.stderr, flush=True)

    answers = 0

    async def fetch() -> str:
        nonlocal answers
        async with metrics_client(args.metrics_url, ApiSettings(), timeout_s=args.timeout) as client:
            api = MetricsApi(client, progress=progress)
            try:
                return await build_report(
                    api, first=args.first, last=args.last, granularity=args.granularity, source=args.metrics_url
                )
            finally:
                answers = api.answered

    try:
        html = asyncio.run(fetch())
    except ApiError as exc:
        print(f"\nkcc report: {exc}" if sys.stderr.isatty() else f"kcc report: {exc}", file=sys.stderr)
        return 1
    if sys.stderr.isatty():
        print(file=sys.stderr)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(html, encoding="utf-8")
    print(
        f"kcc report: wrote {args.out} ({len(html.encode()) // 1024} KiB) for {args.first} to {args.last} "
        f"from {answers} answers of the metrics API in {time.monotonic() - started:.1f} s"
    )
    return 0
