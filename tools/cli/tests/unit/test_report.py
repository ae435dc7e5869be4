"""`kcc report` without a service: trend periods, Dutch number formats, axis scales, the bearer
token, the channel list from an OpenAPI document, and a KPI the report has never heard of."""

from datetime import UTC, date, datetime

import httpx
import pytest

from kcc_cli.__main__ import build_parser, main
from kcc_cli.report import Period, ReportData, build_report, periods
from kcc_cli.report_api import ApiSettings, MetricsApi, auth_headers
from kcc_cli.report_charts import nice_scale
from kcc_cli.report_html import formatter, number, render


def test_trend_points_are_days_up_to_a_month_then_weeks_then_months() -> None:
    days = periods(date(2026, 12, 21), date(2026, 12, 24), "auto")
    assert [(p.first, p.last, p.label) for p in days] == [
        (date(2026, 12, d), date(2026, 12, d), f"{d}-12") for d in (21, 22, 23, 24)
    ]
    weeks = periods(date(2026, 11, 4), date(2026, 12, 31), "auto")  # a Wednesday to a Thursday
    assert (weeks[0].first, weeks[0].last, weeks[0].label) == (date(2026, 11, 4), date(2026, 11, 8), "wk 45")
    assert (weeks[-1].first, weeks[-1].last) == (date(2026, 12, 28), date(2026, 12, 31))
    assert all(p.first.weekday() == 0 for p in weeks[1:])
    months = periods(date(2025, 12, 15), date(2026, 12, 31), "auto")
    assert [p.label for p in months][:3] == ["dec 2025", "jan 2026", "feb 2026"]
    assert (months[0].first, months[0].last) == (date(2025, 12, 15), date(2025, 12, 31))
    assert (months[2].first, months[2].last) == (date(2026, 2, 1), date(2026, 2, 28))
    assert len(months) == 13
    assert periods(date(2026, 1, 1), date(2026, 1, 31), "none") == []
    assert len(periods(date(2026, 1, 1), date(2026, 1, 31), "week")) == 5


def test_numbers_are_written_the_dutch_way() -> None:
    assert number(1234567.891, 2) == "1.234.567,89"
    assert formatter("share")(0.8) == "80,0%"
    assert formatter("seconds")(7.25) == "7,2 s"
    assert formatter("seconds")(45) == "45 s"
    assert formatter("seconds")(312) == "5 min 12 s"
    assert formatter("seconds")(4 * 3600) == "4,0 uur"
    assert formatter("calls")(650) == "650"
    assert formatter("per_call")(4 / 3) == "1,33"
    assert formatter("score")(7.94) == "7,9"
    assert formatter("something_new")(2.5) == "2,50"


@pytest.mark.parametrize(
    ("high", "ticks", "expected"),
    [(6.3, "integer", (8.0, 2.0)), (2.2, "integer", (3.0, 1.0)), (0.0, "integer", (1.0, 1.0)),
     (0.33, "number", (0.4, 0.1)), (330.0, "seconds", (360.0, 120.0)), (11.0, "seconds", (15.0, 5.0)),
     (1150.0, "number", (1500.0, 500.0))],
)
def test_axes_use_round_steps(high: float, ticks: str, expected: tuple[float, float]) -> None:
    assert nice_scale(high, ticks=ticks) == pytest.approx(expected)


