"""Server-side SVG charts: pure functions from numbers to an SVG string.

The pages draw their charts here rather than with a JavaScript library, so a chart needs no
script (the Content-Security-Policy forbids inline ones), works without JavaScript and is
readable without hovering: it has axes with round ticks, a unit label, a title, and a summary
line that prints the largest and the last value (and the total). Each bar or point also carries
its exact value as an SVG ``<title>`` (the browser's tooltip, and what screen readers read).

Every chart is sized by its ``viewBox`` only (no width or height attribute), so CSS scales it
(``svg.chart { width: 100%; height: auto }``). Every piece of text is escaped, and characters
XML cannot hold are dropped, so a hostile title cannot break out of the markup; the SVG holds no
script and no event attribute, and may be inlined in a page or served as ``image/svg+xml``.

- :func:`daily_chart`: one value per day (lookups per day, new tracks per day) as bars or a line.
- :func:`histogram_chart`: counts per bucket 0..10, the last bucket meaning "10 or more"
  (tracks per recording, recordings per track).
- :func:`last_days`: a complete run of days ending at a given day, missing days as 0.
"""

from __future__ import annotations

import html
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, timedelta
from typing import Final, Literal

__all__ = ["daily_chart", "format_number", "histogram_chart", "last_days", "nice_ticks"]

WIDTH: Final = 640
HEIGHT: Final = 280
_TOP: Final = 74  # below the title, the summary line and the unit label
_BOTTOM: Final = 48  # room for the x tick labels and the x axis caption
_RIGHT: Final = 16
_CHAR_WIDTH: Final = 6.5  # average width of a digit at font-size 11, for the left margin

_TEXT: Final = "#222"
_MUTED: Final = "#555"
_GRID: Final = "#ddd"
_BAR: Final = "#3b6ea5"

_MONTHS: Final = (
    "Jan",
    "Feb",
    "Mar",
    "Apr",
    "May",
    "Jun",
    "Jul",
    "Aug",
    "Sep",
    "Oct",
    "Nov",
    "Dec",
)

# Characters XML 1.0 cannot hold (controls other than tab/newline/return, lone surrogates,
# U+FFFE/U+FFFF): dropped from text so that the SVG stays well-formed whatever the caller gives.
_NOT_XML: Final = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")

ChartKind = Literal["bar", "line"]


def _esc(text: str) -> str:
    return html.escape(_NOT_XML.sub("", text), quote=True)


def format_number(value: float) -> str:
    """``value`` with thousands separators: ``1234567`` → ``1,234,567``, ``2.5`` → ``2.5``."""
    if float(value).is_integer():
        return f"{int(value):,}"
    return f"{value:,.2f}".rstrip("0").rstrip(".")


def _compact(value: float) -> str:
    """A short form for labels over narrow bars: ``99,999``, then ``123k``, ``1.2M``, ``3.4G``."""
    if value < 100_000:
        return format_number(round(value, 2))
    for divisor, suffix in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")):
        if value >= divisor:
            scaled = value / divisor
            return f"{scaled:.1f}{suffix}" if scaled < 10 else f"{scaled:,.0f}{suffix}"
    return format_number(value)  # pragma: no cover - every value >= 100 000 has a suffix


def nice_ticks(maximum: float, count: int = 5, *, integer: bool = True) -> list[float]:
    """Round tick values from 0 to at least ``maximum``: steps of 1, 2 or 5 times a power of
    ten, about ``count`` of them; ``integer`` keeps steps whole (counts). 0 gives [0, 1]."""
    if not math.isfinite(maximum) or maximum < 0:
        raise ValueError(f"tick maximum must be finite and not negative, not {maximum!r}")
    if maximum == 0:
        return [0.0, 1.0]
    raw = maximum / max(count, 1)
    magnitude = 10.0 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw)
    if integer:
        step = max(1.0, round(step))
    steps = math.ceil(maximum / step - 1e-9)
    return [i * step for i in range(steps + 1)]


def _tick_label(value: float, step: float) -> str:
    if step >= 1:
        return format_number(round(value))
    decimals = max(0, -math.floor(math.log10(step)))
    return f"{value:,.{decimals}f}"


def _check_values(values: Iterable[float]) -> None:
    for value in values:
        if not math.isfinite(value) or value < 0:
            raise ValueError(f"chart values must be finite and not negative, not {value!r}")


def _day_label(day: date) -> str:
    return f"{day.day} {_MONTHS[day.month - 1]}"


def _date_range(first: date, last: date) -> str:
    if first == last:
        return f"{_day_label(first)} {first.year}"
    if first.year == last.year:
        return f"{_day_label(first)} to {_day_label(last)} {last.year}"
    return f"{_day_label(first)} {first.year} to {_day_label(last)} {last.year}"


def last_days(values: Mapping[date, float], end: date, days: int = 30) -> list[tuple[date, float]]:
    """The ``days`` days ending with ``end`` (oldest first), each with its value from
    ``values`` or 0: what a "last 30 days" chart shows, days without a roll-up row included."""
    if days < 1:
        raise ValueError("days must be at least 1")
    start = end - timedelta(days=days - 1)
    return [(day, values.get(day, 0)) for day in (start + timedelta(n) for n in range(days))]


