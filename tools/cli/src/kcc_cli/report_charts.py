"""Inline SVG charts for `kcc report`: plain strings, no JavaScript, no external assets, so the
report stays one self-contained file that a browser, a mail client or a print shop can open.

Each function returns one `<svg>` element sized by its viewBox (it scales to the page width)."""

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from html import escape

MET = "#2e7d32"
MISSED = "#c62828"
NEUTRAL = "#5b6b7b"
NORM = "#1b1b1b"
GRID = "#d9dee3"
TEXT = "#1b1b1b"
MUTED = "#5b6b7b"
# Distinguishable for the common colour-vision deficiencies (Okabe-Ito), then greys.
SERIES = ("#0072b2", "#e69f00", "#009e73", "#cc79a7", "#56b4e9", "#d55e00", "#f0e442", "#7f7f7f", "#b3b3b3")

Formatter = Callable[[float], str]


# Tick steps for durations: whole seconds, then minutes, then hours.
SECOND_STEPS = (1, 2, 5, 10, 15, 20, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400)


def nice_scale(high: float, *, ticks: str = "number", intervals: int = 4) -> tuple[float, float]:
    """(top, step) of an axis from 0 that holds `high` in about `intervals` round steps:
    1-2-2.5-5 x 10^k for numbers, whole numbers for counts, round durations for seconds."""
    high = max(high, 0.0)
    raw = high / intervals if high > 0 else 1.0 / intervals
    if ticks == "seconds":
        step = next((float(s) for s in SECOND_STEPS if s >= raw), math.ceil(raw / 86400) * 86400.0)
    else:
        magnitude = 10 ** math.floor(math.log10(raw))
        step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw - 1e-12)
        if ticks == "integer":
            step = max(1.0, math.ceil(step))
    top = step * max(1, math.ceil(high / step - 1e-9))
    return top, step


