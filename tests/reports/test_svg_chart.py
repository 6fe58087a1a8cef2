"""Control chart and histogram SVG built from real charts of the project's SPC functions: the markup parses as XML,
one marker per point, violations drawn red with the rule in the tooltip, limits at the right height through the
public ``Scale``, stepped limits for p charts, nice axis ticks, gaps for missing values and empty charts; and one
A4 landscape PDF report with Korean and Vietnamese text (one Chromium launch).

NIST flow-rate data: NIST/SEMATECH e-Handbook section 6.3.2.2 (individuals chart example).
"""

from __future__ import annotations

import io
import math
import unicodedata
import xml.etree.ElementTree as ET

import numpy as np
import pytest
from pypdf import PdfReader

from shopfloor.analytics.capability import capability
from shopfloor.analytics.run_rules import evaluate
from shopfloor.analytics.spc import imr, p_chart, xbar_r
from shopfloor.reports.svg_chart import (
    MAX_X_LABELS,
    VIOLATION_COLOUR,
    Scale,
    chart_report_html,
    chart_report_pdf,
    control_chart_scales,
    control_chart_svg,
    format_number,
    histogram_svg,
    nice_ticks,
    tick_labels,
)

NS = {"s": "http://www.w3.org/2000/svg"}
FLOW = [49.6, 47.6, 49.9, 51.3, 47.8, 51.2, 52.6, 52.4, 53.6, 52.1]
P_DEFECTIVES = [12, 15, 8, 10, 4, 7, 16, 9, 14, 10, 5, 6, 17, 12, 22]
P_SIZES = [100, 120, 90, 110, 80, 100, 150, 95, 130, 100, 85, 90, 160, 110, 120]


def parse(svg: str) -> ET.Element:
    root = ET.fromstring(svg)
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    return root


def of_class(root: ET.Element, tag: str, cls: str) -> list[ET.Element]:
    return [e for e in root.iter(f"{{{NS['s']}}}{tag}") if cls in (e.get("class") or "").split()]


def polyline_points(element: ET.Element) -> list[tuple[float, float]]:
    return [tuple(float(v) for v in p.split(",")) for p in element.get("points").split()]


def shifted_xbar():
    rng = np.random.default_rng(20260301)
    data = rng.normal(10.0, 0.2, size=(20, 5))
    data[13] += 1.0
    xbar, _ = xbar_r(data.tolist())
    return xbar


# --- nice ticks, number formats, scale -------------------------------------------------------------------------


def is_round(value: float, step: float) -> bool:
    k = value / step
    return abs(k - round(k)) < 1e-6


@pytest.mark.parametrize(
    "lo, hi", [(0, 1), (47.3, 55.9), (1e-6, 3e-6), (-5, 5), (100, 100), (0.0123, 0.0456), (-0.3, 0.01), (0, 7)]
)
def test_nice_ticks_are_round_evenly_spaced_and_cover_the_range(lo, hi):
    ticks = nice_ticks(lo, hi)
    assert 5 <= len(ticks) <= 7
    step = ticks[1] - ticks[0]
    mantissa = step / 10 ** math.floor(math.log10(step))
    assert any(math.isclose(mantissa, m, rel_tol=1e-9) for m in (1, 2, 2.5, 5, 10))
    for a, b in zip(ticks, ticks[1:]):
        assert b - a == pytest.approx(step, rel=1e-9)
    assert all(is_round(t, step) for t in ticks)
    tol = 1e-9 * step
    assert ticks[0] <= lo + tol and ticks[-1] >= hi - tol
    if lo == hi:
        assert ticks[-1] > ticks[0]


def test_nice_ticks_published_cases():
    assert nice_ticks(0, 1) == [0.0, 0.2, 0.4, 0.6, 0.8, 1.0]
    assert nice_ticks(47.3, 55.9) == [46.0, 48.0, 50.0, 52.0, 54.0, 56.0]
    assert nice_ticks(1e-6, 3e-6) == [1e-6, 1.5e-6, 2e-6, 2.5e-6, 3e-6]
    assert nice_ticks(-5, 5) == [-5.0, -2.5, 0.0, 2.5, 5.0]
    assert nice_ticks(100, 100) == [90.0, 95.0, 100.0, 105.0, 110.0]
    assert nice_ticks(0, 1, integer=True) == [0.0, 1.0, 2.0, 3.0, 4.0]
    assert tick_labels(nice_ticks(1e-6, 3e-6)) == ["1e-6", "1.5e-6", "2e-6", "2.5e-6", "3e-6"]
    assert tick_labels(nice_ticks(-5, 5)) == ["-5.0", "-2.5", "0.0", "2.5", "5.0"]
    with pytest.raises(ValueError):
        nice_ticks(0, math.inf)


