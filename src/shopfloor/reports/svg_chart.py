"""Control charts and capability histograms as inline SVG, and a printable chart report (HTML and PDF).

The SVG is built as plain text (no plotting library) so that the same markup is shown in the browser and printed
by WeasyPrint.  A control chart takes the dictionary of :meth:`shopfloor.analytics.spc.Chart.to_dict`: the plotted
``values``, the ``centre``, ``ucl`` and ``lcl`` (a number when constant, else one value per point, drawn as a
stepped line) and the phase I ``baseline`` indices.  Rule violations are dictionaries with ``rule``, ``index`` and
``points`` (:meth:`shopfloor.analytics.run_rules.Violation.to_dict`); every point of a violation is drawn red with
its rules in a tooltip.  Missing values (None or NaN) leave a gap in the line; non-finite limits are not drawn.

Axis ticks are "nice" numbers: steps of 1, 2, 2.5 or 5 times a power of ten, five to seven ticks covering the data.
All text is XML-escaped and the output parses as XML.

The report is an A4 landscape page (CSS ``@page``, 12 mm margins) with a header and one block per chart: a heading,
the SVG, a small table of facts and a table of rule violations (point numbers counted from 1).
"""

from __future__ import annotations

import math
import numbers
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from html import escape
from typing import Any

from shopfloor.reports.pdf import FONT_FAMILY, html_to_pdf

__all__ = [
    "CENTRE_COLOUR",
    "DATA_COLOUR",
    "LIMIT_COLOUR",
    "MAX_X_LABELS",
    "SPEC_COLOUR",
    "VIOLATION_COLOUR",
    "Scale",
    "chart_report_html",
    "chart_report_pdf",
    "control_chart_scales",
    "control_chart_svg",
    "format_number",
    "histogram_svg",
    "nice_ticks",
    "tick_labels",
]

SVG_NS = "http://www.w3.org/2000/svg"
DATA_COLOUR = "#1f4e79"
VIOLATION_COLOUR = "#d62728"
CENTRE_COLOUR = "#2e7d32"
LIMIT_COLOUR = "#c0392b"
SPEC_COLOUR = "#d62728"
TARGET_COLOUR = "#2e7d32"
GRID_COLOUR = "#e6e6e6"
FRAME_COLOUR = "#999"
TEXT_COLOUR = "#222"
MUTED_COLOUR = "#666"
BASELINE_FILL = "#eef2f6"
BAR_FILL = "#a9c8e4"
BAR_STROKE = "#4a7fb0"
CURVE_COLOUR = "#333"
MAX_X_LABELS = 12

_NICE_STEPS = (1.0, 2.0, 2.5, 5.0)
_INVALID_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_FONT_SIZE = 11
_CHAR_PX = 6.6
_TOP = 36.0
_HEAD_Y = 17.0
_BOTTOM = 30.0
_RIGHT = 14.0
_LIMITS = (
    ("centre", "CL", CENTRE_COLOUR, None),
    ("ucl", "UCL", LIMIT_COLOUR, "6 4"),
    ("lcl", "LCL", LIMIT_COLOUR, "6 4"),
)


@dataclass(frozen=True)
class Scale:
    """A linear map from the data interval ``d0``..``d1`` to the pixel interval ``r0``..``r1``.

    For a y axis ``r0`` is the bottom and ``r1`` the top of the plot (SVG y grows downwards).  A zero-width domain
    maps every value to the middle of the pixel interval.
    """

    d0: float
    d1: float
    r0: float
    r1: float

    def __call__(self, value: float) -> float:
        if self.d1 == self.d0:
            return (self.r0 + self.r1) / 2
        return self.r0 + (value - self.d0) * (self.r1 - self.r0) / (self.d1 - self.d0)

    def invert(self, pixel: float) -> float:
        """The data value drawn at ``pixel``."""
        if self.r1 == self.r0:
            return (self.d0 + self.d1) / 2
        return self.d0 + (pixel - self.r0) * (self.d1 - self.d0) / (self.r1 - self.r0)

    @property
    def units_per_pixel(self) -> float:
        return abs(self.d1 - self.d0) / abs(self.r1 - self.r0) if self.r1 != self.r0 else 0.0


