"""The HTML of `kcc report`: Dutch labels for the council, inline CSS and SVG, no scripts and
nothing fetched from elsewhere. KPIs the labels below do not know are shown by their API name."""

from collections.abc import Callable
from datetime import date
from html import escape
from typing import Any
from zoneinfo import ZoneInfo

from kcc_shared.contracts import Channel

from kcc_cli.report import ReportData
from kcc_cli.report_charts import Bullet, bullet_chart, line_chart, stacked_bar_chart

AMS = ZoneInfo("Europe/Amsterdam")
CONTACT_CHANNELS = {c.value for c in Channel}

CHANNELS = {
    "telephone": "Telefonie",
    "email": "E-mail",
    "web": "Internet",
    "counter": "Balie",
    "letter": "Brieven/post",
    "social": "Sociale media",
    "callback": "Terugbelafspraken",
    "handoff": "Overdracht aan de backoffice",
    "all": "KCC als geheel",
}
KPIS = {
    "offered": "Aangeboden gesprekken",
    "service_level_abandoned_short_met": "Servicelevel (korte ophangers als op tijd)",
    "service_level_abandoned_short_excluded": "Servicelevel (korte ophangers niet meegeteld)",
    "average_speed_of_answer": "Gemiddelde wachttijd tot opnemen",
    "abandonment_rate": "Opgehangen in de wachtrij",
    "average_handle_time": "Gemiddelde gespreksduur incl. nawerk",
    "transfers_per_call": "Doorverbindingen per gesprek",
    "max_transfers_per_call": "Meeste doorverbindingen in één gesprek",
    "answered_in_time": "Op tijd beantwoord",
    "resolved_in_kcc": "In één keer afgehandeld door het KCC",
    "waiting_within_norm_walk_in": "Binnen de norm geholpen, zonder afspraak",
    "waiting_within_norm_appointment": "Binnen de norm geholpen, op afspraak",
    "waiting_p50": "Wachttijd, mediaan",
    "waiting_p90": "Wachttijd, 90e percentiel",
    "promises_kept": "Terugbelafspraken nagekomen",
    "acknowledged_in_time": "Ontvangst op tijd bevestigd",
    "first_contact_resolution": "Opgelost bij het eerste contact",
    "promises_kept_end_to_end": "Beloften na overdracht nagekomen",
    "satisfaction_average": "Rapportcijfer",
}
COUNTS = {
    "offered": "aangeboden", "answered": "beantwoord", "abandoned": "opgehangen", "answered_within": "op tijd opgenomen",
    "abandoned_within": "kort opgehangen", "threshold_s": "drempel (s)", "wait_s_total": "wachttijd totaal (s)",
    "ended": "beëindigd", "handle_s_total": "gespreksduur totaal (s)", "transfers": "doorverbindingen",
    "calls_over_limit": "boven de limiet", "received": "ontvangen", "met": "op tijd", "missed": "te laat",
    "pending": "nog binnen termijn", "resolved": "afgehandeld", "answered_in_kcc": "door het KCC",
    "visits": "bezoeken", "called": "opgeroepen", "left_uncalled": "vertrokken zonder hulp", "within": "binnen de norm",
    "limit_min": "norm (min)", "kept": "nagekomen", "broken": "niet nagekomen",
    "handoffs": "overdrachten", "answers": "antwoorden", "score_total": "som van de cijfers", "repeated": "opnieuw contact",
    "first_time": "in één keer", "not_in_kcc": "niet door het KCC", "unlinkable": "niet te koppelen",
}
WEEKDAYS = ("maandag", "dinsdag", "woensdag", "donderdag", "vrijdag", "zaterdag", "zondag")
MONTHS = ("januari", "februari", "maart", "april", "mei", "juni", "juli", "augustus", "september", "oktober", "november", "december")


def number(value: float, decimals: int = 0) -> str:
    """Dutch notation: 1.234,5."""
    text = f"{value:,.{decimals}f}"
    return text.replace(",", "\x00").replace(".", ",").replace("\x00", ".")