def test_the_bearer_token_prefers_the_operators_token(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("KCC_TOKEN", "KCC_TOKEN_OPS", "KCC_METRICS_URL"):
        monkeypatch.delenv(name, raising=False)
    assert auth_headers(ApiSettings()) == {}
    assert ApiSettings().metrics_url == "http://127.0.0.1:8004"
    monkeypatch.setenv("KCC_TOKEN", "general")
    assert auth_headers(ApiSettings()) == {"Authorization": "Bearer general"}
    monkeypatch.setenv("KCC_TOKEN_OPS", "ops")
    assert auth_headers(ApiSettings()) == {"Authorization": "Bearer ops"}


def kpi(name: str, channel: str, value: float | None, unit: str = "share", target: float | None = 0.8, comparison: str = ">=") -> dict:
    met = None if value is None or target is None else (value >= target if comparison == ">=" else value <= target)
    norm = None if target is None else {"target": target, "comparison": comparison, "source": "a test"}
    return {"name": name, "channel": channel, "value": value, "unit": unit, "norm": norm, "met": met, "counts": {"widgets": 3}, "definition": f"{name} defined"}


class FakeMetrics:
    """The metrics API over an httpx transport: an OpenAPI document with two channels and a
    KPI per channel, one of a kind the report does not know. Records the requests."""

    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if request.url.path == "/openapi.json":
            return httpx.Response(200, json={
                "paths": {"/v1/service-norms": {"get": {"parameters": [
                    {"name": "channel", "schema": {"anyOf": [{"$ref": "#/components/schemas/Channel"}, {"type": "null"}]}},
                ]}}},
                "components": {"schemas": {"Channel": {"enum": ["telephone", "pigeon"]}}},
            })
        if request.url.path == "/v1/counts/daily":
            return httpx.Response(200, json={"day": request.url.params["day"], "received": {"telephone": 2}, "routed": {}})
        channel = request.url.params.get("channel")
        by_channel = {
            "telephone": [kpi("abandonment_rate", "telephone", 0.5, target=0.05, comparison="<="), kpi("offered", "telephone", 4.0, unit="calls", target=None)],
            "pigeon": [kpi("feathers_per_letter", "pigeon", 7.0, unit="feathers", target=5.0, comparison=">=")],
        }
        kpis = by_channel[channel] if channel else [*by_channel["telephone"], *by_channel["pigeon"], kpi("resolved_in_kcc", "all", 0.9)]
        return httpx.Response(200, json={"from": request.url.params["from"], "to": request.url.params["to"], "definition_version": "v-test", "kpis": kpis})


async def test_the_report_renders_what_the_api_returns_even_unknown_kpis_and_sends_the_token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KCC_TOKEN_OPS", "secret-ops-token")
    fake = FakeMetrics()
    headers = auth_headers(ApiSettings())
    async with httpx.AsyncClient(transport=httpx.MockTransport(fake), base_url="http://metrics", headers=headers) as client:
        html = await build_report(MetricsApi(client), first=date(2026, 12, 21), last=date(2026, 12, 22))

    assert {r.headers.get("authorization") for r in fake.requests} == {"Bearer secret-ops-token"}
    norm_calls = [r for r in fake.requests if r.url.path == "/v1/service-norms"]
    # whole period: overall + 2 channels; trend: one request per day, without a channel
    assert [r.url.params.get("channel") for r in norm_calls].count(None) == 1 + 2
    assert len(norm_calls) == 3 + 2
    assert html.count('data-chart="trend"') == 4  # 2 telephone KPIs, 1 pigeon KPI, 1 KCC-wide
    assert html.count('<section class="channel"') == 2
    assert 'data-channel="pigeon"' in html and "Feathers per letter" in html
    assert '<td class="value">7</td><td class="norm">≥ 5<div class="source">a test</div>' in html
    assert "widgets: 3" in html and "feathers_per_letter defined" in html
    assert "Opgehangen in de wachtrij" in html and "50,0%" in html and "✗ niet gehaald" in html
    assert "Aangeboden gesprekken" in html and "geen norm" in html
    assert "definities versie v-test" in html
    assert "<script" not in html and "<link" not in html
    assert html.count("<svg") == html.count('<figure class="chart')


def test_one_day_has_no_trend_charts_and_a_missing_value_reads_as_no_measurement() -> None:
    data = ReportData(
        first=date(2026, 12, 24), last=date(2026, 12, 24), source="http://metrics", generated_at=datetime(2026, 12, 25, tzinfo=UTC),
        channels=["email"], overall={"definition_version": "v", "kpis": []},
        per_channel={"email": {"kpis": [kpi("answered_in_time", "email", None, target=0.85)]}},
        periods=[Period(date(2026, 12, 24), date(2026, 12, 24), "24-12")],
        trend=[],
        received=[{"email": 0}],
    )
    html = render(data)
    assert "donderdag 24 december 2026" in html
    assert 'data-chart="trend"' not in html and 'data-chart="norms"' not in html
    assert "geen meting" in html and "In deze periode is voor dit kanaal geen norm gemeten." in html


def test_the_cli_refuses_a_reversed_period_and_a_malformed_date(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", "--from", "2026-12-24", "--to", "2026-12-21"]) == 2
    assert "after" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        build_parser().parse_args(["report", "--from", "24-12-2026", "--to", "2026-12-21"])
    assert "not a date" in capsys.readouterr().err


def test_an_unreachable_metrics_service_is_a_message_not_a_traceback(tmp_path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "r.html"
    code = main(["report", "--from", "2026-12-21", "--to", "2026-12-21", "--metrics-url", "http://127.0.0.1:9", "--out", str(out)])
    assert code == 1
    assert "not reachable" in capsys.readouterr().err
    assert not out.exists()


def test_axis_labels_are_spread_and_keep_the_last_day_clear_of_the_one_before() -> None:
    from kcc_cli.report_charts import _labelled

    assert _labelled(3, 8) == [0, 1, 2]
    assert _labelled(30, 8) == [0, 4, 8, 12, 16, 20, 24, 29]  # not 28 and 29 side by side
    assert _labelled(31, 8) == [0, 4, 8, 12, 16, 20, 24, 30]
    assert _labelled(1, 8) == [0] and _labelled(0, 8) == []