def nice_ticks(lo: float, hi: float, *, min_ticks: int = 5, max_ticks: int = 7, integer: bool = False) -> list[float]:
    """Evenly spaced round tick values covering ``lo``..``hi``: ``min_ticks`` to ``max_ticks`` of them, the step
    1, 2, 2.5 or 5 times a power of ten (``integer``: whole steps of 1, 2 or 5 times a power of ten).

    The step that covers the range most tightly wins (2.5 only when it is strictly tighter).  When the covering
    ticks are fewer than ``min_ticks``, ticks are added alternately above and below, never below zero for a range
    that starts at zero or above.  An empty range (``lo == hi``) is widened by 10 % of the value (1 for zero).
    """
    if not (math.isfinite(lo) and math.isfinite(hi)):
        raise ValueError(f"the tick range must be finite, got {lo!r} .. {hi!r}")
    if min_ticks < 2 or max_ticks < min_ticks:
        raise ValueError(f"need 2 <= min_ticks <= max_ticks, got {min_ticks} and {max_ticks}")
    lo, hi = float(min(lo, hi)), float(max(lo, hi))
    if hi == lo:
        pad = abs(lo) * 0.1 if lo else 1.0
        lo, hi = lo - pad, hi + pad
        if hi == lo:
            raise ValueError(f"the tick range {lo!r} is too narrow for floating point")
    span = hi - lo
    exponent = math.floor(math.log10(span / max_ticks))
    best: tuple[tuple[float, bool, int], int, int, float, int] | None = None
    for e in range(exponent - 1, exponent + 3):
        for m in _NICE_STEPS:
            step = m * 10.0**e
            if integer and (step < 1 or m == 2.5):
                continue
            k0 = math.floor(lo / step + 1e-9)
            k1 = math.ceil(hi / step - 1e-9)
            if k1 - k0 + 1 > max_ticks:
                continue
            up = True
            while k1 - k0 + 1 < min_ticks:
                if up or (lo >= 0 and k0 <= 0):
                    k1 += 1
                else:
                    k0 -= 1
                up = not up
            key = ((k1 - k0) * step / span, m == 2.5, -(k1 - k0))
            if best is None or key < best[0]:
                best = (key, k0, k1, step, e - (1 if m == 2.5 else 0))
    if best is None:
        raise ValueError(f"no tick step found for {lo!r} .. {hi!r}")
    _, k0, k1, step, e = best
    digits = 2 - e
    return [round(k * step, digits) + 0.0 for k in range(k0, k1 + 1)]


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


def tick_labels(ticks: Sequence[float]) -> list[str]:
    """Labels for evenly spaced ``ticks`` with the same number of decimals (exponent form for tiny or huge)."""
    if not ticks:
        return []
    if len(ticks) == 1:
        return [format_number(ticks[0])]
    step = abs(ticks[1] - ticks[0]) or 1.0
    biggest = max(abs(t) for t in ticks)
    decimals = max(0, -math.floor(math.log10(step) + 1e-9))
    scaled = step * 10**decimals
    if abs(scaled - round(scaled)) > 1e-6 * max(1.0, scaled):
        decimals += 1
    if step < 1e-4 or biggest >= 1e7:
        sig = math.floor(math.log10(biggest)) - math.floor(math.log10(step) + 1e-9) + 2
        return ["0" if t == 0 else _tidy_exponent(f"{t:.{sig}g}") for t in ticks]
    return [f"{t:.{decimals}f}" for t in ticks]


def _esc(value: Any) -> str:
    return escape(_INVALID_XML.sub("", str(value)), quote=True)


def _c(value: float) -> str:
    text = f"{value:.2f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def _num(value: Any) -> float:
    if value is None:
        return math.nan
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def _finite(value: float) -> bool:
    return math.isfinite(value)


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


def _points(pairs: Iterable[tuple[float, float]]) -> str:
    return " ".join(f"{_c(x)},{_c(y)}" for x, y in pairs)