def formatter(unit: str) -> Callable[[float], str]:
    def share(v: float) -> str:
        return f"{number(v * 100, 1)}%"

    def seconds(v: float) -> str:
        if v < 120:
            return f"{number(v, 0 if v >= 10 or float(v).is_integer() else 1)} s"
        if v < 3 * 3600:
            minutes, rest = divmod(round(v), 60)
            return f"{minutes} min {rest:02d} s"
        return f"{number(v / 3600, 1)} uur"

    def count(v: float) -> str:
        return number(v, 0 if float(v).is_integer() or abs(v) >= 100 else 1)

    def ratio(v: float) -> str:
        return number(v, 2)

    def score(v: float) -> str:  # a rapportcijfer, as the 7,9 of the 2011 counter survey
        return number(v, 1)

    return {"share": share, "seconds": seconds, "calls": count, "per_call": ratio, "score": score}.get(unit, lambda v: number(v, 2) if not float(v).is_integer() else number(v))


def long_date(day: date) -> str:
    return f"{day.day} {MONTHS[day.month - 1]} {day.year}"


def kpi_label(kpi: dict[str, Any]) -> str:
    return KPIS.get(kpi["name"], kpi["name"].replace("_", " ").capitalize())


def norm_text(kpi: dict[str, Any]) -> str:
    norm = kpi.get("norm")
    if not norm:
        return "geen norm"
    sign = {">=": "≥", "<=": "≤"}.get(norm["comparison"], norm["comparison"])
    return f"{sign} {formatter(kpi['unit'])(norm['target'])}"


def verdict(kpi: dict[str, Any]) -> tuple[str, str]:
    """(css class, Dutch text) for whether the norm was met."""
    if kpi.get("met") is True:
        return "met", "✓ gehaald"
    if kpi.get("met") is False:
        return "missed", "✗ niet gehaald"
    if kpi.get("value") is None:
        return "none", "geen meting"
    return "none", "geen norm"


def value_text(kpi: dict[str, Any]) -> str:
    return "–" if kpi.get("value") is None else formatter(kpi["unit"])(kpi["value"])


def counts_text(counts: dict[str, float]) -> str:
    return ", ".join(f"{COUNTS.get(k, k.replace('_', ' '))}: {number(v, 0 if float(v).is_integer() else 1)}" for k, v in counts.items())


def score(kpis: list[dict[str, Any]]) -> tuple[int, int]:
    """(norms met, norms measured)."""
    judged = [k for k in kpis if k.get("met") is not None]
    return sum(1 for k in judged if k["met"]), len(judged)


def scale_max(kpi: dict[str, Any]) -> float:
    if kpi["unit"] == "share":
        return 1.0
    if kpi["unit"] == "score":
        return 10.0  # a rapportcijfer: 1 to 10
    return max(kpi["value"], kpi["norm"]["target"]) * 1.25 or 1.0


def kpi_table(kpis: list[dict[str, Any]], *, with_channel: bool = False) -> str:
    rows = []
    for kpi in kpis:
        css, text = verdict(kpi)
        channel = f'<td class="channel">{escape(CHANNELS.get(kpi["channel"], kpi["channel"]))}</td>' if with_channel else ""
        rows.append(
            f'<tr class="kpi {css}" data-kpi="{escape(kpi["name"])}" data-channel="{escape(kpi["channel"])}">{channel}'
            f'<th scope="row">{escape(kpi_label(kpi))}<div class="definition">{escape(kpi.get("definition", ""))}</div></th>'
            f'<td class="value">{escape(value_text(kpi))}</td>'
            f'<td class="norm">{escape(norm_text(kpi))}'
            + (f'<div class="source">{escape(kpi["norm"].get("source", ""))}</div>' if kpi.get("norm") else "")
            + f'</td><td class="met">{escape(text)}</td>'
            f'<td class="counts">{escape(counts_text(kpi.get("counts", {})))}</td></tr>'
        )
    head = '<th scope="col">Kanaal</th>' if with_channel else ""
    return (
        f'<table class="kpis"><thead><tr>{head}<th scope="col">Indicator</th><th scope="col">Resultaat</th>'
        '<th scope="col">Norm</th><th scope="col">Behaald</th><th scope="col">Onderbouwing</th></tr></thead>'
        f'<tbody>{"".join(rows)}</tbody></table>'
    )


def figure(svg: str, caption: str, *, kind: str, wide: bool = False) -> str:
    return f'<figure class="chart{" wide" if wide else ""}" data-chart="{kind}">{svg}<figcaption>{escape(caption)}</figcaption></figure>'