def test_format_number_significant_digits():
    assert format_number(50.81) == "50.81"
    assert format_number(13.1) == "13.1"
    assert format_number(12.3456) == "12.35"
    assert format_number(0.1 + 0.2) == "0.3"
    assert format_number(0.05234) == "0.05234"
    assert format_number(2.5e-6) == "2.5e-6"
    assert format_number(-0.0) == "0"


def test_scale_maps_and_inverts():
    ys = Scale(0.0, 10.0, 270.0, 30.0)
    assert ys(0) == 270 and ys(10) == 30 and ys(5) == 150
    assert ys.invert(150) == 5
    assert ys.units_per_pixel == pytest.approx(10 / 240)
    assert Scale(3.0, 3.0, 0.0, 100.0)(3.0) == 50


# --- control charts -----------------------------------------------------------------------------------------------


def test_imr_chart_markers_limits_ticks_and_scale():
    i_chart, _ = imr(FLOW)
    doc = i_chart.to_dict()
    svg = control_chart_svg(doc, title="Flow rate <I chart> & more")
    root = parse(svg)
    assert len(of_class(root, "circle", "pt")) == len(FLOW)
    assert not of_class(root, "circle", "violation")
    assert len(of_class(root, "polyline", "data")) == 1
    assert "Flow rate <I chart> & more" in "".join(root.itertext())

    xs, ys = control_chart_scales(doc)
    for key in ("ucl", "centre", "lcl"):
        (line,) = of_class(root, "line", key)
        y = float(line.get("y1"))
        assert line.get("y2") == line.get("y1")
        assert abs(y - ys(doc[key])) <= 0.5
        assert abs(ys.invert(y) - doc[key]) <= 0.5 * ys.units_per_pixel
    assert of_class(root, "line", "ucl")[0].get("stroke-dasharray")
    assert not of_class(root, "line", "centre")[0].get("stroke-dasharray")

    # Markers sit at their values; tick labels sit at their ticks, so both use the same scale.
    for i, circle in enumerate(of_class(root, "circle", "pt")):
        assert abs(float(circle.get("cx")) - xs(i)) <= 0.5
        assert abs(ys.invert(float(circle.get("cy"))) - FLOW[i]) <= 0.5 * ys.units_per_pixel
    ticks = of_class(root, "text", "ytick")
    assert 5 <= len(ticks) <= 7
    for t in ticks:
        assert abs(ys.invert(float(t.get("y"))) - float(t.text)) <= 0.5 * ys.units_per_pixel
    values = [float(t.text) for t in ticks]
    assert min(values) <= min(FLOW + [doc["lcl"]]) and max(values) >= max(FLOW + [doc["ucl"]])

    (legend,) = of_class(root, "text", "legend")
    assert legend.text == (
        f"CL {format_number(doc['centre'])}  UCL {format_number(doc['ucl'])}  LCL {format_number(doc['lcl'])}"
    )
    assert [t.text for t in of_class(root, "text", "xtick")] == [str(k) for k in range(1, 11)]


def test_violation_points_are_red_with_the_rule_in_the_tooltip():
    xbar = shifted_xbar()
    violations = [v.to_dict() for v in evaluate(xbar, "nelson")]
    assert any(v["rule"] == "nelson1" and v["index"] == 13 for v in violations)
    root = parse(control_chart_svg(xbar.to_dict(), violations, title="X-bar"))
    markers = of_class(root, "circle", "pt")
    assert len(markers) == 20
    flagged = {i for v in violations for i in [v["index"], *v["points"]]}
    red = [i for i, m in enumerate(markers) if m.get("fill") == VIOLATION_COLOUR]
    assert set(red) == flagged
    tip = markers[13].find("s:title", NS).text
    assert "nelson1" in tip and tip.startswith("Point 14")
    assert "nelson" not in markers[min(set(range(20)) - flagged)].find("s:title", NS).text


def test_p_chart_varying_limits_are_stepped_with_two_points_per_subgroup():
    chart = p_chart(P_DEFECTIVES, P_SIZES)
    doc = chart.to_dict()
    assert isinstance(doc["ucl"], list) and isinstance(doc["lcl"], list)
    root = parse(control_chart_svg(doc))
    n = len(P_SIZES)
    xs, ys = control_chart_scales(doc)
    for key in ("ucl", "lcl"):
        (line,) = of_class(root, "polyline", key)
        pts = polyline_points(line)
        assert len(pts) == 2 * n
        for i in range(n):
            (x0, y0), (x1, y1) = pts[2 * i], pts[2 * i + 1]
            assert y0 == y1
            assert abs(ys.invert(y0) - doc[key][i]) <= 0.5 * ys.units_per_pixel
            assert x0 == pytest.approx(xs(i - 0.5), abs=0.01) and x1 == pytest.approx(xs(i + 0.5), abs=0.01)
    assert len(of_class(root, "line", "centre")) == 1
    (legend,) = of_class(root, "text", "legend")
    assert legend.text.startswith("CL ") and "UCL" not in legend.text


