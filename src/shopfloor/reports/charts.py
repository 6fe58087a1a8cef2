"""Every chart the product shows, drawn with matplotlib as SVG: control charts, capability histograms, the
improvement report's before/after chart, a machine's state timeline, hourly output and downtime Pareto; and the
printable chart report (HTML and PDF) that carries control charts and histograms.

The same SVG markup is inlined in the server-rendered pages and printed by WeasyPrint.  Figures are made as
``matplotlib.figure.Figure`` objects with the SVG canvas, never through pyplot's global state, so charts can be
drawn from several threads at once.  Text stays text (``svg.fonttype = none``) and takes the page's fonts
(``FONT_FAMILY``: Korean and Vietnamese are shaped by the browser or by WeasyPrint, not by matplotlib).

Every mark a reader or a test needs to find is a group with a class and ``data-`` attributes (``pt`` for a plotted
point with ``data-index`` and ``data-value``, ``pt violation`` with ``data-rules`` for a point of a rule violation,
drawn red; ``limit ucl`` / ``lcl`` / ``centre`` with ``data-value``; ``spec usl`` ... for specification limits) and
a ``<title>`` that browsers show as a tooltip.  The ids of one chart are prefixed with a name of its own, so
several charts can share a page.

A control chart takes the dictionary of :meth:`shopfloor.analytics.spc.Chart.to_dict`: the plotted ``values``, the
``centre``, ``ucl`` and ``lcl`` (a number when constant, else one value per point, drawn as a stepped line) and the
phase I ``baseline`` indices.  Rule violations are dictionaries with ``rule``, ``index`` and ``points``
(:meth:`shopfloor.analytics.run_rules.Violation.to_dict`).  Missing values (None or NaN) leave a gap in the line;
non-finite limits are not drawn.  A chart without data says so (``empty``: the text, in the reader's language).
"""

from __future__ import annotations

import base64
import functools
import hashlib
import io
import math
import numbers
import re
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from html import escape
from typing import Any

from shopfloor.reports.pdf import FONT_FAMILY, html_to_pdf

__all__ = [
    "MAX_X_LABELS",
    "STATE_COLOURS",
    "VIOLATION_COLOUR",
    "before_after_svg",
    "chart_report_html",
    "chart_report_pdf",
    "control_chart_figure",
    "control_chart_svg",
    "Chart",
    "format_number",
    "histogram_svg",
    "hourly_svg",
    "pareto_svg",
    "timeline_svg",
]

DATA_COLOUR = "#1f4e79"
VIOLATION_COLOUR = "#d62728"
CENTRE_COLOUR = "#2e7d32"
LIMIT_COLOUR = "#c0392b"
SPEC_COLOUR = "#d62728"
TARGET_COLOUR = "#2e7d32"
GRID_COLOUR = "#e6e6e6"
FRAME_COLOUR = "#999999"
TEXT_COLOUR = "#222222"
MUTED_COLOUR = "#666666"
BASELINE_FILL = "#eef2f6"
BAR_FILL = "#a9c8e4"
BAR_STROKE = "#4a7fb0"
CURVE_COLOUR = "#333333"
BEFORE_COLOUR = "#888888"
AFTER_COLOUR = "#1a73e8"
GOOD_COLOUR = "#1e8e3e"
STOP_COLOUR = "#d93025"
STATE_COLOURS = {
    "running": "#1e8e3e",
    "idle": "#e8a200",
    "setup": "#1a73e8",
    "down": "#d93025",
    "planned_stop": "#80868b",
    "no_order": "#bdc1c6",
}
MAX_X_LABELS = 12
_LIMITS = (("centre", "CL", CENTRE_COLOUR, "-"), ("ucl", "UCL", LIMIT_COLOUR, "--"), ("lcl", "LCL", LIMIT_COLOUR, "--"))
_INVALID_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_PX = 1 / 72  # the SVG canvas draws at 72 units per inch: one figure inch is 72 px of the SVG
PRINT_DPI = 150
_PRINT: ContextVar[bool] = ContextVar("shopfloor_charts_for_print", default=False)


@contextmanager
def for_print() -> Iterator[None]:
    """Charts drawn inside are pictures (PNG at ``PRINT_DPI``) instead of SVG, for a PDF.  WeasyPrint lays out an
    SVG chart of a few hundred marks in about 0.45 s and its picture in milliseconds: ten daily charts of 364
    points took 4.8 s to print as SVG against 1.3 s drawn and printed as pictures (the tooltips and classes of
    the SVG have no use on paper)."""
    token = _PRINT.set(True)
    try:
        yield
    finally:
        _PRINT.reset(token)


def _png(chart: Chart) -> str:
    buf = io.BytesIO()
    chart.figure.savefig(buf, format="png", dpi=PRINT_DPI)
    width, height = (round(v / _PX) for v in chart.figure.get_size_inches())
    data = base64.b64encode(buf.getvalue()).decode()
    return (
        f'<img class="chart-img" src="data:image/png;base64,{data}" width="{width}" height="{height}" '
        f'alt="{_esc(chart.label)}">'
    )


