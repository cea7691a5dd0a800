"""The server-side SVG charts: well-formed, labelled, escaped, for every shape of series."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import date, timedelta
from pathlib import Path

import pytest

from earmark.web.charts import (
    daily_chart,
    format_number,
    histogram_chart,
    last_days,
    nice_ticks,
)
from tests.support import ROOT

SVG = "{http://www.w3.org/2000/svg}"
END = date(2024, 3, 30)


def parse(svg: str) -> ET.Element:
    root = ET.fromstring(svg)
    assert root.tag == f"{SVG}svg"
    assert root.get("viewBox") == "0 0 640 280"
    assert root.get("width") is None  # scaled by CSS
    assert root.get("height") is None
    return root


def texts(root: ET.Element, cls: str | None = None) -> list[str]:
    return [
        "".join(e.itertext())
        for e in root.iter(f"{SVG}text")
        if cls is None or e.get("class") == cls
    ]


def marks(root: ET.Element) -> list[ET.Element]:
    return [e for e in root.iter() if e.get("class") in ("chart-bar", "chart-point")]


def tooltips(root: ET.Element) -> list[str]:
    return [m.findtext(f"{SVG}title") or "" for m in marks(root)]


def thirty_days() -> list[tuple[date, float]]:
    return [(END - timedelta(days=29 - i), (i * 37) % 101) for i in range(30)]


def test_thirty_days_of_bars() -> None:
    points = thirty_days()
    root = parse(daily_chart(points, title="Lookups per day", unit="lookups"))
    assert root.findtext(f"{SVG}title") == "Lookups per day"
    assert len(marks(root)) == 30
    assert tooltips(root)[0] == f"{points[0][0].isoformat()}: {format_number(points[0][1])} lookups"
    assert texts(root, "chart-title") == ["Lookups per day"]
    peak = max(v for _, v in points)
    summary = texts(root, "chart-summary")[0]
    assert summary.startswith(f"Max {peak} lookups on ")
    assert f"last {points[-1][1]} on 30 Mar" in summary
    assert f"total {format_number(sum(v for _, v in points))}" in summary
    assert texts(root, "chart-peak") == [str(peak)]
    assert texts(root, "chart-unit") == ["lookups"]
    assert texts(root, "chart-caption") == ["1 Mar to 30 Mar 2024"]
    day_labels = [t for t in texts(root, "chart-tick") if not t.replace(",", "").isdigit()]
    assert day_labels[0] == "30 Mar"  # counted back from the newest day, a week apart
    assert day_labels == ["30 Mar", "23 Mar", "16 Mar", "9 Mar", "2 Mar"]
    y_ticks = [int(t) for t in texts(root, "chart-tick") if t.isdigit()]
    assert y_ticks[0] == 0
    assert y_ticks[-1] >= peak


def test_bar_heights_follow_the_values() -> None:
    points = [(END - timedelta(days=2), 10), (END - timedelta(days=1), 20), (END, 40)]
    heights = [
        float(m.get("height", "")) for m in marks(parse(daily_chart(points, title="t", unit="u")))
    ]
    assert heights[0] * 2 == pytest.approx(heights[1])
    assert heights[1] * 2 == pytest.approx(heights[2])


def test_line_kind_draws_points_and_a_line() -> None:
    root = parse(daily_chart(thirty_days(), title="New tracks", unit="tracks", kind="line"))
    assert len([m for m in marks(root) if m.tag == f"{SVG}circle"]) == 30
    line = next(e for e in root.iter(f"{SVG}polyline"))
    assert len(line.get("points", "").split()) == 30


def test_empty_series() -> None:
    root = parse(daily_chart([], title="Lookups per day", unit="lookups"))
    assert marks(root) == []
    assert texts(root, "chart-empty") == ["No data yet"]
    assert texts(root, "chart-summary") == ["No data"]


def test_all_zero_series_has_an_axis_of_its_own() -> None:
    points = [(END - timedelta(days=i), 0) for i in range(30)]
    root = parse(daily_chart(points, title="t", unit="lookups"))
    assert len(marks(root)) == 30
    assert all(float(m.get("height", "")) == 0 for m in marks(root))
    assert [t for t in texts(root, "chart-tick") if t.isdigit()] == ["0", "1"]
    assert texts(root, "chart-summary")[0].startswith("Max 0 lookups")
    assert texts(root, "chart-peak") == []  # no "0" over a bar of no height


def test_one_point() -> None:
    root = parse(daily_chart([(END, 7)], title="t", unit="lookups"))
    assert tooltips(root) == ["2024-03-30: 7 lookups"]
    assert texts(root, "chart-caption") == ["30 Mar 2024"]
    assert "30 Mar" in texts(root, "chart-tick")
    root = parse(daily_chart([(END, 7)], title="t", unit="lookups", kind="line"))
    assert len(marks(root)) == 1
    assert list(root.iter(f"{SVG}polyline")) == []


def test_huge_values_get_thousands_separators() -> None:
    points = [(END - timedelta(days=1), 1_234_567_890), (END, 987_654_321)]
    root = parse(daily_chart(points, title="t", unit="lookups"))
    assert tooltips(root) == [
        "2024-03-29: 1,234,567,890 lookups",
        "2024-03-30: 987,654,321 lookups",
    ]
    summary = texts(root, "chart-summary")[0]
    assert "Max 1,234,567,890 lookups on 29 Mar" in summary
    assert "total 2,222,222,211" in summary
    assert texts(root, "chart-peak") == ["1.2G"]
    assert "1,500,000,000" in texts(root, "chart-tick")


def test_missing_days_leave_gaps_and_last_days_fills_them() -> None:
    sparse = {END - timedelta(days=10): 5, END: 3}
    assert len(marks(parse(daily_chart(list(sparse.items()), title="t", unit="u")))) == 2
    filled = last_days(sparse, END, 30)
    assert len(filled) == 30
    assert filled[0] == (END - timedelta(days=29), 0)
    assert filled[-1] == (END, 3)
    assert dict(filled)[END - timedelta(days=10)] == 5


def test_a_span_across_years_names_both() -> None:
    points = [(date(2023, 12, 20), 1), (date(2024, 1, 5), 2)]
    root = parse(daily_chart(points, title="t", unit="u"))
    assert texts(root, "chart-caption") == ["20 Dec 2023 to 5 Jan 2024"]


@pytest.mark.parametrize(
    ("points", "message"),
    [
        ([(END, -1)], "not negative"),
        ([(END, float("nan"))], "finite"),
        ([(END, float("inf"))], "finite"),
        ([(END, 1), (END, 2)], "twice"),
    ],
)
def test_bad_points_are_refused(points: list[tuple[date, float]], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        daily_chart(points, title="t", unit="u")


HOSTILE = '"><script>alert(1)</script><img src=x onerror=alert(1)> & \x00\x07\ufffe'


def test_hostile_text_is_escaped() -> None:
    svg = daily_chart([(END, 1)], title=HOSTILE, unit=HOSTILE)
    svg += histogram_chart([1, 2], title=HOSTILE, x_label=HOSTILE, unit=HOSTILE)
    for chart in (svg[: svg.index("</svg>") + 6], svg[svg.index("</svg>") + 6 :]):
        root = parse(chart)
        assert (
            root.findtext(f"{SVG}title")
            == '"><script>alert(1)</script><img src=x onerror=alert(1)> & '
        )
        assert list(root.iter(f"{SVG}script")) == []
        assert list(root.iter(f"{SVG}img")) == []
        assert all(not name.startswith("on") for e in root.iter() for name in e.attrib)
    assert "<script" not in svg
    assert "\x00" not in svg


def test_histogram_buckets_and_the_last_one_holds_the_rest() -> None:
    counts = {0: 5, 1: 8000, 2: 1200, 3: 15, 10: 4, 11: 2, 25: 1}
    root = parse(
        histogram_chart(counts, title="Tracks per recording", x_label="tracks", unit="recordings")
    )
    bars = marks(root)
    assert len(bars) == 11
    tips = tooltips(root)
    assert tips[0] == "0 tracks: 5 recordings"
    assert tips[1] == "1 tracks: 8,000 recordings"
    assert tips[4] == "4 tracks: 0 recordings"
    assert tips[10] == "10+ tracks: 7 recordings"
    assert texts(root, "chart-value") == ["5", "8,000", "1,200", "15", *["0"] * 6, "7"]
    assert texts(root, "chart-caption") == ["tracks"]
    assert texts(root, "chart-summary") == [
        "Total 9,227 recordings · largest bar: 1 (8,000 recordings)"
    ]
    assert [t for t in texts(root, "chart-tick") if not t.replace(",", "").isdigit()] == ["10+"]


def test_histogram_from_a_list_empty_and_huge() -> None:
    root = parse(histogram_chart([], title="t", x_label="mbids", unit="tracks"))
    assert len(marks(root)) == 11
    assert texts(root, "chart-empty") == ["No data yet"]
    assert texts(root, "chart-summary") == ["No tracks yet"]
    root = parse(histogram_chart([123_456_789, 99_999], title="t", x_label="x", unit="u"))
    assert texts(root, "chart-value")[:2] == ["123M", "99,999"]
    assert tooltips(root)[0] == "0 x: 123,456,789 u"
    with pytest.raises(ValueError, match="start at 0"):
        histogram_chart({-1: 3}, title="t", x_label="x", unit="u")
    with pytest.raises(ValueError, match="not negative"):
        histogram_chart([-3], title="t", x_label="x", unit="u")


@pytest.mark.parametrize(
    ("maximum", "integer", "expected"),
    [
        (0, True, [0, 1]),
        (1, True, [0, 1]),
        (7, True, [0, 2, 4, 6, 8]),
        (100, True, [0, 20, 40, 60, 80, 100]),
        (101, True, [0, 50, 100, 150]),
        (0.37, False, [0, 0.1, 0.2, 0.3, 0.4]),
        (0.37, True, [0, 1]),
    ],
)
def test_nice_ticks(maximum: float, integer: bool, expected: list[float]) -> None:
    assert nice_ticks(maximum, integer=integer) == pytest.approx(expected)


def test_fractional_values_get_decimal_ticks() -> None:
    root = parse(daily_chart([(END, 0.37)], title="t", unit="seconds"))
    assert [t for t in texts(root, "chart-tick") if t[0].isdigit() and "." in t] == [
        "0.0",
        "0.1",
        "0.2",
        "0.3",
        "0.4",
    ]
    assert tooltips(root) == ["2024-03-30: 0.37 seconds"]


def test_render_samples_for_a_person_to_look_at() -> None:
    """Writes tests/artifacts/charts/*.svg (gitignored) and an HTML page showing them all."""
    out = ROOT / "tests" / "artifacts" / "charts"
    out.mkdir(parents=True, exist_ok=True)
    huge = [(day, value * 12_345_678) for day, value in thirty_days()]
    samples = {
        "daily-30-bars": daily_chart(thirty_days(), title="Lookups per day", unit="lookups"),
        "daily-30-line": daily_chart(
            thirty_days(), title="New tracks per day", unit="tracks", kind="line"
        ),
        "daily-huge": daily_chart(huge, title="Lookups per day (huge)", unit="lookups"),
        "daily-empty": daily_chart([], title="Lookups per day", unit="lookups"),
        "daily-zero": daily_chart(last_days({}, END), title="Lookups per day", unit="lookups"),
        "daily-one": daily_chart([(END, 42)], title="Lookups per day", unit="lookups"),
        "histogram": histogram_chart(
            {0: 120, 1: 84_000, 2: 9_100, 3: 1_400, 4: 300, 5: 90, 7: 12, 12: 9},
            title="Tracks per recording",
            x_label="tracks per recording",
            unit="recordings",
        ),
        "histogram-empty": histogram_chart(
            [], title="Recordings per track", x_label="recordings per track", unit="tracks"
        ),
    }
    page = ["<!doctype html><meta charset=utf-8><title>charts</title>"]
    for name, svg in samples.items():
        parse(svg)
        (out / f"{name}.svg").write_text(svg)
        page.append(f'<h2>{name}</h2><div style="max-width:700px">{svg}</div>')
    (out / "index.html").write_text("\n".join(page))
    assert sorted(Path(out).glob("*.svg")) == sorted(out / f"{n}.svg" for n in samples)