def channel_section(data: ReportData, channel: str) -> str:
    report = data.per_channel[channel]
    kpis = report["kpis"]
    name = CHANNELS.get(channel, channel)
    met, measured = score(kpis)
    summary = (
        f"{met} van de {measured} gemeten normen gehaald." if measured
        else "In deze periode is voor dit kanaal geen norm gemeten."
    )
    parts = [
        f'<section class="channel" id="kanaal-{escape(channel)}" data-channel="{escape(channel)}">',
        f"<h2>{escape(name)}</h2>",
        f'<p class="summary">{escape(summary)}</p>',
    ]
    rows = [
        Bullet(
            label=kpi_label(k), value=k["value"], target=k["norm"]["target"], comparison=k["norm"]["comparison"],
            met=k.get("met"), scale_max=scale_max(k), fmt=formatter(k["unit"]),
        )
        for k in kpis
        if k.get("value") is not None and k.get("norm")
    ]
    if rows:
        parts.append(figure(
            bullet_chart(rows, title=f"{name}: resultaat tegen de norm"),
            f"{name}: resultaat per norm over de hele periode; de zwarte streep is de norm, groen gehaald, rood niet gehaald.",
            kind="norms", wide=True,
        ))
    parts.append(kpi_table(kpis))
    trends = trend_figures(data, kpis)
    if trends:
        parts.append(f'<h3>Verloop per {escape(period_word(data))}</h3><div class="trends">{"".join(trends)}</div>')
    parts.append("</section>")
    return "".join(parts)


def period_word(data: ReportData) -> str:
    if not data.periods:
        return "periode"
    first = data.periods[0]
    if first.label.startswith("wk"):
        return "week"
    if first.first == first.last:
        return "dag"
    return "maand"


def trend_figures(data: ReportData, kpis: list[dict[str, Any]]) -> list[str]:
    """One line chart per KPI measured in at least one trend point (only with two points or more)."""
    if len(data.periods) < 2 or len(data.trend) != len(data.periods):
        return []
    labels = [p.label for p in data.periods]
    figures = []
    for kpi in kpis:
        key = (kpi["channel"], kpi["name"])
        series: list[float | None] = []
        for report in data.trend:
            match = next((k for k in report["kpis"] if (k["channel"], k["name"]) == key), None)
            series.append(match.get("value") if match else None)
        if all(v is None for v in series):
            continue
        norm = kpi.get("norm") or {}
        fmt = formatter(kpi["unit"])
        figures.append(figure(
            line_chart(
                labels, series, title=kpi_label(kpi), fmt=fmt, target=norm.get("target"), comparison=norm.get("comparison"),
                # Shares on a 0-100% axis, unless all stay low (abandonment): then zoom in.
                ceiling=1.0 if kpi["unit"] == "share" and max([*(v for v in series if v is not None), norm.get("target") or 0.0]) > 0.5 else None,
                ticks={"calls": "integer", "seconds": "seconds"}.get(kpi["unit"], "number"),
            ),
            f"{kpi_label(kpi)} per {period_word(data)}" + (f" (norm {norm_text(kpi)})" if norm else ""),
            kind="trend",
        ))
    return figures


def overview_section(data: ReportData) -> str:
    rows = []
    for channel in data.channels:
        kpis = data.per_channel[channel]["kpis"]
        met, measured = score(kpis)
        # Call-backs are not contacts of their own: no count rather than a misleading zero.
        total = sum(r.get(channel, 0) for r in data.received) if data.received and channel in CONTACT_CHANNELS else None
        rows.append(
            f'<tr data-channel="{escape(channel)}"><th scope="row"><a href="#kanaal-{escape(channel)}">{escape(CHANNELS.get(channel, channel))}</a></th>'
            f'<td class="value">{met} van {measured}</td><td class="value">{"–" if total is None else number(total)}</td></tr>'
        )
    parts = [
        '<section class="overview" id="overzicht"><h2>Overzicht</h2>',
        '<p>Servicenormen hebben pas betekenis als ze worden waargemaakt. Hieronder geven we per kanaal de '
        "resultaten weer: per norm het resultaat over de hele periode, de norm zelf, of die gehaald is en de "
        "aantallen waarop het resultaat berust, met het verloop door de periode.</p>",
        '<table class="scorecard"><thead><tr><th scope="col">Kanaal</th><th scope="col">Normen gehaald</th>'
        f'<th scope="col">Contacten ontvangen</th></tr></thead><tbody>{"".join(rows)}</tbody></table>',
    ]
    overall = [k for k in data.overall["kpis"] if k["channel"] not in data.channels]
    if overall:
        parts.append("<h3>Het KCC als geheel</h3>" + kpi_table(overall, with_channel=True))
        trends = trend_figures(data, overall)
        if trends:
            parts.append(f'<div class="trends">{"".join(trends)}</div>')
    if data.periods and data.received:
        present = sorted({c for r in data.received for c in r}, key=lambda c: (c not in CHANNELS, list(CHANNELS).index(c) if c in CHANNELS else 0, c))
        if present:
            series = {CHANNELS.get(c, c): [float(r.get(c, 0)) for r in data.received] for c in present}
            parts.append(figure(
                stacked_bar_chart([p.label for p in data.periods], series, title="Ontvangen contacten per kanaal", fmt=formatter("calls")),
                f"Kanaalmix: ontvangen contacten per kanaal per {period_word(data)}; tussen haakjes het totaal.",
                kind="channel-mix", wide=True,
            ))
    parts.append("</section>")
    return "".join(parts)