@functools.cache
def _matplotlib() -> tuple[Any, Any, Any]:
    """Figure, the SVG canvas and the ticker module, with the rc settings every chart shares (set once)."""
    # Imported on first use: matplotlib takes a few hundred milliseconds to load; only pages and reports with a
    # chart need it, never the command line or the collectors.
    import matplotlib
    from matplotlib import ticker  # with matplotlib, above
    from matplotlib.backends.backend_svg import FigureCanvasSVG  # with matplotlib, above
    from matplotlib.figure import Figure  # with matplotlib, above

    matplotlib.rcParams.update(
        {
            "svg.fonttype": "none",
            "svg.hashsalt": "shopfloor",
            "font.family": ["Noto Sans CJK KR", "Noto Sans", "DejaVu Sans"],
            "font.size": 9,
            "axes.edgecolor": FRAME_COLOUR,
            "axes.labelcolor": TEXT_COLOUR,
            "axes.titlesize": 10,
            "axes.titleweight": "bold",
            "text.color": TEXT_COLOUR,
            "xtick.color": MUTED_COLOUR,
            "ytick.color": MUTED_COLOUR,
            "xtick.labelcolor": TEXT_COLOUR,
            "ytick.labelcolor": TEXT_COLOUR,
            "axes.unicode_minus": False,
        }
    )
    return Figure, FigureCanvasSVG, ticker


# -- numbers ------------------------------------------------------------------------------------------------------


def _tidy_exponent(text: str) -> str:
    return re.sub(r"e([+-])0*(\d+)", lambda m: "e" + ("-" if m.group(1) == "-" else "") + m.group(2), text)


def format_number(value: Any, digits: int = 4) -> str:
    """``value`` with ``digits`` significant digits, trailing zeros dropped: 50.8100 -> "50.81", 0.0523 ->
    "0.0523", 1234567.8 -> "1234568"; exponent form outside 1e-4 .. 1e7 ("2.5e-6").  None -> "", NaN -> "NaN"."""
    if value is None:
        return ""
    v = float(value)
    if math.isnan(v):
        return "NaN"
    if math.isinf(v):
        return "∞" if v > 0 else "-∞"
    if v == 0:
        return "0"
    magnitude = math.floor(math.log10(abs(v)))
    if -4 <= magnitude < 7:
        text = f"{v:.{max(0, digits - 1 - magnitude)}f}"
        if "." in text:
            text = text.rstrip("0").rstrip(".")
    else:
        mantissa, _, exp = f"{v:.{max(0, digits - 1)}e}".partition("e")
        if "." in mantissa:
            mantissa = mantissa.rstrip("0").rstrip(".")
        text = _tidy_exponent(f"{mantissa}e{exp}")
    return "0" if text in ("-0", "") else text


def _num(value: Any) -> float:
    if value is None:
        return math.nan
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def _series(value: Any, n: int, name: str) -> list[float]:
    if value is None:
        return [math.nan] * n
    if isinstance(value, numbers.Real):
        return [float(value)] * n
    items = [_num(v) for v in value]
    if len(items) != n:
        raise ValueError(f"{name} has {len(items)} values for {n} points")
    return items


def _constant(value: Any) -> float | None:
    """The limit when it is the same finite number at every point, else None."""
    if value is None:
        return None
    if isinstance(value, numbers.Real):
        v = float(value)
        return v if math.isfinite(v) else None
    items = [_num(v) for v in value]
    if items and all(math.isfinite(v) and v == items[0] for v in items):
        return items[0]
    return None


def _runs(values: Sequence[float]) -> list[list[int]]:
    """Indices of the runs of consecutive finite values."""
    runs: list[list[int]] = []
    current: list[int] = []
    for i, v in enumerate(values):
        if math.isfinite(v):
            current.append(i)
        elif current:
            runs.append(current)
            current = []
    if current:
        runs.append(current)
    return runs


# -- figures and their SVG ----------------------------------------------------------------------------------------


@dataclass
class Chart:
    """A figure being drawn, with what each marked group of its SVG gets: class, data attributes, tooltip."""

    figure: Any
    label: str
    marks: dict[str, tuple[str, dict[str, str], str]] = field(default_factory=dict)
    each: dict[str, list[tuple[str, dict[str, str], str]]] = field(default_factory=dict)
    count: int = 0

    def svg(self) -> str:
        """The figure as inline SVG (after which the axes' transforms are those of the drawn figure)."""
        return _svg(self)

    def mark(self, artist: Any, cls: str, title: str = "", **data: Any) -> Any:
        self.count += 1
        gid = f"mark-{self.count}"
        artist.set_gid(gid)
        self.marks[gid] = (cls, {k.replace("_", "-"): str(v) for k, v in data.items()}, title)
        return artist

    def points(self, artist: Any, cls: str, points: list[tuple[str, str, dict[str, Any]]]) -> Any:
        """Mark each marker of a line drawn with markers only (one per finite vertex, in order): ``points`` are
        (class, tooltip, data) per marker.  One line for many points draws far faster than a line per point."""
        self.mark(artist, cls)
        self.each[f"mark-{self.count}"] = [
            (c, {k.replace("_", "-"): str(v) for k, v in data.items()}, tip) for c, tip, data in points
        ]
        return artist