def _labelled(n: int, most: int) -> list[int]:
    """Which of n axis positions get a label: evenly spaced, at most about `most`, always the
    first and the last, and never two crowded together at the end."""
    if n <= 0:
        return []
    every = max(1, -(-n // most))
    chosen = list(range(0, n, every))
    if chosen[-1] != n - 1:
        if n - 1 - chosen[-1] < every * 0.75 and len(chosen) > 1:
            chosen[-1] = n - 1
        else:
            chosen.append(n - 1)
    return chosen


def _open(width: int, height: int, title: str) -> str:
    return (
        f'<svg viewBox="0 0 {width} {height}" width="100%" '
        f'role="img" aria-label="{escape(title)}" font-family="inherit" font-size="13">'
        f"<title>{escape(title)}</title>"
    )


def _text(x: float, y: float, text: str, *, anchor: str = "start", size: int = 13, fill: str = TEXT, weight: str = "normal") -> str:
    return (
        f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}" font-size="{size}" fill="{fill}" '
        f'font-weight="{weight}">{escape(text)}</text>'
    )


@dataclass(frozen=True)
class Bullet:
    """One row of a bullet chart: a KPI's value against its target."""

    label: str
    value: float
    target: float
    comparison: str  # ">=" or "<="
    met: bool | None
    scale_max: float
    fmt: Formatter


def bullet_chart(rows: Sequence[Bullet], *, title: str) -> str:
    """Horizontal bars, one per KPI, each on its own scale, with the norm as a black tick."""
    label_w, bar_w, value_w, row_h, top = 330, 420, 150, 38, 8
    width, height = label_w + bar_w + value_w, top + row_h * len(rows) + 6
    parts = [_open(width, height, title)]
    for i, row in enumerate(rows):
        y = top + i * row_h
        scale = row.scale_max or 1.0
        filled = max(0.0, min(row.value / scale, 1.0)) * bar_w
        target_x = label_w + max(0.0, min(row.target / scale, 1.0)) * bar_w
        colour = MET if row.met else MISSED if row.met is False else NEUTRAL
        parts.append(_text(label_w - 10, y + 20, row.label, anchor="end"))
        parts.append(f'<rect x="{label_w}" y="{y + 6}" width="{bar_w}" height="20" fill="#eef1f4"/>')
        parts.append(f'<rect x="{label_w}" y="{y + 6}" width="{filled:.1f}" height="20" fill="{colour}"/>')
        parts.append(f'<line x1="{target_x:.1f}" x2="{target_x:.1f}" y1="{y + 1}" y2="{y + 31}" stroke="{NORM}" stroke-width="3"/>')
        verdict = "✓" if row.met else "✗" if row.met is False else ""
        parts.append(_text(label_w + bar_w + 10, y + 15, f"{row.fmt(row.value)} {verdict}".strip(), weight="bold", fill=colour))
        parts.append(_text(label_w + bar_w + 10, y + 30, f"norm {row.comparison.replace('>=', '≥').replace('<=', '≤')} {row.fmt(row.target)}", size=11, fill=MUTED))
    parts.append("</svg>")
    return "".join(parts)


def line_chart(
    labels: Sequence[str],
    values: Sequence[float | None],
    *,
    title: str,
    fmt: Formatter,
    target: float | None = None,
    comparison: str | None = None,
    ceiling: float | None = None,
    ticks: str = "number",
) -> str:
    """A KPI per period (day, week, month) as a line with dots; gaps where nothing was measured;
    the norm as a dashed line, dots coloured by whether that period met it."""
    width, height, left, right, top, bottom = 440, 200, 62, 14, 28, 42
    plot_w, plot_h = width - left - right, height - top - bottom
    known = [v for v in values if v is not None]
    low = 0.0
    if ceiling is None:
        high, step = nice_scale(max([*known, target or 0.0, 0.0]) * 1.05, ticks=ticks)
    else:
        high, step = ceiling, ceiling / 4

    def y_of(value: float) -> float:
        return top + plot_h - (value - low) / (high - low) * plot_h

    n = len(labels)
    x_step = plot_w / max(n - 1, 1)

    def x_of(i: int) -> float:
        return left + (i * x_step if n > 1 else plot_w / 2)

    parts = [_open(width, height, title), _text(left, 16, title, size=13, weight="bold")]
    for k in range(round((high - low) / step) + 1):
        value = low + step * k
        y = y_of(value)
        parts.append(f'<line x1="{left}" x2="{width - right}" y1="{y:.1f}" y2="{y:.1f}" stroke="{GRID}" stroke-width="1"/>')
        parts.append(_text(left - 6, y + 4, fmt(value), anchor="end", size=10, fill=MUTED))
    for i in _labelled(n, 8):
        parts.append(_text(x_of(i), height - bottom + 16, labels[i], anchor="middle", size=10, fill=MUTED))
    if target is not None:
        y = y_of(target)
        parts.append(
            f'<line x1="{left}" x2="{width - right}" y1="{y:.1f}" y2="{y:.1f}" stroke="{NORM}" '
            f'stroke-width="1.5" stroke-dasharray="6 4"/>'
        )
        parts.append(_text(width - right, y - 5, f"norm {fmt(target)}", anchor="end", size=10))
    segment: list[str] = []
    segments: list[list[str]] = []
    for i, value in enumerate(values):
        if value is None:
            if segment:
                segments.append(segment)
            segment = []
            continue
        segment.append(f"{x_of(i):.1f},{y_of(value):.1f}")
    if segment:
        segments.append(segment)
    for points in segments:
        if len(points) > 1:
            parts.append(f'<polyline points="{" ".join(points)}" fill="none" stroke="{SERIES[0]}" stroke-width="2"/>')
    for i, value in enumerate(values):
        if value is None:
            continue
        met = None
        if target is not None and comparison in (">=", "<="):
            met = value >= target if comparison == ">=" else value <= target
        colour = MET if met else MISSED if met is False else SERIES[0]
        parts.append(f'<circle cx="{x_of(i):.1f}" cy="{y_of(value):.1f}" r="3.5" fill="{colour}"><title>{escape(labels[i])}: {escape(fmt(value))}</title></circle>')
    parts.append(
        f'<line x1="{left}" x2="{width - right}" y1="{top + plot_h}" y2="{top + plot_h}" stroke="{MUTED}" stroke-width="1"/>'
    )
    parts.append("</svg>")
    return "".join(parts)


def stacked_bar_chart(
    labels: Sequence[str], series: dict[str, Sequence[float]], *, title: str, fmt: Formatter
) -> str:
    """Counts per period stacked by series (e.g. contacts per channel per day), with a legend."""
    width, left, right, top, bottom = 900, 56, 14, 14, 40
    legend_rows = -(-len(series) // 5)
    height = top + 230 + bottom + legend_rows * 20
    plot_w, plot_h = width - left - right, 230
    totals = [sum(values[i] for values in series.values()) for i in range(len(labels))]
    high, step = nice_scale(max([*totals, 1.0]) * 1.05, ticks="integer")
    n = max(len(labels), 1)
    slot = plot_w / n
    bar = max(min(slot * 0.7, 60.0), 1.0)
    parts = [_open(width, height, title)]
    for k in range(round(high / step) + 1):
        value = step * k
        y = top + plot_h - value / high * plot_h
        parts.append(f'<line x1="{left}" x2="{width - right}" y1="{y:.1f}" y2="{y:.1f}" stroke="{GRID}"/>')
        parts.append(_text(left - 6, y + 4, fmt(value), anchor="end", size=10, fill=MUTED))
    labelled = set(_labelled(len(labels), 12))
    for i, label in enumerate(labels):
        x = left + slot * i + (slot - bar) / 2
        base = top + plot_h
        for s, (name, values) in enumerate(series.items()):
            h = values[i] / high * plot_h
            if h <= 0:
                continue
            base -= h
            parts.append(
                f'<rect x="{x:.1f}" y="{base:.1f}" width="{bar:.1f}" height="{h:.1f}" fill="{SERIES[s % len(SERIES)]}">'
                f"<title>{escape(label)} · {escape(name)}: {escape(fmt(values[i]))}</title></rect>"
            )
        if i in labelled:
            parts.append(_text(x + bar / 2, top + plot_h + 16, label, anchor="middle", size=10, fill=MUTED))
    parts.append(f'<line x1="{left}" x2="{width - right}" y1="{top + plot_h}" y2="{top + plot_h}" stroke="{MUTED}"/>')
    for s, (name, values) in enumerate(series.items()):
        x = left + (s % 5) * 168
        y = top + plot_h + bottom + (s // 5) * 20
        parts.append(f'<rect x="{x}" y="{y - 10}" width="12" height="12" fill="{SERIES[s % len(SERIES)]}"/>')
        parts.append(_text(x + 18, y, f"{name} ({fmt(sum(values))})", size=12))
    parts.append("</svg>")
    return "".join(parts)
