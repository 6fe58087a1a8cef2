"""The charts of ``shopfloor.reports.charts`` (matplotlib, SVG) built from real charts of the project's SPC
functions: the markup parses as XML, one marker per point, violation points flagged red with their rules in the
tooltip and in ``data-rules``, limits drawn at their values (through the axes' own transform), stepped limits for p
charts, gaps for missing values and empty charts, escaped text; the machine page's and the improvement report's
charts; and one A4 landscape PDF report with Korean and Vietnamese text.

NIST flow-rate data: NIST/SEMATECH e-Handbook section 6.3.2.2 (individuals chart example).
"""

from __future__ import annotations

import io
import math
import re
import unicodedata
import xml.etree.ElementTree as ET
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from pypdf import PdfReader

from shopfloor.analytics.capability import capability
from shopfloor.analytics.run_rules import evaluate
from shopfloor.analytics.spc import imr, p_chart, xbar_r
from shopfloor.reports.charts import (
    MAX_X_LABELS,
    before_after_svg,
    chart_report_html,
    chart_report_pdf,
    control_chart_figure,
    control_chart_svg,
    format_number,
    histogram_svg,
    hourly_svg,
    pareto_svg,
    timeline_svg,
)

S = "{http://www.w3.org/2000/svg}"
XLINK = "{http://www.w3.org/1999/xlink}"
FLOW = [49.6, 47.6, 49.9, 51.3, 47.8, 51.2, 52.6, 52.4, 53.6, 52.1]
P_DEFECTIVES = [12, 15, 8, 10, 4, 7, 16, 9, 14, 10, 5, 6, 17, 12, 22]
P_SIZES = [100, 120, 90, 110, 80, 100, 150, 95, 130, 100, 85, 90, 160, 110, 120]


def parse(svg: str) -> ET.Element:
    root = ET.fromstring(svg)
    assert root.tag == f"{S}svg"
    return root


def marks(root: ET.Element, cls: str) -> list[ET.Element]:
    """The marked groups whose class has every word of ``cls``."""
    want = set(cls.split())
    return [g for g in root.iter(f"{S}g") if want <= set((g.get("class") or "").split())]


def title(g: ET.Element) -> str:
    return g.find(f"{S}title").text


def path_points(g: ET.Element) -> list[tuple[float, float]]:
    """The vertices of the paths drawn in a group (marker definitions left out)."""
    defs = {id(p) for d in g.iter(f"{S}defs") for p in d.iter(f"{S}path")}
    pts = []
    for p in g.iter(f"{S}path"):
        if id(p) not in defs:
            nums = [float(v) for v in re.findall(r"-?\d+(?:\.\d+)?(?:e-?\d+)?", p.get("d"))]
            pts += list(zip(nums[::2], nums[1::2]))
    return pts


def marker(g: ET.Element) -> tuple[float, float]:
    (use,) = g.iter(f"{S}use")
    return float(use.get("x")), float(use.get("y"))


def to_svg(ax, height):
    """Data (x, y) to SVG pixels through the axes' own transform (SVG y counts from the top)."""

    def px(x, y):
        X, Y = ax.transData.transform((x, y))
        return X, height - Y

    return px


def texts(root: ET.Element) -> list[str]:
    return [t.text or "" for t in root.iter(f"{S}text")]


def shifted_xbar():
    rng = np.random.default_rng(20260301)
    data = rng.normal(10.0, 0.2, size=(20, 5))
    data[13] += 1.0
    xbar, _ = xbar_r(data.tolist())
    return xbar


def test_number_format_has_four_significant_digits():
    assert format_number(50.81) == "50.81"
    assert format_number(12.3456) == "12.35"
    assert format_number(0.1 + 0.2) == "0.3"
    assert format_number(0.05234) == "0.05234"
    assert format_number(2.5e-6) == "2.5e-6"
    assert format_number(-0.0) == "0"
    assert format_number(None) == "" and format_number(math.nan) == "NaN"


# --- control charts -----------------------------------------------------------------------------------------------