def _check_size(width: int, height: int) -> None:
    if width < 120 or height < 90:
        raise ValueError(f"a chart needs at least 120 x 90 px, got {width} x {height}")


def _new(width: int, height: int, label: str) -> tuple[Chart, Any]:
    _check_size(width, height)
    figure_cls, canvas_cls, _ = _matplotlib()
    fig = figure_cls(figsize=(width * _PX, height * _PX), dpi=72, layout="constrained")
    canvas_cls(fig)
    fig.get_layout_engine().set(w_pad=4 * _PX, h_pad=4 * _PX)
    ax = fig.add_subplot()
    ax.grid(True, axis="y", color=GRID_COLOUR, linewidth=0.8)
    ax.set_axisbelow(True)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    return Chart(fig, label), ax


def _esc(value: Any) -> str:
    return escape(_INVALID_XML.sub("", str(value)), quote=True)


_DROP = re.compile(r"<\?xml[^>]*\?>\s*|<!DOCTYPE[^>]*>\s*|<metadata>.*?</metadata>\s*|<style[^>]*>.*?</style>\s*", re.S)
_STYLE = re.compile(r' style="([^"]*)"')
_FONT = re.compile(r"font-family: [^;\"]*;?\s*")
_REF = re.compile(r'(\bid=")([^"]+)(")|(href="#)([^"]+)(")|(url\(#)([^)]+)(\))')
_ROOT = re.compile(r"<svg\b[^>]*>")


def _attributes(m: re.Match[str]) -> str:
    pairs = (part.split(":", 1) for part in m.group(1).split(";") if ":" in part)
    return "".join(f' {k.strip()}="{v.strip()}"' for k, v in pairs)


def _mark_attributes(cls: str, data: dict[str, str], title: str) -> str:
    """The rest of a marked group's start tag and its tooltip."""
    attrs = "".join(f' data-{k}="{_esc(v)}"' for k, v in data.items())
    return f' class="{_esc(cls)}"{attrs}>' + (f"<title>{_esc(title)}</title>" if title else "")


_USE = re.compile(r"<use [^>]*/>")


def _wrap_markers(text: str, start: str, points: list[tuple[str, dict[str, str], str]]) -> str:
    """Each marker (``<use>``) of the group that starts with ``start`` in a group of its own, with its class, data
    and tooltip; matplotlib writes a line's markers one after the other, in the order of the line's points."""
    at = text.find(start)
    if at < 0 or not points:
        return text
    out, pos = [text[:at]], at
    for (cls, data, title), m in zip(points, _USE.finditer(text, at)):
        out.append(text[pos : m.start()])
        out.append(f"<g{_mark_attributes(cls, data, title)}{m.group(0)}</g>")
        pos = m.end()
    out.append(text[pos:])
    return "".join(out)


def _svg(chart: Chart) -> str:
    """The figure as an ``<svg>`` element for inlining: no XML prolog or metadata, sizes in px, text in the page's
    fonts, ids prefixed, marked groups with their class, data attributes and tooltip.  Styles are written as
    presentation attributes (``fill="#fff"``, not ``style="fill: #fff"``) and there is no ``<style>`` element: the
    pages' Content-Security-Policy allows no inline style, and a page's stylesheet cannot reach into the chart.
    Inside ``for_print`` the figure is an ``<img>`` of its PNG instead."""
    if _PRINT.get():
        return _png(chart)
    out = io.StringIO()
    chart.figure.canvas.print_svg(out, metadata={"Date": None, "Creator": None, "Format": None, "Type": None})
    text = _STYLE.sub(_attributes, _FONT.sub("", _DROP.sub("", out.getvalue())))
    prefix = "c" + hashlib.sha1(text.encode()).hexdigest()[:8]

    def ref(m: re.Match[str]) -> str:
        g = [x for x in m.groups() if x is not None]
        return f"{g[0]}{prefix}-{g[1]}{g[2]}"

    text = _REF.sub(ref, text)
    for gid, (cls, data, title) in chart.marks.items():
        text = text.replace(
            f'<g id="{prefix}-{gid}">', f'<g id="{prefix}-{gid}"{_mark_attributes(cls, data, title)}', 1
        )
    for gid, points in chart.each.items():
        text = _wrap_markers(text, f'<g id="{prefix}-{gid}"', points)
    width, height = (round(v / _PX) for v in chart.figure.get_size_inches())
    root = (
        f'<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" version="1.1" '
        f'class="chart-svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="{_esc(chart.label)}" font-family="{_esc(FONT_FAMILY)}" stroke-linejoin="round" '
        'stroke-linecap="butt">'
    )
    return _ROOT.sub(lambda _: root, text, count=1).strip()


def _message(ax: Any, text: str) -> None:
    ax.text(0.5, 0.5, text, transform=ax.transAxes, ha="center", va="center", color=MUTED_COLOUR)
    ax.set_xticks([])
    ax.set_yticks([])