class _Frame:
    """The plot area of a chart and the value → y mapping of its y axis."""

    def __init__(self, maximum: float, integer: bool) -> None:
        self.ticks = nice_ticks(maximum, integer=integer)
        step = self.ticks[1] - self.ticks[0]
        self.labels = [_tick_label(tick, step) for tick in self.ticks]
        widest = max(len(label) for label in self.labels)
        self.left = 16 + widest * _CHAR_WIDTH
        self.right = WIDTH - _RIGHT
        self.top = float(_TOP)
        self.bottom = float(HEIGHT - _BOTTOM)

    def y(self, value: float) -> float:
        top_value = self.ticks[-1]
        return self.bottom - (self.bottom - self.top) * (value / top_value)

    def svg(self, unit: str, caption: str) -> list[str]:
        """The y grid, tick labels and unit, the axes and the x caption."""
        out = []
        for tick, label in zip(self.ticks, self.labels, strict=True):
            y = self.y(tick)
            out.append(
                f'<line class="chart-grid" x1="{self.left:.1f}" y1="{y:.1f}" x2="{self.right:.1f}"'
                f' y2="{y:.1f}" stroke="{_GRID}" stroke-width="1"/>'
            )
            out.append(
                f'<text class="chart-tick" x="{self.left - 6:.1f}" y="{y + 4:.1f}" '
                f'text-anchor="end" font-size="11" fill="{_MUTED}">{_esc(label)}</text>'
            )
        out.append(
            f'<text class="chart-unit" x="{self.left - 6:.1f}" y="{self.top - 14:.1f}" '
            f'font-size="11" fill="{_MUTED}">{_esc(unit)}</text>'
        )
        out.append(
            f'<path class="chart-axis" d="M{self.left:.1f},{self.top:.1f}V{self.bottom:.1f}'
            f'H{self.right:.1f}" fill="none" stroke="{_MUTED}" stroke-width="1"/>'
        )
        out.append(
            f'<text class="chart-caption" x="{(self.left + self.right) / 2:.1f}" '
            f'y="{HEIGHT - 8}" text-anchor="middle" font-size="11" fill="{_MUTED}">'
            f"{_esc(caption)}</text>"
        )
        return out


def _document(title: str, summary: str, body: list[str]) -> str:
    head = (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'role="img" aria-label="{_esc(title)}. {_esc(summary)}" font-family="sans-serif">'
    )
    texts = [
        f"<title>{_esc(title)}</title>",
        f"<desc>{_esc(summary)}</desc>",
        f'<text class="chart-title" x="16" y="22" font-size="15" font-weight="bold" '
        f'fill="{_TEXT}">{_esc(title)}</text>',
        f'<text class="chart-summary" x="16" y="42" font-size="12" fill="{_TEXT}">'
        f"{_esc(summary)}</text>",
    ]
    return "".join([head, *texts, *body, "</svg>"])


def _no_data(frame: _Frame) -> str:
    return (
        f'<text class="chart-empty" x="{(frame.left + frame.right) / 2:.1f}" '
        f'y="{(frame.top + frame.bottom) / 2:.1f}" text-anchor="middle" font-size="13" '
        f'fill="{_MUTED}">No data yet</text>'
    )


def daily_chart(
    points: Sequence[tuple[date, float]],
    *,
    title: str,
    unit: str,
    kind: ChartKind = "bar",
) -> str:
    """One value per day as an SVG bar (or line) chart.

    ``points`` are (day, value) pairs in any order, values finite and not negative, each day at
    most once; days between the first and the last that have no point stay empty (use
    :func:`last_days` to show them as 0). ``unit`` names what is counted ("lookups"): it labels
    the y axis and the tooltips. The summary line prints the largest value and its day, the last
    value and the total; the largest bar (when above 0) also carries its value.
    """
    if kind not in ("bar", "line"):
        raise ValueError(f"kind must be 'bar' or 'line', not {kind!r}")
    ordered = sorted(points, key=lambda point: point[0])
    days = [day for day, _ in ordered]
    if len(set(days)) != len(days):
        raise ValueError("a day appears twice in the chart's points")
    values = [float(value) for _, value in ordered]
    _check_values(values)
    integer = all(value.is_integer() for value in values)
    frame = _Frame(max(values, default=0.0), integer)
    if not ordered:
        return _document(title, "No data", [*frame.svg(unit, "day"), _no_data(frame)])

    first, last = days[0], days[-1]
    span = (last - first).days + 1
    slot = (frame.right - frame.left) / span
    peak = max(range(len(values)), key=lambda i: (values[i], i))  # the latest of equal maxima
    summary = (
        f"Max {format_number(values[peak])} {unit} on {_day_label(days[peak])}"
        f" · last {format_number(values[-1])} on {_day_label(last)}"
        f" · total {format_number(sum(values))}"
    )

    body = frame.svg(unit, _date_range(first, last))
    body += _day_ticks(frame, first, span, slot)
    marks: list[str] = []
    line: list[str] = []
    for index, (day, value) in enumerate(zip(days, values, strict=True)):
        centre = frame.left + slot * ((day - first).days + 0.5)
        y = frame.y(value)
        tip = f"<title>{_esc(f'{day.isoformat()}: {format_number(value)} {unit}')}</title>"
        if kind == "bar":
            width = min(max(slot * 0.8, 0.5), 48.0)
            marks.append(
                f'<rect class="chart-bar" x="{centre - width / 2:.2f}" y="{y:.2f}" '
                f'width="{width:.2f}" height="{frame.bottom - y:.2f}" fill="{_BAR}">{tip}</rect>'
            )
        else:
            line.append(f"{centre:.2f},{y:.2f}")
            marks.append(
                f'<circle class="chart-point" cx="{centre:.2f}" cy="{y:.2f}" r="3" '
                f'fill="{_BAR}">{tip}</circle>'
            )
        if index == peak and value > 0:
            marks.append(
                f'<text class="chart-peak" x="{centre:.2f}" y="{y - 5:.2f}" text-anchor="middle"'
                f' font-size="10" fill="{_TEXT}">{_esc(_compact(value))}</text>'
            )
    if len(line) > 1:
        body.append(
            f'<polyline class="chart-line" points="{" ".join(line)}" fill="none" '
            f'stroke="{_BAR}" stroke-width="2"/>'
        )
    return _document(title, summary, body + marks)