def test_imr_chart_markers_limits_and_legend():
    i_chart, _ = imr(FLOW)
    doc = i_chart.to_dict()
    chart, ax = control_chart_figure(doc, title="Flow rate <I chart> & more")
    svg = chart.svg()
    assert svg.startswith("<svg ") and "<?xml" not in svg and "font-family: " not in svg
    # The pages' Content-Security-Policy allows no inline style: presentation attributes only.
    assert " style=" not in svg and "<style" not in svg and 'fill="#ffffff"' in svg
    root = parse(svg)
    assert root.get("width") == "900" and root.get("viewBox") == "0 0 900 300"
    assert "Noto Sans CJK KR" in root.get("font-family")
    px = to_svg(ax, 300)
    points = marks(root, "pt")
    assert len(points) == len(FLOW) and not marks(root, "violation")
    for i, g in enumerate(points):
        assert g.get("data-index") == str(i) and float(g.get("data-value")) == FLOW[i]
        assert marker(g) == pytest.approx(px(i, FLOW[i]), abs=0.01)
        assert title(g) == f"Point {i + 1}: {format_number(FLOW[i])}"
    for key in ("ucl", "centre", "lcl"):
        (g,) = marks(root, f"limit {key}")
        assert g.get("data-value") == format_number(doc[key])
        (a, b) = path_points(g)
        assert a[1] == b[1] == pytest.approx(px(0, doc[key])[1], abs=0.01)
    # The points are inside the plot, between the limits drawn.
    assert "Flow rate <I chart> & more" in texts(root)
    legend = f"CL {format_number(doc['centre'])}  UCL {format_number(doc['ucl'])}  LCL {format_number(doc['lcl'])}"
    assert legend in texts(root)
    assert [t for t in texts(root) if t.isdigit() and int(t) <= 10][:10] == [str(k) for k in range(1, 11)]
    assert "&lt;I chart&gt; &amp; more" in svg


def test_violation_points_are_red_with_their_rules():
    xbar = shifted_xbar()
    violations = [v.to_dict() for v in evaluate(xbar, "nelson")]
    assert any(v["rule"] == "nelson1" and v["index"] == 13 for v in violations)
    root = parse(control_chart_svg(xbar.to_dict(), violations, title="X-bar"))
    assert len(marks(root, "pt")) == 20
    flagged = {i for v in violations for i in [v["index"], *v["points"]]}
    red = marks(root, "pt violation")
    assert {int(g.get("data-index")) for g in red} == flagged
    (g13,) = [g for g in red if g.get("data-index") == "13"]
    assert "nelson1" in g13.get("data-rules").split()
    assert title(g13).startswith("Point 14") and "nelson1" in title(g13)
    assert "#d62728" in ET.tostring(g13, encoding="unicode")
    plain = [g for g in marks(root, "pt") if "violation" not in g.get("class")]
    assert plain and all(
        "nelson" not in title(g) and "#d62728" not in ET.tostring(g, encoding="unicode") for g in plain
    )


def test_p_chart_varying_limits_are_stepped_with_two_points_per_subgroup():
    doc = p_chart(P_DEFECTIVES, P_SIZES).to_dict()
    assert isinstance(doc["ucl"], list) and isinstance(doc["lcl"], list)
    chart, ax = control_chart_figure(doc)
    root = parse(chart.svg())
    px = to_svg(ax, 300)
    n = len(P_SIZES)
    for key in ("ucl", "lcl"):
        (g,) = marks(root, f"limit {key} stepped")
        pts = path_points(g)
        assert len(pts) == 2 * n
        for i in range(n):
            (x0, y0), (x1, y1) = pts[2 * i], pts[2 * i + 1]
            assert y0 == y1 == pytest.approx(px(i, doc[key][i])[1], abs=0.01)
            assert x0 == pytest.approx(px(i - 0.5, 0)[0], abs=0.01) and x1 == pytest.approx(px(i + 0.5, 0)[0], abs=0.01)
    assert len(marks(root, "limit centre")) == 1
    assert not any(t.startswith("CL") and "UCL" in t for t in texts(root))


def test_nan_and_none_values_leave_gaps():
    doc = {"chart": "i", "values": [1.0, 2.0, float("nan"), 3.0, 4.0, None, 5.0], "centre": 3.0, "ucl": 6.0, "lcl": 0.0}
    root = parse(control_chart_svg(doc))
    assert [int(g.get("data-index")) for g in marks(root, "pt")] == [0, 1, 3, 4, 6]