def _nice_y(ax: Any) -> None:
    _, _, ticker = _matplotlib()
    ax.yaxis.set_major_locator(ticker.MaxNLocator(nbins=6, steps=[1, 2, 2.5, 5, 10]))
    ax.yaxis.set_major_formatter(ticker.FuncFormatter(lambda v, _: format_number(v)))


# -- control charts -----------------------------------------------------------------------------------------------


def _violation_dict(violation: Any) -> dict[str, Any]:
    if isinstance(violation, dict):
        return violation
    if hasattr(violation, "to_dict"):
        return violation.to_dict()
    return {"rule": violation.rule, "index": violation.index, "points": list(violation.points)}


def _violations_by_point(violations: Iterable[Any] | None, n: int) -> dict[int, list[str]]:
    found: dict[int, list[str]] = {}
    for raw in violations or ():
        v = _violation_dict(raw)
        rule = str(v.get("rule", ""))
        points = list(v.get("points") or [])
        if v.get("index") is not None:
            points.append(v["index"])
        for p in points:
            i = int(p)
            if 0 <= i < n and rule not in found.setdefault(i, []):
                found[i].append(rule)
    return found


def _whole_steps() -> Iterable[int]:
    e = 0
    while True:
        for m in (1, 2, 5):
            yield m * 10**e
        e += 1


def _x_label_indices(n: int, has_labels: bool, most: int = MAX_X_LABELS) -> list[int]:
    """The points whose label is shown: all of them up to ``most``, else evenly spaced ones (point numbers at
    round steps)."""
    most = max(2, min(most, MAX_X_LABELS))
    if n <= most:
        return list(range(n))
    if has_labels:
        step = math.ceil(n / most)
        return list(range(0, n, step))
    step = next(s for s in _whole_steps() if n / s <= most - 1)
    numbers_shown = ([1] if step > 2 else []) + list(range(step, n + 1, step))
    return [k - 1 for k in numbers_shown]


def _fit(label: str, room: int) -> str:
    return label if len(label) <= room else label[: max(room - 1, 2)] + "…"


def control_chart_figure(
    chart_doc: dict[str, Any],
    violations: list[dict[str, Any]] | None = None,
    *,
    title: str = "",
    labels: list[str] | None = None,
    width: int = 900,
    height: int = 300,
    baseline_shading: bool = True,
    empty: str = "No data to plot",
) -> tuple[Chart, Any]:
    """The control chart of :func:`control_chart_svg` before it is written: the chart and its axes (whose
    ``transData`` maps a point index and a value to the SVG's pixels, counted from the bottom, once
    ``chart.svg()`` has drawn it)."""
    values = [_num(v) for v in chart_doc.get("values") or []]
    n = len(values)
    if labels is not None and len(labels) != n:
        raise ValueError(f"{len(labels)} labels for {n} points")
    kind = str(chart_doc.get("chart") or "")
    chart, ax = _new(width, height, title or (f"{kind} chart" if kind else "control chart"))
    if title:
        ax.set_title(title, loc="left")
    if n == 0:
        _message(ax, empty)
        return chart, ax
    ax.set_xlim(-0.5, n - 0.5)
    _nice_y(ax)

    baseline = [int(i) for i in chart_doc.get("baseline") or []]
    if baseline_shading and 0 < len(baseline) < n and baseline == list(range(len(baseline))):
        end = len(baseline) - 0.5
        chart.mark(ax.axvspan(-0.5, end, color=BASELINE_FILL, zorder=0, linewidth=0), "baseline", "Phase I baseline")
        if len(baseline) / n >= 0.08 and (n - len(baseline)) / n >= 0.08:
            kw = {"transform": ax.get_xaxis_transform(), "fontsize": 7.5, "color": MUTED_COLOUR, "va": "top"}
            ax.text(-0.4, 0.99, "Phase I", **kw)
            ax.text(end + 0.1, 0.99, "Phase II", **kw)

    for key, name, colour, style in _LIMITS:
        constant = _constant(chart_doc.get(key))
        if constant is not None:
            line = ax.axhline(constant, color=colour, linestyle=style, linewidth=1.1)
            chart.mark(line, f"limit {key}", f"{name} {format_number(constant)}", value=format_number(constant))
            continue
        series = _series(chart_doc.get(key), n, key)
        for run in _runs(series):
            xs, ys = [], []
            for i in run:
                xs += [i - 0.5, i + 0.5]
                ys += [series[i], series[i]]
            (line,) = ax.plot(xs, ys, color=colour, linestyle=style, linewidth=1.1)
            chart.mark(line, f"limit {key} stepped", name, first=run[0], values=" ".join(map(format_number, ys[::2])))

    for run in _runs(values):
        if len(run) > 1:
            ax.plot(run, [values[i] for i in run], color=DATA_COLOUR, linewidth=1.2, zorder=3)
    extra = chart_doc.get("c_minus")
    if extra is not None and len(extra) == n:
        lower = [_num(v) for v in extra]
        for run in _runs(lower):
            (line,) = ax.plot(run, [lower[i] for i in run], color="#b06000", linewidth=1.1, zorder=3)
            chart.mark(line, "series c-minus", "C-")

    flagged = _violations_by_point(violations, n)
    size = 5.0 if n <= 60 else 3.6 if n <= 200 else 2.6
    plain: list[int] = []
    red: list[int] = []
    for i, v in enumerate(values):
        if math.isfinite(v):
            (red if i in flagged else plain).append(i)

    def point(i: int) -> tuple[str, str, dict[str, Any]]:
        name = f"Point {i + 1}" + (f" ({labels[i]})" if labels is not None else "")
        tip = f"{name}: {format_number(values[i])}"
        data: dict[str, Any] = {"index": i, "value": format_number(values[i])}
        if i not in flagged:
            return "pt", tip, data
        return "pt violation", f"{tip} - {', '.join(flagged[i])}", data | {"rules": " ".join(flagged[i])}

    if plain:
        (line,) = ax.plot(
            plain, [values[i] for i in plain], "o", linestyle="none", color=DATA_COLOUR, markeredgecolor="#ffffff",
            markeredgewidth=0.5, markersize=size, zorder=4,
        )  # fmt: skip
        chart.points(line, "points", [point(i) for i in plain])
    if red:
        (line,) = ax.plot(
            red, [values[i] for i in red], "o", linestyle="none", color=VIOLATION_COLOUR, markersize=size + 2,
            zorder=5,
        )  # fmt: skip
        chart.points(line, "points violations", [point(i) for i in red])

    longest = max((len(str(x)) for x in labels), default=1) if labels is not None else len(str(n))
    shown = _x_label_indices(n, labels is not None, int(width * 0.9 / (5.6 * longest + 12)))
    room = max(4, int(width * 0.9 / max(len(shown), 1) / 5.6))
    ax.set_xticks(shown, [_fit(str(labels[i]), room) if labels is not None else str(i + 1) for i in shown])
    legend = "  ".join(
        f"{name} {format_number(c)}" for key, name, _, _ in _LIMITS if (c := _constant(chart_doc.get(key))) is not None
    )
    if legend:
        ax.set_title(legend, loc="right", fontsize=8.5, fontweight="normal")
    return chart, ax


