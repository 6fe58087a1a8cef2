"""The before/after improvement report of a smart-factory build: a baseline period against a comparison period
for a line or the plant, computed from the stored events, with whether each change is statistically meaningful.

KPIs (each period's value from the period's summed ISO 22400 elements, as every other screen computes it):

- productivity: output per hour (GQ x 3600 / PBT), higher is better;
- quality: defect rate in PPM ((SQ + RQ) / PQ x 10^6) and first pass yield (GQ / PQ);
- cost: scrap ratio (SQ / PQ), lower is better;
- delivery: on-time completion (orders completed by their due date / orders with a due date completed);
- operating rate (APT / PBT), higher is better.

Meaningful: rates of units (PPM, first pass yield, scrap ratio, on-time completion) by the two-proportion z-test
on the periods' counts; output per hour and operating rate by Welch's confidence interval of the difference of
the daily values (days without measured planned time are left out).  See ``shopfloor.analytics.improvement``.

A period that had data for only part of its time (still going on, or before the history starts) is marked partial
with its coverage; a period without any data has null figures, never zeros.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from datetime import date, datetime, timedelta
from html import escape
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Font
from sqlalchemy import Connection, select

from shopfloor.actions.kpi_report import coverage_note, scope
from shopfloor.analytics import improvement as stats
from shopfloor.analytics.kpi import Coverage, KpiElements, known_pbt, kpis
from shopfloor.errors import PeriodInvalid, PeriodReversed, PeriodsOverlap, PeriodTooLong, TargetKpiUnknown
from shopfloor.model.calendar import local_days
from shopfloor.model.intervals import Interval
from shopfloor.model.plant import Plant
from shopfloor.reports.pdf import FONT_FAMILY, html_to_pdf
from shopfloor.reports.svg_chart import Scale, format_number, nice_ticks
from shopfloor.reports.workbook import append_row
from shopfloor.store import kpi as kpi_store
from shopfloor.store.schema import work_order_events, work_orders

# name, label, higher is better, kind (daily: Welch on daily values; proportion: z-test on counts)
KPIS = (
    ("output_per_hour", "Output per hour", True, "daily"),
    ("ppm", "Defect rate (PPM)", False, "proportion"),
    ("first_pass_yield", "First pass yield", True, "proportion"),
    ("scrap_ratio", "Scrap ratio", False, "proportion"),
    ("on_time_delivery", "On-time completion", True, "proportion"),
    ("operating_rate", "Operating rate", True, "daily"),
)


def period(plant: Plant, text: str) -> Interval:
    """``FROM..TO`` as local days of the site, both included (``2026-01-01..2026-03-31``)."""
    start_s, sep, end_s = text.partition("..")
    try:
        if not sep:
            raise ValueError
        first, last = date.fromisoformat(start_s.strip()), date.fromisoformat(end_s.strip())
    except ValueError:
        raise PeriodInvalid(period=text) from None
    if last < first:
        raise PeriodReversed(period=text)
    if (last - first).days > 3_660:
        raise PeriodTooLong(period=text)
    return local_days(first, last + timedelta(days=1), plant.site.tz)


def completed_orders(conn: Connection, machines: list[str], window: Interval) -> tuple[int, int, list[dict[str, Any]]]:
    """Orders completed in the window that had a due date: (on time, all, their rows)."""
    wo, ev = work_orders.c, work_order_events.c
    rows = conn.execute(
        select(wo.code, wo.due, ev.ts)
        .join(work_order_events, ev.work_order_id == wo.id)
        .where(
            wo.machine.in_(machines),
            wo.due.is_not(None),
            ev.to_status == "completed",
            ev.ts >= window.start,
            ev.ts < window.end,
        )
    ).all()
    on_time = sum(1 for r in rows if r.ts <= r.due)
    return on_time, len(rows), [{"code": r.code, "due": r.due, "completed": r.ts} for r in rows]


def _period(conn: Connection, plant: Plant, machines: list[str], window: Interval, now: datetime | None):
    total, cover = kpi_store.measure(conn, plant, machines, window, now)
    days = []
    for label, iv, el, _ in kpi_store.measure_buckets(conn, plant, machines, window, "day", now):
        if known_pbt(el) <= 0:
            continue
        on, due, _ = completed_orders(conn, machines, iv)
        days.append({"day": label, "elements": el, "kpi": kpis(el), "on_time": on, "due_orders": due})
    on_time, due_orders, _ = completed_orders(conn, machines, window)
    return total, cover, days, on_time, due_orders


def _period_doc(window: Interval, total: KpiElements, cover: Coverage, daily: list, due: int, on_time: int) -> dict:
    return {"from": window.start.isoformat(), "to": window.end.isoformat(), "days": len(daily),
            "elements": None if cover.empty else total.to_dict(), "orders_due": due, "orders_on_time": on_time,
            "coverage": cover.to_dict(), "partial": cover.partial}  # fmt: skip


def _counts(name: str, el: KpiElements, on_time: int, due_orders: int) -> tuple[int, int]:
    """(events, units) of a proportion KPI: the test compares events / units between the periods."""
    if name == "ppm":
        return el.sq + el.rq, el.pq
    if name == "first_pass_yield":
        return el.gq, el.pq
    if name == "scrap_ratio":
        return el.sq, el.pq
    return on_time, due_orders


def kpi_value(name: str, el: KpiElements, on_time: int, due_orders: int) -> float | None:
    if name == "on_time_delivery":
        return on_time / due_orders if due_orders else None
    return kpis(el)[name]


def _series(name: str, days: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for d in days:
        if name == "on_time_delivery":
            value = d["on_time"] / d["due_orders"] if d["due_orders"] else None
        else:
            value = d["kpi"][name]
        out.append({"day": d["day"], "value": value})
    return out


def improvement_report(
    conn: Connection,
    plant: Plant,
    baseline: Interval,
    after: Interval,
    line: str | None = None,
    targets: dict[str, float] | None = None,
    now: datetime | None = None,
    confidence: float = 0.95,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, Any]:
    """``progress(done, total)`` is called as the work advances (days read, then KPIs tested)."""
    targets = targets or {}
    unknown = sorted(set(targets) - {k[0] for k in KPIS})
    if unknown:
        raise TargetKpiUnknown(kpis=unknown, known=[k[0] for k in KPIS])
    if baseline.intersect(after) is not None:
        raise PeriodsOverlap()
    machines = scope(plant, line=line, site=line is None)
    total_steps = 2 + len(KPIS)
    report_progress = progress or (lambda done, total: None)
    report_progress(0, total_steps)
    b_total, b_cover, b_daily, b_on, b_due = _period(conn, plant, machines, baseline, now)
    report_progress(1, total_steps)
    a_total, a_cover, a_daily, a_on, a_due = _period(conn, plant, machines, after, now)
    report_progress(2, total_steps)
    rows = []
    for step, (name, label, higher, kind) in enumerate(KPIS, start=3):
        before_v = kpi_value(name, b_total, b_on, b_due)
        after_v = kpi_value(name, a_total, a_on, a_due)
        row: dict[str, Any] = {
            "kpi": name,
            "label": label,
            "higher_is_better": higher,
            "before": before_v,
            "after": after_v,
            "change_pct": None if not before_v or after_v is None else (after_v - before_v) / abs(before_v) * 100,
            "target": targets.get(name),
        }

        row["daily_before"], row["daily_after"] = _series(name, b_daily), _series(name, a_daily)
        if kind == "proportion":
            eb, ub = _counts(name, b_total, b_on, b_due)
            ea, ua = _counts(name, a_total, a_on, a_due)
            if ub and ua:
                test = stats.proportion_difference(eb, ub, ea, ua, confidence)
                row["test"] = {"method": "two-proportion z-test", **test}
                significant = test["significant"]
            else:
                row["test"] = {"method": "two-proportion z-test", "note": "no units in one of the periods"}
                significant = None
        else:
            before_days = [d["value"] for d in row["daily_before"] if d["value"] is not None]
            after_days = [d["value"] for d in row["daily_after"] if d["value"] is not None]
            test = stats.mean_difference(before_days, after_days, confidence)
            row["test"] = {"method": "Welch interval of daily values", **test}
            significant = test.get("significant")
        better = None
        if before_v is not None and after_v is not None and after_v != before_v:
            better = (after_v > before_v) == higher
        row["improved"] = None if significant is None else bool(significant and better)
        row["significant"] = significant
        if row["target"] is not None and after_v is not None:
            row["target_met"] = after_v >= row["target"] if higher else after_v <= row["target"]
        rows.append(row)
        report_progress(step, total_steps)
    return {
        "scope": {"line": line, "site": plant.site.code if line is None else None, "machines": machines},
        "site_name": plant.site.name,
        "timezone": plant.site.timezone,
        "confidence": confidence,
        "baseline": _period_doc(baseline, b_total, b_cover, b_daily, b_due, b_on),
        "after": _period_doc(after, a_total, a_cover, a_daily, a_due, a_on),
        "kpis": rows,
    }  # fmt: skip


# -- presentation -------------------------------------------------------------------------------------------
PERCENT_KPIS = ("first_pass_yield", "scrap_ratio", "on_time_delivery", "operating_rate")


def fmt(name: str, v: Any) -> str:
    if v is None:
        return "–"
    if name in PERCENT_KPIS:
        return f"{v * 100:.2f} %"
    if name == "ppm":
        return f"{v:,.0f}"
    return f"{v:,.2f}"


def daily_svg(row: dict[str, Any], width: int = 760, height: int = 190) -> str:
    """Daily values of one KPI across both periods: the baseline in grey, the comparison in blue, each period's
    value as a dashed level."""
    pts = [(d["value"], "b") for d in row["daily_before"]] + [(d["value"], "a") for d in row["daily_after"]]
    values = [v for v, _ in pts if v is not None]
    left, right, top, bottom = 56, 10, 12, 22
    if not values:
        return f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}"></svg>'
    levels = [v for v in (row["before"], row["after"]) if v is not None]
    ticks = nice_ticks(min(values + levels), max(values + levels))
    y = Scale(ticks[0], ticks[-1], height - bottom, top)
    x = Scale(0, max(len(pts) - 1, 1), left, width - right)
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-size="10">']
    for tv in ticks:
        parts.append(f'<line x1="{left}" x2="{width - right}" y1="{y(tv):.1f}" y2="{y(tv):.1f}" stroke="#e4e4e4"/>')
        parts.append(f'<text x="{left - 4}" y="{y(tv) + 3:.1f}" text-anchor="end">{escape(format_number(tv))}</text>')
    split = len(row["daily_before"])
    if 0 < split < len(pts):
        xs = (x(split - 1) + x(split)) / 2
        parts.append(f'<line x1="{xs:.1f}" x2="{xs:.1f}" y1="{top}" y2="{height - bottom}" stroke="#888"/>')
    for key, colour, lo, hi in (("before", "#888", 0, split - 1), ("after", "#1a73e8", split, len(pts) - 1)):
        level = row[key]
        if level is not None and hi >= lo:
            parts.append(
                f'<line x1="{x(lo):.1f}" x2="{x(hi):.1f}" y1="{y(level):.1f}" y2="{y(level):.1f}" stroke="{colour}" '
                'stroke-dasharray="5 3"/>'
            )
    for i, (v, period_) in enumerate(pts):
        if v is None:
            continue
        colour = "#888" if period_ == "b" else "#1a73e8"
        parts.append(f'<circle cx="{x(i):.1f}" cy="{y(v):.1f}" r="2.5" fill="{colour}"/>')
    parts.append("</svg>")
    return "".join(parts)


def improvement_html(doc: dict[str, Any], t=lambda s: s, when=lambda iso: iso[:10]) -> str:
    e = escape

    def verdict(r: dict[str, Any]) -> str:
        if r["significant"] is None:
            return t("not enough data")
        if not r["significant"]:
            return t("no meaningful change")
        return t("improved") if r["improved"] else t("worse")

    rows = "".join(
        f"<tr><td>{e(t(r['label']))}</td><td>{e(fmt(r['kpi'], r['before']))}</td>"
        f"<td>{e(fmt(r['kpi'], r['after']))}</td>"
        f"<td>{_change(r['change_pct'])}</td><td>{e(verdict(r))}</td>"
        f"<td>{e(_test_text(r))}</td><td>{e(fmt(r['kpi'], r['target']) if r['target'] is not None else '')}"
        f"{'' if r.get('target_met') is None else ' ✔' if r['target_met'] else ' ✘'}</td></tr>"
        for r in doc["kpis"]
    )
    charts = "".join(f"<div class='chart'><h3>{e(t(r['label']))}</h3>{daily_svg(r)}</div>" for r in doc["kpis"])
    b, a = doc["baseline"], doc["after"]
    scope = doc["scope"]["line"] or doc["site_name"]
    notes = "".join(
        f"<div class='partial'>{e(t(name))}: {e(note)}</div>"
        for name, period_ in (("Baseline", b), ("After", a))
        if (note := coverage_note(period_, t, when)) is not None
    )
    return f"""<!doctype html><html><head><meta charset="utf-8"><style>