STYLE = """
:root { --ink: #1b1b1b; --muted: #5b6b7b; --line: #d9dee3; --met: #2e7d32; --missed: #c62828; --band: #f4f6f8; }
* { box-sizing: border-box; }
body { margin: 0; font-family: "DejaVu Sans", "Segoe UI", Arial, sans-serif; color: var(--ink); background: #fff; line-height: 1.45; }
main { max-width: 1180px; margin: 0 auto; padding: 28px 32px 48px; }
header { border-bottom: 4px solid #0072b2; padding-bottom: 12px; margin-bottom: 8px; }
h1 { font-size: 28px; margin: 0 0 4px; }
h2 { font-size: 22px; margin: 0 0 8px; padding-top: 8px; }
h3 { font-size: 16px; margin: 22px 0 8px; }
.period { font-size: 18px; margin: 0; }
.meta, .definition, .source, figcaption, .counts { color: var(--muted); font-size: 12px; font-weight: normal; }
table.kpis th[scope="row"] { width: 32%; }
table.kpis td.norm { width: 22%; }
table.kpis td.counts { width: 22%; }
td .source { white-space: normal; }
section { border-top: 1px solid var(--line); padding: 18px 0 10px; break-inside: avoid-page; }
.summary { font-weight: bold; }
table { border-collapse: collapse; width: 100%; margin: 8px 0 12px; font-size: 14px; }
th, td { text-align: left; vertical-align: top; padding: 6px 8px; border-bottom: 1px solid var(--line); }
thead th { background: var(--band); font-size: 13px; }
td.value { white-space: nowrap; font-weight: bold; }
td.norm, td.met { white-space: nowrap; }
tr.met td.met { color: var(--met); font-weight: bold; }
tr.missed td.met { color: var(--missed); font-weight: bold; }
tr.none td.met { color: var(--muted); }
table.scorecard { width: auto; min-width: 480px; }
figure { margin: 10px 0; }
figure.wide { max-width: 900px; }
.trends { display: grid; grid-template-columns: repeat(auto-fill, minmax(340px, 1fr)); gap: 8px 18px; }
.trends figure { margin: 0; }
a { color: #0060a0; }
@media print { main { padding: 0; } section { break-before: page; } section.overview { break-before: auto; } }
"""


def render(data: ReportData) -> str:
    period = f"{long_date(data.first)} t/m {long_date(data.last)}"
    if data.first == data.last:
        period = f"{WEEKDAYS[data.first.weekday()]} {long_date(data.first)}"
    generated = data.generated_at.astimezone(AMS)
    version = data.overall.get("definition_version", "")
    body = [
        "<header><h1>Terugblik servicenormen</h1>",
        f'<p class="period">{escape(period)}</p>',
        f'<p class="meta">Klantcontactcentrum · opgesteld op {escape(long_date(generated.date()))} om '
        f'{generated:%H:%M} uit de metingen van Contact.STAD ({escape(data.source or "metrics API")}) · '
        f"definities versie {escape(version)} · perioden in lokale tijd (Europe/Amsterdam)</p></header>",
        overview_section(data),
        *(channel_section(data, channel) for channel in data.channels),
        '<footer class="meta"><p>Elke indicator wordt bij het opvragen berekend uit de vastgelegde gebeurtenissen; '
        "een andere definitie betekent een nieuwe definitieversie en een herberekening. Werkdagen volgen de "
        "Nederlandse feestdagen.</p></footer>",
    ]
    return (
        '<!doctype html>\n<html lang="nl"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>Terugblik servicenormen {escape(period)}</title><style>{STYLE}</style></head>"
        f'<body><main>{"".join(body)}</main></body></html>\n'
    )