def _svg_open(width: int, height: int, label: str) -> str:
    return (
        f'<svg xmlns="{SVG_NS}" width="{width}" height="{height}" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="{_esc(label)}" font-family="{_esc(FONT_FAMILY)}" font-size="{_FONT_SIZE}" '
        f'fill="{TEXT_COLOUR}"><rect class="background" x="0" y="0" width="{width}" height="{height}" fill="#fff"/>'
    )


def _text(x: float, y: float, text: str, *, cls: str, anchor: str = "start", extra: str = "") -> str:
    return (
        f'<text class="{cls}" x="{_c(x)}" y="{_c(y)}" text-anchor="{anchor}"{extra}>{_esc(text)}</text>' if text else ""
    )


def _check_size(width: int, height: int) -> None:
    if width < 120 or height < 90:
        raise ValueError(f"a chart needs at least 120 x 90 px, got {width} x {height}")


@dataclass(frozen=True)
class _ControlLayout:
    values: list[float]
    limits: dict[str, list[float]]
    ticks: list[float]
    xs: Scale
    ys: Scale
    left: float
    top: float
    right: float
    bottom: float


def _left_margin(labels: Sequence[str]) -> float:
    return max(36.0, _CHAR_PX * max((len(t) for t in labels), default=1) + 14)


def _control_layout(chart_doc: dict[str, Any], width: int, height: int) -> _ControlLayout:
    _check_size(width, height)
    values = [_num(v) for v in chart_doc.get("values") or []]
    n = len(values)
    limits = {key: _series(chart_doc.get(key), n, key) for key, *_ in _LIMITS}
    finite = [v for v in values if math.isfinite(v)]
    for series in limits.values():
        finite.extend(v for v in series if math.isfinite(v))
    ticks = nice_ticks(min(finite), max(finite)) if finite else nice_ticks(0.0, 1.0)
    left = _left_margin(tick_labels(ticks))
    top, right, bottom = _TOP, width - _RIGHT, height - _BOTTOM
    xs = Scale(-0.5, max(n, 1) - 0.5, left, right)
    ys = Scale(ticks[0], ticks[-1], bottom, top)
    return _ControlLayout(values, limits, ticks, xs, ys, left, top, right, bottom)


def control_chart_scales(chart_doc: dict[str, Any], *, width: int = 900, height: int = 300) -> tuple[Scale, Scale]:
    """The x scale (point index 0..n-1 to pixels) and y scale (value to pixels) that :func:`control_chart_svg`
    uses for ``chart_doc`` at this size."""
    layout = _control_layout(chart_doc, width, height)
    return layout.xs, layout.ys


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


def _x_label_indices(n: int, has_labels: bool) -> list[int]:
    if n <= MAX_X_LABELS:
        return list(range(n))
    if has_labels:
        step = math.ceil(n / MAX_X_LABELS)
        return list(range(0, n, step))
    step = next(s for s in _whole_steps() if n / s <= MAX_X_LABELS - 1)
    numbers_shown = ([1] if step > 2 else []) + list(range(step, n + 1, step))
    return [k - 1 for k in numbers_shown]


def _whole_steps() -> Iterable[int]:
    e = 0
    while True:
        for m in (1, 2, 5):
            yield m * 10**e
        e += 1


def _fit(label: str, px: float) -> str:
    room = max(3, int(px / _CHAR_PX))
    return label if len(label) <= room else label[: room - 1] + "…"


def _y_axis(ticks: list[float], ys: Scale, left: float, right: float) -> list[str]:
    out = []
    for tick, label in zip(ticks, tick_labels(ticks)):
        y = ys(tick)
        out.append(
            f'<line class="grid" x1="{_c(left)}" y1="{_c(y)}" x2="{_c(right)}" y2="{_c(y)}" '
            f'stroke="{GRID_COLOUR}" stroke-width="1"/>'
        )
        out.append(_text(left - 6, y, label, cls="ytick", anchor="end", extra=' dy="0.35em"'))
    return out