def test_empty_chart_shows_a_message_and_infinite_limits_are_not_drawn():
    root = parse(control_chart_svg({"chart": "i", "values": [], "centre": [], "ucl": [], "lcl": []}, title="Empty"))
    assert "No data to plot" in texts(root) and not marks(root, "pt")
    doc = {"chart": "x", "values": [1.0, 2.0, 1.5], "centre": 1.5, "ucl": math.inf, "lcl": [0.5, -math.inf, 0.5]}
    root = parse(control_chart_svg(doc))
    assert not marks(root, "limit ucl")
    assert [len(path_points(g)) for g in marks(root, "limit lcl")] == [2, 2]
    root = parse(control_chart_svg(imr([5.0, 5.0, 5.0, 5.0])[0].to_dict()))
    assert len({marker(g)[1] for g in marks(root, "pt")}) == 1


def test_phase_one_baseline_prefix_is_shaded():
    doc = imr(FLOW, baseline=6)[0].to_dict()
    chart, ax = control_chart_figure(doc)
    (shade,) = marks(parse(chart.svg()), "baseline")
    right = max(x for x, _ in path_points(shade))
    assert right == pytest.approx(to_svg(ax, 300)(5.5, 0)[0], abs=0.02)
    assert not marks(parse(control_chart_svg(doc, baseline_shading=False)), "baseline")
    assert not marks(parse(control_chart_svg(imr(FLOW)[0].to_dict())), "baseline")
    assert not marks(parse(control_chart_svg(imr(FLOW, baseline=6, exclude=[2])[0].to_dict())), "baseline")


def test_x_labels_are_escaped_and_thinned():
    values = [float(v) for v in range(40)]
    labels = [f"S&{k:02d}<" for k in range(40)]
    doc = {"chart": "i", "values": values, "centre": 20.0, "ucl": 45.0, "lcl": -5.0}
    svg = control_chart_svg(doc, labels=labels)
    shown = [t for t in texts(parse(svg)) if t in labels]
    assert 1 < len(shown) <= MAX_X_LABELS and shown[0] == "S&00<"
    assert "S&amp;00&lt;" in svg
    with pytest.raises(ValueError):
        control_chart_svg(doc, labels=labels[:3])


def test_two_charts_on_one_page_do_not_share_ids():
    a = control_chart_svg(imr(FLOW)[0].to_dict())
    b = control_chart_svg(p_chart(P_DEFECTIVES, P_SIZES).to_dict())
    ids_a, ids_b = set(re.findall(r'id="([^"]+)"', a)), set(re.findall(r'id="([^"]+)"', b))
    assert ids_a and ids_b and not ids_a & ids_b
    for svg, ids in ((a, ids_a), (b, ids_b)):
        assert set(re.findall(r'(?:href="#|url\(#)([^")]+)', svg)) <= ids


# --- histogram ----------------------------------------------------------------------------------------------------


def test_histogram_bars_specification_lines_and_normal_curve():
    rng = np.random.default_rng(7)
    cap = capability(rng.normal(10.0, 0.1, 200), usl=10.4, lsl=9.7, sigma_within=0.1).to_dict()
    root = parse(histogram_svg(cap, target=10.0, title="Bead width"))
    bars = marks(root, "bar")
    counts, edges = cap["histogram"]["counts"], cap["histogram"]["edges"]
    assert [float(b.get("data-count")) for b in bars] == counts
    boxes = [path_points(b) for b in bars]
    bottom = max(y for box in boxes for _, y in box)
    heights = [bottom - min(y for _, y in box) for box in boxes]
    k = max(range(len(counts)), key=counts.__getitem__)
    for h, c in zip(heights, counts):
        assert h == pytest.approx(heights[k] * c / counts[k], abs=0.05)
    x0 = min(x for x, _ in boxes[0])
    px_per_unit = (max(x for x, _ in boxes[-1]) - x0) / (edges[-1] - edges[0])
    for cls, value in (("lsl", 9.7), ("usl", 10.4), ("target", 10.0)):
        (g,) = marks(root, f"spec {cls}")
        (a, b) = path_points(g)
        assert a[0] == b[0]
        assert edges[0] + (a[0] - x0) / px_per_unit == pytest.approx(value, abs=0.5 / px_per_unit)
    assert "LSL 9.7" in title(marks(root, "spec lsl")[0]) and any("USL 10.4" in t for t in texts(root))
    (curve,) = marks(root, "normal")
    peak = bottom - min(y for _, y in path_points(curve))
    expected = 200 * (edges[1] - edges[0]) / (cap["sigma_overall"] * math.sqrt(2 * math.pi))
    assert peak == pytest.approx(expected * heights[k] / counts[k], rel=0.02)
    empty = parse(histogram_svg({"histogram": {"edges": [], "counts": []}}))
    assert "No data to plot" in texts(empty) and not marks(empty, "bar")