@page {{ size: A4 landscape; margin: 12mm; }}
body {{ font-family: {FONT_FAMILY}; font-size: 9pt; color: #000; }}
h1 {{ font-size: 15pt; margin: 0 0 1mm; }} h3 {{ font-size: 9.5pt; margin: 2mm 0 1mm; }}
.sub {{ color: #444; margin-bottom: 3mm; }}
table {{ border-collapse: collapse; width: 100%; }}
th, td {{ border: 0.3pt solid #999; padding: 1mm 1.5mm; text-align: left; }}
thead th {{ background: #eee; }}
.charts {{ display: flex; flex-wrap: wrap; gap: 2mm 6mm; }} .chart {{ break-inside: avoid; }}
.partial {{ border: 0.6pt solid #b26a00; color: #7a4a00; padding: 1mm 2mm; margin-bottom: 2mm; }}
</style></head><body>
<h1>{e(t("Improvement report"))} · {e(scope)}</h1>
<div class="sub">{e(t("Baseline"))} {e(when(b["from"]))} – {e(when(b["to"]))} ({b["days"]} {e(t("days"))}) ·
{e(t("After"))} {e(when(a["from"]))} – {e(when(a["to"]))} ({a["days"]} {e(t("days"))}) ·
{e(t("confidence"))} {doc["confidence"] * 100:.0f} %</div>{notes}
<table><thead><tr><th>KPI</th><th>{e(t("Baseline"))}</th><th>{e(t("After"))}</th><th>{e(t("Change"))}</th>
<th>{e(t("Verdict"))}</th><th>{e(t("Test"))}</th><th>{e(t("Target"))}</th></tr></thead><tbody>{rows}</tbody></table>
<div class="charts">{charts}</div>
</body></html>"""


def _change(pct: float | None) -> str:
    return "–" if pct is None else f"{pct:+.1f} %"


def _test_text(r: dict[str, Any]) -> str:
    test = r["test"]
    if test.get("note"):
        return test["note"]
    if "p_value" in test and test["p_value"] is not None:
        return f"{test['method']}: p = {test['p_value']:.3g}"
    return test["method"]


def improvement_pdf(doc: dict[str, Any], t=lambda s: s, when=lambda iso: iso[:10]) -> bytes:
    return html_to_pdf(improvement_html(doc, t, when))


def improvement_xlsx(doc: dict[str, Any], t=lambda s: s) -> bytes:
    wb = Workbook()
    ws = wb.active
    ws.title = "kpis"
    head = ["kpi", "before", "after", "change_pct", "significant", "improved", "p_value", "ci_low", "ci_high",
            "target", "target_met"]  # fmt: skip
    append_row(ws, head)
    for cell in ws[1]:
        cell.font = Font(bold=True)
    for r in doc["kpis"]:
        test = r["test"]
        ci = (test.get("ci_low"), test.get("ci_high"))
        append_row(ws, [t(r["label"]), r["before"], r["after"], r["change_pct"], r["significant"], r["improved"],
                   test.get("p_value"), ci[0], ci[1], r["target"], r.get("target_met")])  # fmt: skip
    daily = wb.create_sheet("daily")
    append_row(daily, ["kpi", "period", "day", "value"])
    for r in doc["kpis"]:
        for key, name in (("daily_before", "baseline"), ("daily_after", "after")):
            for d in r[key]:
                append_row(daily, [r["kpi"], name, d["day"], d["value"]])
    periods = wb.create_sheet("periods")
    append_row(periods, ["period", "from", "to", "partial", "data_from", "data_to", "coverage"])
    for name in ("baseline", "after"):
        p = doc[name]
        cover = p["coverage"]
        append_row(periods, [name, p["from"], p["to"], p["partial"], cover["from"], cover["to"], cover["fraction"]])
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()