def _frame(left: float, top: float, right: float, bottom: float) -> str:
    return (
        f'<rect class="frame" x="{_c(left)}" y="{_c(top)}" width="{_c(right - left)}" height="{_c(bottom - top)}" '
        f'fill="none" stroke="{FRAME_COLOUR}" stroke-width="1"/>'
    )


def _message(left: float, top: float, right: float, bottom: float, text: str) -> str:
    return _text((left + right) / 2, (top + bottom) / 2, text, cls="message", anchor="middle", extra=' dy="0.35em"')


def _limit_lines(layout: _ControlLayout, chart_doc: dict[str, Any]) -> list[str]:
    out = []
    xs, ys = layout.xs, layout.ys
    for key, name, colour, dash in _LIMITS:
        style = f'fill="none" stroke="{colour}" stroke-width="1.2"' + (f' stroke-dasharray="{dash}"' if dash else "")
        constant = _constant(chart_doc.get(key))
        if constant is not None:
            y = ys(constant)
            out.append(
                f'<line class="{key}" x1="{_c(layout.left)}" y1="{_c(y)}" x2="{_c(layout.right)}" y2="{_c(y)}" '
                f"{style}><title>{_esc(f'{name} {format_number(constant)}')}</title></line>"
            )
            continue
        for run in _runs(layout.limits[key]):
            pairs = []
            for i in run:
                y = ys(layout.limits[key][i])
                pairs += [(xs(i - 0.5), y), (xs(i + 0.5), y)]
            out.append(f'<polyline class="{key}" points="{_points(pairs)}" {style}><title>{name}</title></polyline>')
    return out