def control_chart_svg(
    chart_doc: dict[str, Any],
    violations: list[dict[str, Any]] | None = None,
    *,
    title: str = "",
    labels: list[str] | None = None,
    width: int = 900,
    height: int = 300,
    baseline_shading: bool = True,
    empty: str = "No data to plot",
) -> str:
    """One control chart as inline SVG from ``Chart.to_dict()``.

    The values are a line with a marker per point (class ``pt``; red, class ``pt violation`` with the rules in
    ``data-rules`` and the tooltip when the point belongs to one of ``violations``), the centre line solid, UCL
    and LCL dashed and stepped where they vary per point.  A phase I ``baseline`` that is a strict prefix of the
    points is shaded.  The x axis shows ``labels`` (one per point) or the point numbers 1..n, at most
    :data:`MAX_X_LABELS` of them; the constant limits are written top right.
    """
    chart, _ = control_chart_figure(
        chart_doc, violations, title=title, labels=labels, width=width, height=height,
        baseline_shading=baseline_shading, empty=empty,
    )  # fmt: skip
    return chart.svg()


# -- capability histogram -----------------------------------------------------------------------------------------


def _normal_pdf(x: float, mean: float, sigma: float) -> float:
    z = (x - mean) / sigma
    return math.exp(-0.5 * z * z) / (sigma * math.sqrt(2 * math.pi))