def test_nan_and_none_values_split_the_line():
    doc = {"chart": "i", "values": [1.0, 2.0, float("nan"), 3.0, 4.0, None, 5.0], "centre": 3.0, "ucl": 6.0, "lcl": 0.0}
    root = parse(control_chart_svg(doc))
    lines = of_class(root, "polyline", "data")
    assert [len(polyline_points(p)) for p in lines] == [2, 2]
    assert len(of_class(root, "circle", "pt")) == 5


def test_empty_chart_shows_a_message():
    root = parse(control_chart_svg({"chart": "i", "values": [], "centre": [], "ucl": [], "lcl": []}, title="Empty"))
    assert [t.text for t in of_class(root, "text", "message")] == ["No data to plot"]
    assert not of_class(root, "circle", "pt")


def test_single_point_all_equal_values_and_infinite_limits():
    root = parse(control_chart_svg({"chart": "i", "values": [3.0], "centre": 3.0, "ucl": 4.0, "lcl": 2.0}))
    (marker,) = of_class(root, "circle", "pt")
    assert not of_class(root, "polyline", "data")
    (frame,) = of_class(root, "rect", "frame")
    middle = float(frame.get("x")) + float(frame.get("width")) / 2
    assert float(marker.get("cx")) == pytest.approx(middle, abs=0.01)

    i_chart, _ = imr([5.0, 5.0, 5.0, 5.0])
    doc = i_chart.to_dict()
    _, ys = control_chart_scales(doc)
    assert ys.d1 > ys.d0
    root = parse(control_chart_svg(doc))
    ys_px = {float(c.get("cy")) for c in of_class(root, "circle", "pt")}
    assert len(ys_px) == 1 and ys.r1 < ys_px.pop() < ys.r0

    doc = {"chart": "x", "values": [1.0, 2.0, 1.5], "centre": 1.5, "ucl": math.inf, "lcl": [0.5, -math.inf, 0.5]}
    root = parse(control_chart_svg(doc))
    assert not of_class(root, "line", "ucl")
    assert [len(polyline_points(p)) for p in of_class(root, "polyline", "lcl")] == [2, 2]
    _, ys = control_chart_scales(doc)
    assert math.isfinite(ys.d0) and math.isfinite(ys.d1)


def test_phase_one_baseline_prefix_is_shaded():
    i_chart, _ = imr(FLOW, baseline=6)
    doc = i_chart.to_dict()
    xs, _ = control_chart_scales(doc)
    (shade,) = of_class(parse(control_chart_svg(doc)), "rect", "baseline")
    assert float(shade.get("x")) + float(shade.get("width")) == pytest.approx(xs(5.5), abs=0.02)
    assert not of_class(parse(control_chart_svg(doc, baseline_shading=False)), "rect", "baseline")
    assert not of_class(parse(control_chart_svg(imr(FLOW)[0].to_dict())), "rect", "baseline")
    excluded = imr(FLOW, baseline=6, exclude=[2])[0].to_dict()
    assert not of_class(parse(control_chart_svg(excluded)), "rect", "baseline")


def test_x_labels_are_escaped_and_thinned():
    values = [float(v) for v in range(40)]
    labels = [f"S&{k:02d}<" for k in range(40)]
    doc = {"chart": "i", "values": values, "centre": 20.0, "ucl": 45.0, "lcl": -5.0}
    root = parse(control_chart_svg(doc, labels=labels))
    shown = [t.text for t in of_class(root, "text", "xtick")]
    assert 1 < len(shown) <= MAX_X_LABELS and shown[0] == "S&00<"
    assert all(s in labels for s in shown)
    numbers = [t.text for t in of_class(parse(control_chart_svg(doc)), "text", "xtick")]
    assert 1 < len(numbers) <= MAX_X_LABELS and numbers[0] == "1"
    with pytest.raises(ValueError):
        control_chart_svg(doc, labels=labels[:3])


# --- histogram ----------------------------------------------------------------------------------------------------