def control_chart_svg(
    chart_doc: dict[str, Any],
    violations: list[dict[str, Any]] | None = None,
    *,
    title: str = "",
    labels: list[str] | None = None,
    width: int = 900,
    height: int = 300,
    baseline_shading: bool = True,
) -> str:
    """One control chart as an inline SVG document (``<svg>`` with the SVG namespace) from ``Chart.to_dict()``.

    The values are a line with a marker per point (class ``pt``; red, class ``pt violation``, with the rules in the
    tooltip when the point belongs to one of ``violations``), the centre line solid, UCL and LCL dashed and stepped
    where they vary per point.  A phase I ``baseline`` that is a strict prefix of the points is shaded.  The x axis
    shows ``labels`` (one per point) or the point numbers 1..n, at most :data:`MAX_X_LABELS` of them.
    """
    layout = _control_layout(chart_doc, width, height)
    values, xs, ys = layout.values, layout.xs, layout.ys
    left, top, right, bottom = layout.left, layout.top, layout.right, layout.bottom
    n = len(values)
    if labels is not None and len(labels) != n:
        raise ValueError(f"{len(labels)} labels for {n} points")
    kind = str(chart_doc.get("chart") or "")
    out = [_svg_open(width, height, title or (f"{kind} chart" if kind else "control chart"))]
    out.append(_text(left, _HEAD_Y, title, cls="title", extra=' font-size="13" font-weight="700"'))
    if n == 0:
        out.append(_frame(left, top, right, bottom))
        out.append(_message(left, top, right, bottom, "No data to plot"))
        out.append("</svg>")
        return "".join(out)

    baseline = [int(i) for i in chart_doc.get("baseline") or []]
    if baseline_shading and 0 < len(baseline) < n and baseline == list(range(len(baseline))):
        x_end = xs(len(baseline) - 0.5)
        out.append(
            f'<rect class="baseline" x="{_c(left)}" y="{_c(top)}" width="{_c(x_end - left)}" '
            f'height="{_c(bottom - top)}" fill="{BASELINE_FILL}"><title>Phase I baseline</title></rect>'
        )
        phase = f' fill="{MUTED_COLOUR}" font-size="9.5"'
        if x_end - left >= 44 and right - x_end >= 48:
            out.append(_text(left + 2, top - 5, "Phase I", cls="phase", extra=phase))
            out.append(_text(x_end + 2, top - 5, "Phase II", cls="phase", extra=phase))
    out.extend(_y_axis(layout.ticks, ys, left, right))
    out.append(_frame(left, top, right, bottom))
    out.extend(_limit_lines(layout, chart_doc))

    for run in _runs(values):
        if len(run) > 1:
            pairs = [(xs(i), ys(values[i])) for i in run]
            out.append(
                f'<polyline class="data" points="{_points(pairs)}" fill="none" stroke="{DATA_COLOUR}" '
                'stroke-width="1.3" stroke-linejoin="round"/>'
            )
    flagged = _violations_by_point(violations, n)
    radius = 3.0 if n <= 60 else 2.2 if n <= 200 else 1.5
    for i, v in enumerate(values):
        if not math.isfinite(v):
            continue
        name = f"Point {i + 1}" + (f" ({labels[i]})" if labels is not None else "")
        tip = f"{name}: {format_number(v)}"
        if i in flagged:
            tip += " - " + ", ".join(flagged[i])
            out.append(
                f'<circle class="pt violation" cx="{_c(xs(i))}" cy="{_c(ys(v))}" r="{_c(radius + 1)}" '
                f'fill="{VIOLATION_COLOUR}" stroke="{VIOLATION_COLOUR}"><title>{_esc(tip)}</title></circle>'
            )
        else:
            out.append(
                f'<circle class="pt" cx="{_c(xs(i))}" cy="{_c(ys(v))}" r="{_c(radius)}" fill="{DATA_COLOUR}" '
                f'stroke="#fff" stroke-width="0.6"><title>{_esc(tip)}</title></circle>'
            )

    shown = _x_label_indices(n, labels is not None)
    room = (right - left) / max(len(shown), 1)
    for i in shown:
        x = xs(i)
        text = _fit(str(labels[i]), room) if labels is not None else str(i + 1)
        out.append(
            f'<line class="xtickmark" x1="{_c(x)}" y1="{_c(bottom)}" x2="{_c(x)}" y2="{_c(bottom + 4)}" '
            f'stroke="{FRAME_COLOUR}"/>'
        )
        out.append(_text(x, bottom + 16, text, cls="xtick", anchor="middle"))

    legend = "  ".join(
        f"{name} {format_number(c)}" for key, name, _, _ in _LIMITS if (c := _constant(chart_doc.get(key))) is not None
    )
    out.append(_text(right, _HEAD_Y, legend, cls="legend", anchor="end", extra=' xml:space="preserve"'))
    out.append("</svg>")
    return "".join(out)


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
) -> str:
    """The capability histogram (``Capability.to_dict()``: ``histogram`` with bin ``edges`` and ``counts``) as an
    inline SVG: bars, LSL and USL as red labelled lines (taken from the histogram when not given), the target as a
    dashed line, and the normal curve with ``mean`` and ``sigma_overall`` scaled to the bars (expected count per
    bin = n x bin width x density)."""
    _check_size(width, height)
    if hasattr(capability_doc, "to_dict") and not isinstance(capability_doc, dict):
        capability_doc = capability_doc.to_dict()
    hist = capability_doc.get("histogram") or {}
    edges = [_num(e) for e in hist.get("edges") or []]
    counts = [_num(c) for c in hist.get("counts") or []]
    usl = _num(hist.get("usl") if usl is None else usl)
    lsl = _num(hist.get("lsl") if lsl is None else lsl)
    target_v = _num(target)
    mean, sigma = _num(capability_doc.get("mean")), _num(capability_doc.get("sigma_overall"))
    has_bars = len(edges) >= 2 and len(counts) == len(edges) - 1 and all(map(_finite, edges + counts))
    has_curve = has_bars and math.isfinite(mean) and math.isfinite(sigma) and sigma > 0

    out = [_svg_open(width, height, title or "capability histogram")]
    if not has_bars:
        xticks, yticks = nice_ticks(0.0, 1.0), nice_ticks(0.0, 1.0)
    else:
        xs_all = [edges[0], edges[-1]] + [v for v in (usl, lsl, target_v) if math.isfinite(v)]
        if has_curve:
            xs_all += [mean - 3 * sigma, mean + 3 * sigma]
        xticks = nice_ticks(min(xs_all), max(xs_all))
        total = sum(counts)
        bin_width = (edges[-1] - edges[0]) / len(counts)
        peak = total * bin_width * _normal_pdf(mean, mean, sigma) if has_curve else 0.0
        yticks = nice_ticks(0.0, max(max(counts), peak, 1.0), integer=True)
    left = _left_margin(tick_labels(yticks))
    top, right, bottom = _TOP, width - _RIGHT, height - _BOTTOM
    xs = Scale(xticks[0], xticks[-1], left, right)
    ys = Scale(yticks[0], yticks[-1], bottom, top)
    out.append(_text(left, _HEAD_Y, title, cls="title", extra=' font-size="13" font-weight="700"'))
    if not has_bars:
        out.append(_frame(left, top, right, bottom))
        out.append(_message(left, top, right, bottom, "No data to plot"))
        out.append("</svg>")
        return "".join(out)

    out.extend(_y_axis(yticks, ys, left, right))
    for i, count in enumerate(counts):
        x0, x1, y = xs(edges[i]), xs(edges[i + 1]), ys(count)
        tip = f"{format_number(edges[i])} - {format_number(edges[i + 1])}: {format_number(count)}"
        out.append(
            f'<rect class="bar" x="{_c(x0)}" y="{_c(y)}" width="{_c(max(x1 - x0, 0.0))}" height="{_c(bottom - y)}" '
            f'fill="{BAR_FILL}" stroke="{BAR_STROKE}" stroke-width="0.8"><title>{_esc(tip)}</title></rect>'
        )
    out.append(_frame(left, top, right, bottom))
    for tick, label in zip(xticks, tick_labels(xticks)):
        x = xs(tick)
        out.append(
            f'<line class="xtickmark" x1="{_c(x)}" y1="{_c(bottom)}" x2="{_c(x)}" y2="{_c(bottom + 4)}" '
            f'stroke="{FRAME_COLOUR}"/>'
        )
        out.append(_text(x, bottom + 16, label, cls="xtick", anchor="middle"))

    if has_curve:
        total = sum(counts)
        bin_width = (edges[-1] - edges[0]) / len(counts)
        samples = 160
        pairs = []
        for k in range(samples + 1):
            x = xticks[0] + (xticks[-1] - xticks[0]) * k / samples
            pairs.append((xs(x), ys(total * bin_width * _normal_pdf(x, mean, sigma))))
        out.append(
            f'<polyline class="normal" points="{_points(pairs)}" fill="none" stroke="{CURVE_COLOUR}" '
            'stroke-width="1.5"><title>Normal curve (overall)</title></polyline>'
        )

    middle = (left + right) / 2
    for cls, name, value, colour, dash in (
        ("lsl", "LSL", lsl, SPEC_COLOUR, None),
        ("usl", "USL", usl, SPEC_COLOUR, None),
        ("target", "Target", target_v, TARGET_COLOUR, "5 3"),
    ):
        if not math.isfinite(value):
            continue
        x = xs(value)
        label = f"{name} {format_number(value)}"
        dash_attr = f' stroke-dasharray="{dash}"' if dash else ""
        out.append(
            f'<line class="{cls}" x1="{_c(x)}" y1="{_c(top)}" x2="{_c(x)}" y2="{_c(bottom)}" stroke="{colour}" '
            f'stroke-width="1.5"{dash_attr}><title>{_esc(label)}</title></line>'
        )
        right_side = x > middle
        out.append(
            _text(
                x - 4 if right_side else x + 4,
                top + (26 if cls == "target" else 12),
                label,
                cls=f"{cls}-label",
                anchor="end" if right_side else "start",
                extra=f' fill="{colour}" font-size="10"',
            )
        )

    facts = [("n", capability_doc.get("n")), ("mean", mean), ("s", sigma)]
    legend = "  ".join(f"{name} {format_number(v)}" for name, v in facts if v is not None and _finite(_num(v)))
    out.append(_text(right, _HEAD_Y, legend, cls="legend", anchor="end", extra=' xml:space="preserve"'))
    out.append("</svg>")
    return "".join(out)


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