def histogram_svg(
    capability_doc: dict[str, Any],
    *,
    usl: float | None = None,
    lsl: float | None = None,
    target: float | None = None,
    title: str = "",
    width: int = 600,
    height: int = 260,
    empty: str = "No data to plot",
) -> str:
    """The capability histogram (``Capability.to_dict()``: ``histogram`` with bin ``edges`` and ``counts``) as
    inline SVG: bars (class ``bar``), LSL and USL as red labelled lines (class ``spec lsl`` / ``spec usl``, taken
    from the histogram when not given), the target dashed (``spec target``), and the normal curve (``normal``) with
    ``mean`` and ``sigma_overall`` scaled to the bars (expected count per bin = n x bin width x density)."""
    if hasattr(capability_doc, "to_dict") and not isinstance(capability_doc, dict):
        capability_doc = capability_doc.to_dict()
    hist = capability_doc.get("histogram") or {}
    edges = [_num(e) for e in hist.get("edges") or []]
    counts = [_num(c) for c in hist.get("counts") or []]
    usl_v = _num(hist.get("usl") if usl is None else usl)
    lsl_v = _num(hist.get("lsl") if lsl is None else lsl)
    target_v = _num(target)
    mean, sigma = _num(capability_doc.get("mean")), _num(capability_doc.get("sigma_overall"))
    has_bars = len(edges) >= 2 and len(counts) == len(edges) - 1 and all(map(math.isfinite, edges + counts))
    has_curve = has_bars and math.isfinite(mean) and math.isfinite(sigma) and sigma > 0

    chart, ax = _new(width, height, title or "capability histogram")
    if title:
        ax.set_title(title, loc="left")
    if not has_bars:
        _message(ax, empty)
        return _svg(chart)
    _, _, ticker = _matplotlib()
    ax.yaxis.set_major_locator(ticker.MaxNLocator(nbins=6, integer=True))
    for i, count in enumerate(counts):
        (bar,) = ax.bar(
            edges[i], count, width=edges[i + 1] - edges[i], align="edge", color=BAR_FILL, edgecolor=BAR_STROKE,
            linewidth=0.8,
        )  # fmt: skip
        tip = f"{format_number(edges[i])} - {format_number(edges[i + 1])}: {format_number(count)}"
        chart.mark(bar, "bar", tip, count=format_number(count))
    xs_all = [edges[0], edges[-1]] + [v for v in (usl_v, lsl_v, target_v) if math.isfinite(v)]
    if has_curve:
        xs_all += [mean - 3 * sigma, mean + 3 * sigma]
        lo, hi = min(xs_all), max(xs_all)
        scale = sum(counts) * (edges[-1] - edges[0]) / len(counts)
        xs = [lo + (hi - lo) * k / 160 for k in range(161)]
        (curve,) = ax.plot(xs, [scale * _normal_pdf(x, mean, sigma) for x in xs], color=CURVE_COLOUR, linewidth=1.4)
        chart.mark(curve, "normal", "Normal curve (overall)")
    pad = (max(xs_all) - min(xs_all)) * 0.03 or 1.0
    ax.set_xlim(min(xs_all) - pad, max(xs_all) + pad)
    ax.xaxis.set_major_formatter(ticker.FuncFormatter(lambda v, _: format_number(v)))
    middle = (min(xs_all) + max(xs_all)) / 2
    for key, name, value, colour, style in (
        ("lsl", "LSL", lsl_v, SPEC_COLOUR, "-"),
        ("usl", "USL", usl_v, SPEC_COLOUR, "-"),
        ("target", "Target", target_v, TARGET_COLOUR, "--"),
    ):
        if not math.isfinite(value):
            continue
        label = f"{name} {format_number(value)}"
        chart.mark(ax.axvline(value, color=colour, linestyle=style, linewidth=1.4), f"spec {key}", label,
                   value=format_number(value))  # fmt: skip
        right = value > middle
        ax.text(
            value, 0.97 if key != "target" else 0.88, f" {label} ", transform=ax.get_xaxis_transform(),
            ha="right" if right else "left", va="top", color=colour, fontsize=8,
        )  # fmt: skip
    facts = [("n", capability_doc.get("n")), ("mean", mean), ("s", sigma)]
    legend = "  ".join(f"{k} {format_number(v)}" for k, v in facts if v is not None and math.isfinite(_num(v)))
    if legend:
        ax.set_title(legend, loc="right", fontsize=8.5, fontweight="normal")
    return _svg(chart)


# -- improvement report -------------------------------------------------------------------------------------------


def before_after_svg(
    before: Sequence[tuple[str, float | None]],
    after: Sequence[tuple[str, float | None]],
    *,
    before_level: float | None,
    after_level: float | None,
    format_value=format_number,
    format_tick=format_number,
    width: int = 760,
    height: int = 190,
    empty: str = "No data to plot",
) -> str:
    """Daily values of one KPI across two periods: the baseline's points grey, the comparison's blue (each a
    group ``pt before`` / ``pt after`` with its day and value), each period's level a dashed line (``level``) and
    a line between the periods.  ``before`` and ``after`` are (day, value) pairs; ``format_value`` writes a value
    in the tooltips, ``format_tick`` on the axis."""
    pts = [(d, v, "before") for d, v in before] + [(d, v, "after") for d, v in after]
    chart, ax = _new(width, height, "daily values")
    if not any(v is not None for _, v, _ in pts):
        _message(ax, empty)
        return _svg(chart)
    _nice_y(ax)
    _, _, ticker = _matplotlib()
    ax.yaxis.set_major_formatter(ticker.FuncFormatter(lambda v, _: format_tick(v)))
    split = len(before)
    ax.set_xlim(-0.6, max(len(pts) - 1, 1) + 0.6)
    if 0 < split < len(pts):
        ax.axvline(split - 0.5, color=BEFORE_COLOUR, linewidth=0.9)
    for key, colour, lo, hi, level in (
        ("before", BEFORE_COLOUR, 0, split - 1, before_level),
        ("after", AFTER_COLOUR, split, len(pts) - 1, after_level),
    ):
        if level is not None and hi >= lo:
            (line,) = ax.plot([lo, hi], [level, level], color=colour, linestyle="--", linewidth=1.1)
            chart.mark(line, f"level {key}", format_value(level), value=level)
    for key, colour in (("before", BEFORE_COLOUR), ("after", AFTER_COLOUR)):
        idx = [i for i, (_, v, k) in enumerate(pts) if k == key and v is not None]
        if idx:
            (line,) = ax.plot(idx, [pts[i][1] for i in idx], "o", linestyle="none", color=colour, markersize=4.5)
            marks = [(f"pt {key}", f"{pts[i][0]}: {format_value(pts[i][1])}", {"day": pts[i][0], "value": pts[i][1]})
                     for i in idx]  # fmt: skip
            chart.points(line, f"points {key}", marks)
    shown = _x_label_indices(len(pts), True)
    ax.set_xticks(shown, [str(pts[i][0])[5:] for i in shown])
    return _svg(chart)