# --- improvement report and machine page ---------------------------------------------------------------------------


def test_before_after_points_and_levels():
    before = [("2026-01-01", 1.0), ("2026-01-02", None), ("2026-01-03", 3.0)]
    after = [("2026-02-01", 5.0), ("2026-02-02", 7.0)]
    root = parse(before_after_svg(before, after, before_level=2.0, after_level=6.0, format_value=lambda v: f"{v} u"))
    assert [g.get("data-day") for g in marks(root, "pt before")] == ["2026-01-01", "2026-01-03"]
    assert [title(g) for g in marks(root, "pt after")] == ["2026-02-01: 5.0 u", "2026-02-02: 7.0 u"]
    (lb,), (la,) = marks(root, "level before"), marks(root, "level after")
    assert path_points(lb)[0][1] > path_points(la)[0][1]  # the higher level is drawn higher
    assert "No data to plot" in texts(parse(before_after_svg([("d", None)], [], before_level=None, after_level=None)))


def test_timeline_reads_in_the_site_zone_and_escapes_tooltips():
    start = datetime(2026, 12, 3, 0, 0, tzinfo=timezone.utc)
    states = ["running", "down", "idle"]
    segs = [
        (start + timedelta(hours=k), start + timedelta(hours=k + 1), s, f"<{s}> & co") for k, s in enumerate(states)
    ]
    svg = timeline_svg(segs, start, start + timedelta(hours=3), ZoneInfo("Asia/Seoul"))
    root = parse(svg)
    assert [g.get("data-state") for g in marks(root, "segment")] == states
    assert "&lt;down&gt; &amp; co" in svg
    hours = [t for t in texts(root) if re.fullmatch(r"\d\d:\d\d", t)]
    assert hours and {int(h[:2]) for h in hours} <= {9, 10, 11, 12}  # UTC 00:00-03:00 read in Seoul


def test_hourly_and_pareto():
    root = parse(hourly_svg([("08:00", 40), ("09:00", 55)], 50, good="Đạt", target_label="mục tiêu"))
    assert [b.get("data-value") for b in marks(root, "bar")] == ["40", "55"]
    assert marks(root, "target")[0].get("data-value") == "50" and "Đạt" in texts(root)
    root = parse(pareto_svg([("Tool <change>", 40, 50.0), ("Material", 40, 100.0)], minutes="분"))
    assert [b.get("data-reason") for b in marks(root, "bar")] == ["Tool <change>", "Material"]
    assert len(marks(root, "cumulative")) == 1
    assert "No data to plot" in texts(parse(pareto_svg([], minutes="min")))


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
    assert html.count('class="chart-svg"') == 2
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


def test_charts_drawn_in_threads_at_once_are_the_same_as_drawn_one_by_one():
    from concurrent.futures import ThreadPoolExecutor

    docs = [imr(FLOW)[0].to_dict(), p_chart(P_DEFECTIVES, P_SIZES).to_dict(), shifted_xbar().to_dict()] * 4
    alone = [control_chart_svg(d, title=f"chart {k}") for k, d in enumerate(docs)]
    with ThreadPoolExecutor(4) as pool:
        together = list(pool.map(lambda kd: control_chart_svg(kd[1], title=f"chart {kd[0]}"), enumerate(docs)))
    assert together == alone


def test_charts_for_print_are_pictures_and_the_pages_keep_their_svg():
    """A PDF's charts are PNG pictures (WeasyPrint lays out SVG charts slowly); outside ``for_print`` the same
    chart is SVG again."""
    import base64

    from shopfloor.reports.charts import PRINT_DPI, before_after_svg, for_print

    days = [(f"2026-01-{d:02d}", float(d)) for d in range(1, 21)]
    with for_print():
        printed = before_after_svg(days[:10], days[10:], before_level=5.5, after_level=15.5)
    shown = before_after_svg(days[:10], days[10:], before_level=5.5, after_level=15.5)
    assert printed.startswith('<img class="chart-img" src="data:image/png;base64,') and 'width="760"' in printed
    png = base64.b64decode(printed.split("base64,")[1].split('"')[0])
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    width = int.from_bytes(png[16:20], "big")
    assert width == round(760 / 72 * PRINT_DPI)
    assert shown.startswith("<svg") and 'class="pt before"' in shown