def test_histogram_bars_specification_lines_and_normal_curve():
    rng = np.random.default_rng(7)
    values = rng.normal(10.0, 0.1, 200)
    cap = capability(values, usl=10.4, lsl=9.7, sigma_within=0.1).to_dict()
    svg = histogram_svg(cap, target=10.0, title="Bead width")
    root = parse(svg)
    bars = of_class(root, "rect", "bar")
    assert len(bars) == len(cap["histogram"]["counts"])
    frame = of_class(root, "rect", "frame")[0]
    bottom = float(frame.get("y")) + float(frame.get("height"))
    heights = [float(b.get("height")) for b in bars]
    assert all(float(b.get("y")) + h == pytest.approx(bottom, abs=0.02) for b, h in zip(bars, heights))
    # Bar heights are proportional to the counts.
    counts = cap["histogram"]["counts"]
    k = max(range(len(counts)), key=counts.__getitem__)
    for h, c in zip(heights, counts):
        assert h == pytest.approx(heights[k] * c / counts[k], abs=0.05)
    edges = cap["histogram"]["edges"]
    x0 = float(bars[0].get("x"))
    px_per_unit = (float(bars[-1].get("x")) + float(bars[-1].get("width")) - x0) / (edges[-1] - edges[0])
    for cls, value in (("lsl", 9.7), ("usl", 10.4), ("target", 10.0)):
        (line,) = of_class(root, "line", cls)
        assert line.get("x1") == line.get("x2")
        assert edges[0] + (float(line.get("x1")) - x0) / px_per_unit == pytest.approx(value, abs=0.5 / px_per_unit)
    assert of_class(root, "line", "lsl")[0].get("stroke") == of_class(root, "line", "usl")[0].get("stroke")
    text = "".join(root.itertext())
    assert "LSL 9.7" in text and "USL 10.4" in text
    (curve,) = of_class(root, "polyline", "normal")
    peak_y = min(y for _, y in polyline_points(curve))
    # The curve's peak is about n x bin width x 1 / (sigma sqrt(2 pi)) counts high.
    expected = 200 * (edges[1] - edges[0]) / (cap["sigma_overall"] * math.sqrt(2 * math.pi))
    px_per_count = heights[k] / counts[k]
    assert bottom - peak_y == pytest.approx(expected * px_per_count, rel=0.02)


def test_histogram_spec_line_positions_and_empty():
    cap = capability([1.0, 2.0, 2.0, 3.0, 3.0, 3.0, 4.0, 4.0, 5.0], usl=6.0, lsl=0.5, bins=5).to_dict()
    root = parse(histogram_svg(cap))
    bars = of_class(root, "rect", "bar")
    left_edge = float(bars[0].get("x"))
    right_edge = float(bars[-1].get("x")) + float(bars[-1].get("width"))
    px_per_unit = (right_edge - left_edge) / (cap["histogram"]["edges"][-1] - cap["histogram"]["edges"][0])
    usl_x = float(of_class(root, "line", "usl")[0].get("x1"))
    assert (usl_x - right_edge) / px_per_unit == pytest.approx(0.0, abs=0.01)
    lsl_x = float(of_class(root, "line", "lsl")[0].get("x1"))
    assert (left_edge - lsl_x) / px_per_unit == pytest.approx(0.0, abs=0.01)
    empty = parse(histogram_svg({"histogram": {"edges": [], "counts": []}}))
    assert [t.text for t in of_class(empty, "text", "message")] == ["No data to plot"]


# --- report -------------------------------------------------------------------------------------------------------


def report_sections():
    xbar = shifted_xbar()
    violations = [v.to_dict() for v in evaluate(xbar, "nelson")]
    i_chart, _ = imr(FLOW)
    return [
        {
            "heading": "용접 비드 폭",
            "svg": control_chart_svg(xbar.to_dict(), violations, title="X-bar / R"),
            "facts": [("Giới hạn trên", xbar.to_dict()["ucl"]), ("n", 5), ("Note", "a < b & c")],
            "violations": violations,
        },
        {"heading": "Flow rate (NIST)", "svg": control_chart_svg(i_chart.to_dict()), "facts": [], "violations": []},
    ]


def test_report_html_escapes_text_and_keeps_the_svg():
    sections = report_sections()
    html = chart_report_html(sections, title="SPC <weekly>", subtitle="Line 3 & 4", lang="ko")
    assert '<html lang="ko">' in html and "@page { size: A4 landscape; margin: 12mm; }" in html
    assert "SPC &lt;weekly&gt;" in html and "Line 3 &amp; 4" in html and "a &lt; b &amp; c" in html
    assert sections[0]["svg"] in html
    assert '<td>nelson1</td><td class="num">14</td><td>14</td>' in html
    assert "No rule violations" in html


def test_report_pdf_is_a4_landscape_with_korean_and_vietnamese_text():
    data = chart_report_pdf(report_sections(), title="SPC report", subtitle="Line 3")
    assert data.startswith(b"%PDF-")
    reader = PdfReader(io.BytesIO(data))
    first = reader.pages[0]
    width, height = float(first.mediabox.width), float(first.mediabox.height)
    assert width > height
    assert width == pytest.approx(841.89, abs=2) and height == pytest.approx(595.28, abs=2)
    text = unicodedata.normalize("NFC", "\n".join(p.extract_text() for p in reader.pages))
    for expected in ("SPC report", "용접 비드 폭", "Giới hạn trên", "Flow rate (NIST)", "nelson1"):
        assert expected in text