# -- a machine's page ---------------------------------------------------------------------------------------------


def timeline_svg(
    segments: Sequence[tuple[datetime, datetime, str, str]],
    start: datetime,
    end: datetime,
    tz: tzinfo,
    *,
    width: int = 900,
    height: int = 110,
    empty: str = "No data to plot",
) -> str:
    """A machine's states from ``start`` to ``end`` as coloured bars on a time axis read in the site's zone ``tz``
    (hours and minutes, whatever the zone of the reader).  A segment is (start, end, state, tooltip); each bar is a
    group ``segment`` with ``data-state``."""
    _, _, ticker = _matplotlib()
    from matplotlib import dates  # with matplotlib, above

    chart, ax = _new(width, max(height, 90), "state timeline")
    ax.grid(False)
    ax.spines["left"].set_visible(False)
    ax.set_yticks([])
    ax.set_ylim(0, 1)
    ax.set_xlim(dates.date2num(start), dates.date2num(end))
    for s, e, state, tip in segments:
        x0 = dates.date2num(s)
        bars = ax.broken_barh(
            [(x0, max(dates.date2num(e) - x0, 0))], (0.15, 0.7), facecolors=STATE_COLOURS.get(state, "#999999")
        )
        chart.mark(bars, "segment", tip, state=state)
    if not segments:
        ax.text(0.5, 0.5, empty, transform=ax.transAxes, ha="center", va="center", color=MUTED_COLOUR)
    locator = dates.AutoDateLocator(tz=tz, minticks=4, maxticks=12)
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(dates.DateFormatter("%H:%M", tz=tz))
    return _svg(chart)


def hourly_svg(
    hours: Sequence[tuple[str, float]],
    target: float,
    *,
    good: str,
    target_label: str,
    width: int = 900,
    height: int = 260,
    empty: str = "No data to plot",
) -> str:
    """Good units per hour as bars (``bar`` with ``data-value``) against the hourly ``target`` (a red line,
    ``target``, when above zero); ``good`` and ``target_label`` name them in the legend."""
    chart, ax = _new(width, height if hours else 120, good)
    if not hours:
        _message(ax, empty)
        return _svg(chart)
    _nice_y(ax)
    xs = list(range(len(hours)))
    for i, (hour, value) in enumerate(hours):
        (bar,) = ax.bar(i, value, color=GOOD_COLOUR, width=0.7, label=good if i == 0 else None)
        chart.mark(bar, "bar", f"{hour} {good} {format_number(value)}", hour=hour, value=format_number(value))
    if target > 0:
        line = ax.axhline(target, color=STOP_COLOUR, linewidth=1.3, label=target_label)
        chart.mark(line, "target", f"{target_label} {format_number(target)}", value=format_number(target))
    ax.set_ylim(0, max([v for _, v in hours] + [target, 1]) * 1.08)
    ax.set_xlim(-0.6, max(len(hours), 8) - 0.4)
    shown = _x_label_indices(len(hours), True) if len(hours) > 16 else xs
    ax.set_xticks(shown, [hours[i][0] for i in shown])
    ax.legend(loc="upper left", bbox_to_anchor=(0, 1.16), ncols=2, frameon=False, fontsize=8.5)
    return _svg(chart)


def pareto_svg(
    reasons: Sequence[tuple[str, float, float]],
    *,
    minutes: str,
    width: int = 900,
    height: int = 280,
    empty: str = "No data to plot",
) -> str:
    """Downtime by reason, longest first: minutes as red bars (``bar`` with ``data-reason``) and the cumulative
    share as a line on a 0-100 % axis (``cumulative``).  A reason is (name, minutes, cumulative percent)."""
    chart, ax = _new(width, height if reasons else 120, "Pareto")
    if not reasons:
        _message(ax, empty)
        return _svg(chart)
    _nice_y(ax)
    ax.set_ylabel(minutes)
    room = max(6, int(width / max(len(reasons), 5) / 6.5))
    for i, (name, value, cum) in enumerate(reasons):
        (bar,) = ax.bar(i, value, color=STOP_COLOUR, width=0.6)
        chart.mark(bar, "bar", f"{name}: {format_number(value)} {minutes} ({cum:g} %)", reason=name,
                   value=format_number(value))  # fmt: skip
    ax.set_xticks(range(len(reasons)), [_fit(name, room) for name, _, _ in reasons])
    ax.set_xlim(-0.6, max(len(reasons), 5) - 0.4)
    share = ax.twinx()
    share.spines["top"].set_visible(False)
    share.set_ylim(0, 105)
    share.set_yticks([0, 25, 50, 75, 100])
    share.set_ylabel("%")
    (line,) = share.plot(range(len(reasons)), [c for _, _, c in reasons], "o-", color=AFTER_COLOUR, markersize=3.5)
    chart.mark(line, "cumulative", "%")
    return _svg(chart)


