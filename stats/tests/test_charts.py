from __future__ import annotations

import xml.etree.ElementTree as ET

from stats.charts import horizontal_bar_chart, stacked_bar_chart, status_mix_chart

SVG = "{http://www.w3.org/2000/svg}"


def parse(svg: str) -> ET.Element:
    return ET.fromstring(str(svg))  # raises on anything not well-formed


def bars(root: ET.Element) -> list[ET.Element]:
    return [rect for rect in root.iter(f"{SVG}rect") if rect.get("class") == "bar"]


def test_stacked_bars_stack_each_day_and_scale_to_the_tallest() -> None:
    root = parse(
        stacked_bar_chart(
            labels=["d1", "d2", "d3"], series={"pdf-merge": [1, 0, 4], "image-compress": [1, 0, 6]}, title="t"
        )
    )
    drawn = bars(root)
    assert len(drawn) == 4  # zero values draw nothing
    heights = [float(rect.get("height")) for rect in drawn]
    # day 3 (4 + 6 = 10) is as tall as the axis top (10); day 1 is a fifth of it
    assert abs(heights[2] + heights[3] - 5 * (heights[0] + heights[1])) < 0.5
    assert [t.text for t in root.iter(f"{SVG}text") if t.get("class") == "legend"] == ["pdf-merge", "image-compress"]
    assert root.get("role") == "img" and root.get("viewBox")


def test_charts_escape_their_labels() -> None:
    svg = str(horizontal_bar_chart(rows=[("<script>alert(1)</script>", 3)], title="a & b"))
    parse(svg)
    assert "<script>" not in svg and "&lt;script&gt;" in svg


def test_horizontal_bars_are_proportional_and_formatted() -> None:
    root = parse(horizontal_bar_chart(rows=[("a", 100), ("b", 25)], title="t", value_format=lambda v: f"{v:.0f} B"))
    widths = [float(rect.get("width")) for rect in bars(root)]
    assert widths[0] == 4 * widths[1]
    assert "25 B" in [t.text for t in root.iter(f"{SVG}text")]


def test_status_mix_shows_shares_and_failure_rate() -> None:
    root = parse(status_mix_chart(rows=[("pdf-merge", {"completed": 75, "failed": 25, "in progress": 0})], title="t"))
    drawn = {rect.get("data-status"): float(rect.get("width")) for rect in bars(root)}
    assert set(drawn) == {"completed", "failed"}
    assert drawn["completed"] == 3 * drawn["failed"]
    assert [t.text for t in root.iter(f"{SVG}text") if t.get("class") == "failure-rate"] == ["25.0% failed"]


def test_empty_data_says_so_instead_of_drawing_nothing() -> None:
    for svg in (
        stacked_bar_chart(labels=["d1"], series={}, title="t"),
        horizontal_bar_chart(rows=[], title="t"),
        status_mix_chart(rows=[("x", {"completed": 0})], title="t"),
    ):
        root = parse(svg)
        assert not bars(root)
        assert "No data yet" in [t.text for t in root.iter(f"{SVG}text")]