def _day_ticks(frame: _Frame, first: date, span: int, slot: float) -> list[str]:
    """Labels under the x axis: at most about 8, counted back from the last day (the newest
    matters most), one a week over a month."""
    if span <= 8:
        step = 1
    elif span <= 16:
        step = 2
    elif span <= 56:
        step = 7
    else:
        step = math.ceil(span / 8)
    out = []
    for offset in range(span - 1, -1, -step):
        x = frame.left + slot * (offset + 0.5)
        out.append(
            f'<line class="chart-xtick" x1="{x:.2f}" y1="{frame.bottom:.1f}" x2="{x:.2f}" '
            f'y2="{frame.bottom + 4:.1f}" stroke="{_MUTED}" stroke-width="1"/>'
        )
        out.append(
            f'<text class="chart-tick" x="{x:.2f}" y="{frame.bottom + 17:.1f}" '
            f'text-anchor="middle" font-size="11" fill="{_MUTED}">'
            f"{_esc(_day_label(first + timedelta(days=offset)))}</text>"
        )
    return out


def histogram_chart(
    counts: Mapping[int, float] | Sequence[float],
    *,
    title: str,
    x_label: str,
    unit: str,
    top: int = 10,
) -> str:
    """Counts per bucket 0..``top`` as an SVG bar chart; the last bucket is "``top``+".

    ``counts`` maps a bucket to its count (a missing bucket is 0; buckets above ``top`` add to
    the last one), or lists the counts from bucket 0. ``x_label`` says what a bucket counts
    ("tracks per recording"), ``unit`` what the bars count ("recordings"). Every bar has its
    value printed over it (shortened past 99,999) and in full in its tooltip.
    """
    if top < 1:
        raise ValueError("top must be at least 1")
    items = counts.items() if isinstance(counts, Mapping) else enumerate(counts)
    buckets = [0.0] * (top + 1)
    for bucket, count in items:
        if bucket < 0:
            raise ValueError(f"histogram buckets start at 0, not {bucket}")
        _check_values([float(count)])
        buckets[min(bucket, top)] += float(count)
    integer = all(value.is_integer() for value in buckets)
    frame = _Frame(max(buckets), integer)
    total = sum(buckets)
    names = [str(b) for b in range(top)] + [f"{top}+"]
    if total == 0:
        summary = f"No {unit} yet"
    else:
        most = max(range(top + 1), key=lambda b: (buckets[b], -b))
        summary = (
            f"Total {format_number(total)} {unit} · largest bar: {names[most]}"
            f" ({format_number(buckets[most])} {unit})"
        )
    body = frame.svg(unit, x_label)
    slot = (frame.right - frame.left) / (top + 1)
    for bucket, value in enumerate(buckets):
        centre = frame.left + slot * (bucket + 0.5)
        y = frame.y(value)
        width = slot * 0.8
        tip = f"{names[bucket]} {x_label}: {format_number(value)} {unit}"
        body.append(
            f'<rect class="chart-bar" x="{centre - width / 2:.2f}" y="{y:.2f}" '
            f'width="{width:.2f}" height="{frame.bottom - y:.2f}" fill="{_BAR}">'
            f"<title>{_esc(tip)}</title></rect>"
        )
        body.append(
            f'<text class="chart-value" x="{centre:.2f}" y="{y - 5:.2f}" text-anchor="middle" '
            f'font-size="10" fill="{_TEXT}">{_esc(_compact(value))}</text>'
        )
        body.append(
            f'<text class="chart-tick" x="{centre:.2f}" y="{frame.bottom + 17:.1f}" '
            f'text-anchor="middle" font-size="11" fill="{_MUTED}">{names[bucket]}</text>'
        )
    if total == 0:
        body.append(_no_data(frame))
    return _document(title, summary, body)