# -- the printable chart report -----------------------------------------------------------------------------------

_REPORT_CSS = f"""
@page {{ size: A4 landscape; margin: 12mm; }}
* {{ box-sizing: border-box; }}
html, body {{ margin: 0; padding: 0; background: #fff; }}
body {{ font-family: {FONT_FAMILY}; color: #111; font-size: 9pt; line-height: 1.3;
  -webkit-print-color-adjust: exact; print-color-adjust: exact; }}
header {{ border-bottom: 0.4mm solid #333; padding-bottom: 2mm; margin-bottom: 4mm; }}
h1 {{ font-size: 15pt; margin: 0; }}
.subtitle {{ margin: 1mm 0 0; color: #444; font-size: 10pt; }}
section.chart {{ break-inside: avoid; page-break-inside: avoid; margin-bottom: 6mm; }}
h2 {{ font-size: 11.5pt; margin: 0 0 2mm; }}
.figure svg {{ display: block; width: 100%; height: auto; max-height: 105mm; }}
.tables {{ display: flex; gap: 6mm; align-items: flex-start; margin-top: 2mm; }}
table {{ border-collapse: collapse; font-size: 8.5pt; }}
caption {{ text-align: left; font-weight: 700; padding-bottom: 1mm; }}
th, td {{ border: 0.2mm solid #bbb; padding: 0.5mm 2mm; text-align: left; vertical-align: top; }}
thead th {{ background: #f0f0f0; }}
.facts th {{ font-weight: 400; color: #333; background: #f7f7f7; }}
td.num {{ text-align: right; font-variant-numeric: tabular-nums; }}
.none {{ color: #555; margin: 0; }}
"""


def _fact_value(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        return format_number(value)
    return str(value)


def _facts_table(facts: Iterable[Sequence[Any]]) -> str:
    rows = "".join(f"<tr><th>{_esc(label)}</th><td>{_esc(_fact_value(value))}</td></tr>" for label, value in facts)
    return f'<table class="facts"><tbody>{rows}</tbody></table>' if rows else ""


def _violations_table(violations: Iterable[Any]) -> str:
    rows = []
    for raw in violations:
        v = _violation_dict(raw)
        index = v.get("index")
        point = "" if index is None else str(int(index) + 1)
        points = ", ".join(str(int(p) + 1) for p in v.get("points") or [])
        rows.append(
            f'<tr><td>{_esc(v.get("rule", ""))}</td><td class="num">{_esc(point)}</td><td>{_esc(points)}</td></tr>'
        )
    if not rows:
        return '<p class="none">No rule violations</p>'
    return (
        '<table class="violations"><caption>Rule violations</caption>'
        "<thead><tr><th>Rule</th><th>Point</th><th>Points</th></tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table>"
    )


def _section(section: dict[str, Any]) -> str:
    heading = section.get("heading") or ""
    parts = [f"<h2>{_esc(heading)}</h2>" if heading else ""]
    if section.get("svg"):
        parts.append(f'<div class="figure">{section["svg"]}</div>')
    tables = _facts_table(section.get("facts") or [])
    if "violations" in section and section["violations"] is not None:
        tables += _violations_table(section["violations"])
    if tables:
        parts.append(f'<div class="tables">{tables}</div>')
    return f'<section class="chart">{"".join(parts)}</section>'


def chart_report_html(sections: list[dict[str, Any]], *, title: str, subtitle: str = "", lang: str = "en") -> str:
    """A printable A4 landscape HTML page: a header with ``title`` and ``subtitle``, then one block per section.

    Section keys: ``heading`` (text), ``svg`` (markup from :func:`control_chart_svg` or :func:`histogram_svg`,
    inserted as is), ``facts`` (label, value pairs; numbers get four significant digits) and ``violations``
    (dictionaries with rule, index and points, shown with point numbers from 1).  All other text is escaped.
    """
    header = f"<h1>{_esc(title)}</h1>" + (f'<p class="subtitle">{_esc(subtitle)}</p>' if subtitle else "")
    body = "".join(_section(s) for s in sections)
    return (
        f'<!doctype html><html lang="{_esc(lang)}"><head><meta charset="utf-8"><title>{_esc(title)}</title>'
        f"<style>{_REPORT_CSS}</style></head><body><header>{header}</header><main>{body}</main></body></html>"
    )


def chart_report_pdf(sections: list[dict[str, Any]], *, title: str, subtitle: str = "", lang: str = "en") -> bytes:
    """The report of :func:`chart_report_html` as PDF bytes (A4 landscape, WeasyPrint)."""
    return html_to_pdf(chart_report_html(sections, title=title, subtitle=subtitle, lang=lang), landscape=True)
