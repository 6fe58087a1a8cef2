"""The before/after improvement report of a smart-factory build: a baseline period against a comparison period
for a line or the plant, computed from the stored events, with whether each change is statistically meaningful.

KPIs (each period's value from the period's summed ISO 22400 elements, as every other screen computes it):

- productivity: output per hour (GQ x 3600 / PBT), OEE (A x E x QR), the operating rate (APT / PBT) and labour
  productivity (good units per worker-hour signed in at the machines), higher is better;
- quality: defect rate in PPM ((SQ + RQ) / PQ x 10^6) and first pass yield (GQ / PQ);
- cost: scrap ratio (SQ / PQ), lower is better;
- delivery: on-time completion (orders due in the period, up to now, completed by their due date / all of them:
  an order due and still open counts as late), order lead time (hours from release to completion of the orders
  completed in the period, lower is better) and on-time delivery of shipments (lots of an order with a due date
  shipped in the period by that date / all of them).

Meaningful: every KPI measured per day (output per hour, OEE, operating rate, labour productivity, PPM, first pass
yield, scrap ratio)
by Welch's t-test on its daily values (days without a value are left out), the effect being the difference of the
daily means with its Welch confidence interval.  Units of one day are not independent trials: a die, a batch of
material or a shift's setting moves a whole day's defect rate, so a test on pooled units (the two-proportion
z-test) takes thousands of units for thousands of independent observations and calls noise a change; the day is
the unit of observation (overdispersion of attribute data: D. B. Laney, "Improved control charts for attributes",
Quality Engineering 14 (2002) 531-537; Welch's test: B. L. Welch, Biometrika 34 (1947) 28-35, NIST/SEMATECH
e-Handbook 1.3.5.3).  Order lead time by Welch's test on the orders' lead times (one value per order).  On-time
completion and on-time shipments, one independent yes/no per order or shipped lot, by the two-proportion z-test
with its Wald interval (NIST/SEMATECH e-Handbook 7.3.3).  See ``shopfloor.analytics.improvement``.

A period that had data for only part of its time (still going on, or before the history starts) is marked partial
with its coverage; a period without any data has null figures, never zeros, and a KPI without data in a period
says so ("no data") instead of a verdict.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from datetime import date, datetime, timedelta, timezone
from html import escape
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Font
from sqlalchemy import Connection, func, select

from shopfloor.actions.kpi_report import coverage_note, scope
from shopfloor.analytics import improvement as stats
from shopfloor.analytics.kpi import OVER_100_CAUSE, known_pbt, kpis, labour_productivity, over_100
from shopfloor.errors import PeriodInvalid, PeriodReversed, PeriodsOverlap, PeriodTooLong, TargetKpiUnknown
from shopfloor.model.calendar import local_days
from shopfloor.model.intervals import Interval
from shopfloor.model.plant import Plant
from shopfloor.reports.charts import before_after_svg, for_print, format_number
from shopfloor.reports.pdf import FONT_FAMILY, html_to_pdf
from shopfloor.reports.workbook import append_row
from shopfloor.store import attendance
from shopfloor.store import kpi as kpi_store
from shopfloor.store.schema import lot_movements, lots, work_order_events, work_orders

# name, label, higher is better, kind (daily: Welch on daily values; orders / shipments: two-proportion z-test on
# counts; samples: Welch on one value per order), unit
KPIS = (
    ("output_per_hour", "Output per hour", True, "daily", "units/h"),
    ("oee", "OEE", True, "daily", "%"),
    ("operating_rate", "Operating rate", True, "daily", "%"),
    ("labour_productivity", "Labour productivity", True, "daily", "units/person-h"),
    ("ppm", "Defect rate (PPM)", False, "daily", "PPM"),
    ("first_pass_yield", "First pass yield", True, "daily", "%"),
    ("scrap_ratio", "Scrap ratio", False, "daily", "%"),
    ("on_time_delivery", "On-time completion", True, "orders", "%"),
    ("order_lead_time", "Order lead time", False, "samples", "h"),
    ("shipments_on_time", "On-time delivery of shipments", True, "shipments", "%"),
)
METHODS = {
    "daily": "Welch t-test on daily values",
    "samples": "Welch t-test on orders' lead times",
    "orders": "two-proportion z-test on orders",
    "shipments": "two-proportion z-test on shipped lots",
}


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


def due_orders(
    conn: Connection, machines: list[str], window: Interval, now: datetime | None = None
) -> tuple[int, int, list[dict[str, Any]]]:
    """Orders due in the window (up to now), cancelled ones aside: (completed by their due date, all, their rows).

    An order due and still open, or completed after its due date, is late: leaving a late order open does not
    raise the figure.
    """
    wo, ev = work_orders.c, work_order_events.c
    end = window.end if now is None else min(window.end, now)
    if end <= window.start:
        return 0, 0, []
    done = (
        select(ev.work_order_id, func.min(ev.ts).label("ts"))
        .where(ev.to_status == "completed")
        .group_by(ev.work_order_id)
        .subquery()
    )
    rows = conn.execute(
        select(wo.code, wo.due, wo.status, done.c.ts)
        .outerjoin(done, done.c.work_order_id == wo.id)
        .where(
            wo.machine.in_(machines),
            wo.due.is_not(None),
            wo.status != "cancelled",
            wo.due >= window.start,
            wo.due < end,
        )
        .order_by(wo.due, wo.code)
    ).all()
    on_time = sum(1 for r in rows if r.ts is not None and r.ts <= r.due)
    return on_time, len(rows), [{"code": r.code, "due": r.due, "completed": r.ts} for r in rows]


def lead_times(conn: Connection, machines: list[str], window: Interval) -> list[dict[str, Any]]:
    """Orders completed in the window: hours from their release (their creation if never released) to completion."""
    wo, ev = work_orders.c, work_order_events.c
    released = (
        select(ev.work_order_id, func.min(ev.ts).label("ts"))
        .where(ev.to_status == "released")
        .group_by(ev.work_order_id)
        .subquery()
    )
    rows = conn.execute(
        select(wo.code, wo.created_at, released.c.ts.label("released"), ev.ts.label("completed"))
        .join(work_order_events, ev.work_order_id == wo.id)
        .outerjoin(released, released.c.work_order_id == wo.id)
        .where(wo.machine.in_(machines), ev.to_status == "completed", ev.ts >= window.start, ev.ts < window.end)
        .order_by(ev.ts, wo.code)
    ).all()
    out = []
    for r in rows:
        start = r.released or r.created_at
        out.append({"code": r.code, "completed": r.completed, "hours": (r.completed - start).total_seconds() / 3600})
    return out


def shipments(conn: Connection, machines: list[str], window: Interval) -> tuple[int, int]:
    """Lots shipped in the window that an order with a due date made on one of the machines: (shipped by the order's
    due date, all of them)."""
    mv, lt, wo = lot_movements.c, lots.c, work_orders.c
    rows = conn.execute(
        select(mv.ts, wo.due)
        .join(lots, lt.id == mv.lot_id)
        .join(work_orders, wo.code == lt.work_order)
        .where(
            mv.kind == "ship",
            mv.ts >= window.start,
            mv.ts < window.end,
            wo.machine.in_(machines),
            wo.due.is_not(None),
        )
    ).all()
    return sum(1 for r in rows if r.ts <= r.due), len(rows)


def _period(conn: Connection, plant: Plant, machines: list[str], window: Interval, now: datetime | None) -> dict:
    total, cover = kpi_store.measure(conn, plant, machines, window, now)
    day_rows = []
    clock = now or datetime.now(timezone.utc)
    worker_total = attendance.worker_s(conn, machines, window, clock)
    for label, iv, el, _ in kpi_store.measure_buckets(conn, plant, machines, window, "day", now):
        if known_pbt(el) <= 0:
            continue
        day_kpis = kpis(el)
        day_kpis["labour_productivity"] = labour_productivity(el.gq, attendance.worker_s(conn, machines, iv, clock))
        day_rows.append({"day": label, "elements": el, "kpi": day_kpis})
    on_time, due, _ = due_orders(conn, machines, window, now)
    shipped_on_time, shipped = shipments(conn, machines, window)
    return {
        "window": window,
        "total": total,
        "cover": cover,
        "daily": day_rows,
        "on_time": on_time,
        "due": due,
        "lead": lead_times(conn, machines, window),
        "shipped_on_time": shipped_on_time,
        "shipped": shipped,
        "worker_s": worker_total,
    }


def kpi_value(name: str, p: dict) -> float | None:
    """A KPI's figure for a whole period (None: no data)."""
    if name == "on_time_delivery":
        return p["on_time"] / p["due"] if p["due"] else None
    if name == "shipments_on_time":
        return p["shipped_on_time"] / p["shipped"] if p["shipped"] else None
    if name == "order_lead_time":
        return sum(o["hours"] for o in p["lead"]) / len(p["lead"]) if p["lead"] else None
    if p["cover"].empty:
        return None
    if name == "labour_productivity":
        return labour_productivity(p["total"].gq, p["worker_s"])
    return kpis(p["total"])[name]


def _counts(name: str, p: dict) -> tuple[int, int]:
    """(yes, all) of a KPI tested on counts."""
    if name == "on_time_delivery":
        return p["on_time"], p["due"]
    return p["shipped_on_time"], p["shipped"]


def _series(name: str, p: dict) -> list[dict[str, Any]]:
    if name == "order_lead_time":
        return [{"day": o["code"], "value": o["hours"]} for o in p["lead"]]
    if name in ("on_time_delivery", "shipments_on_time"):
        return []
    return [{"day": d["day"], "value": d["kpi"][name]} for d in p["daily"]]


def _test(name: str, kind: str, row: dict, before: dict, after: dict, confidence: float) -> dict[str, Any]:
    method = METHODS[kind]
    if kind in ("daily", "samples"):
        b = [d["value"] for d in row["daily_before"] if d["value"] is not None]
        a = [d["value"] for d in row["daily_after"] if d["value"] is not None]
        if not b or not a:
            return {"method": method, "significant": None, "note": "no data in one of the periods"}
        return {"method": method, **stats.mean_difference(b, a, confidence)}
    eb, ub = _counts(name, before)
    ea, ua = _counts(name, after)
    if not ub or not ua:
        return {"method": method, "significant": None, "note": "no data in one of the periods"}
    return {"method": method, **stats.proportion_difference(eb, ub, ea, ua, confidence)}


def _period_doc(plant: Plant, p: dict) -> dict:
    window, cover = p["window"], p["cover"]
    tz = plant.site.tz
    return {"from": window.start.isoformat(), "to": window.end.isoformat(),
            # the local days of the site the period covers, both included (what the reader typed)
            "first_day": window.start.astimezone(tz).date().isoformat(),
            "last_day": (window.end.astimezone(tz) - timedelta(microseconds=1)).date().isoformat(),
            "days": len(p["daily"]), "elements": None if cover.empty else p["total"].to_dict(),
            "orders_due": p["due"], "orders_on_time": p["on_time"], "orders_completed": len(p["lead"]),
            "lots_shipped": p["shipped"], "lots_shipped_on_time": p["shipped_on_time"],
            "worker_h": p["worker_s"] / 3600,
            "coverage": cover.to_dict(), "partial": cover.partial,
            # effectiveness above 100 % over the period or on a day of it: flagged wherever the figures are shown
            "over_100": not cover.empty and bool(over_100(kpis(p["total"]))),
            "days_over_100": [d["day"] for d in p["daily"] if over_100(d["kpi"])]}  # fmt: skip


def over_100_note(period: dict[str, Any], t=lambda s: s) -> str | None:
    """The warning for a period whose performance exceeds 100 % (whole period or some days), with its days."""
    if not period.get("over_100") and not period.get("days_over_100"):
        return None
    days = period.get("days_over_100") or []
    shown = ", ".join(days[:10]) + (f" (+{len(days) - 10})" if len(days) > 10 else "")
    return f"⚠ {t(OVER_100_CAUSE)}" + (f": {shown}" if shown else "")


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
    before = _period(conn, plant, machines, baseline, now)
    report_progress(1, total_steps)
    after_ = _period(conn, plant, machines, after, now)
    report_progress(2, total_steps)
    rows = []
    for step, (name, label, higher, kind, unit) in enumerate(KPIS, start=3):
        before_v, after_v = kpi_value(name, before), kpi_value(name, after_)
        row: dict[str, Any] = {
            "kpi": name,
            "label": label,
            "unit": unit,
            "higher_is_better": higher,
            "before": before_v,
            "after": after_v,
            "change_pct": None if not before_v or after_v is None else (after_v - before_v) / abs(before_v) * 100,
            "target": targets.get(name),
            "daily_before": _series(name, before),
            "daily_after": _series(name, after_),
        }
        test = _test(name, kind, row, before, after_, confidence)
        row["test"] = test
        significant, effect = test.get("significant"), test.get("difference")
        row["significant"] = significant
        if significant is None:
            row["improved"] = None
        else:
            row["improved"] = bool(significant and effect is not None and effect != 0 and (effect > 0) == higher)
        # the verdict on the measured effect: no data, not enough data, no meaningful change, improved, worse
        if before_v is None or after_v is None:
            row["verdict"] = "no data"
        elif significant is None:
            row["verdict"] = "not enough data"
        elif not significant:
            row["verdict"] = "no meaningful change"
        else:
            row["verdict"] = "improved" if row["improved"] else "worse"
        if row["target"] is not None and after_v is not None:
            row["target_met"] = after_v >= row["target"] if higher else after_v <= row["target"]
        rows.append(row)
        report_progress(step, total_steps)
    return {
        "scope": {"line": line, "site": plant.site.code if line is None else None, "machines": machines},
        "site_name": plant.site.name,
        "timezone": plant.site.timezone,
        "confidence": confidence,
        "baseline": _period_doc(plant, before),
        "after": _period_doc(plant, after_),
        "kpis": rows,
    }


# -- presentation -------------------------------------------------------------------------------------------
PERCENT_KPIS = tuple(k[0] for k in KPIS if k[4] == "%")
UNITS = {k[0]: k[4] for k in KPIS}


def fmt(name: str, v: Any, t=lambda s: s) -> str:
    """A KPI's figure with its unit ("–" without data); ``t`` translates the unit."""
    if v is None:
        return "–"
    if name in PERCENT_KPIS:
        return f"{v * 100:.2f} %"
    if name == "ppm":
        return f"{v:,.0f} PPM"
    return f"{v:,.2f} {t(UNITS[name]) if name in UNITS else ''}".rstrip()


def _signed(name: str, v: float, t=lambda s: s) -> str:
    if name in PERCENT_KPIS:
        return f"{v * 100:+.2f} pp"
    if name == "ppm":
        return f"{v:+,.0f} PPM"
    return f"{v:+,.2f} {t(UNITS[name]) if name in UNITS else ''}".rstrip()


def effect(r: dict[str, Any], t=lambda s: s) -> str:
    """The measured effect (after - before of the test's means or rates) with its confidence interval."""
    test = r["test"]
    d = test.get("difference")
    if d is None:
        return "–"
    text = _signed(r["kpi"], d, t)
    lo, hi = test.get("ci_low"), test.get("ci_high")
    if lo is not None and hi is not None and lo != hi:  # an interval collapsed to a point says nothing more
        conf = test.get("confidence", 0.95) * 100
        text += f" ({conf:.0f} % {t('CI')} {_signed(r['kpi'], lo, t)} … {_signed(r['kpi'], hi, t)})"
    return text


def verdict(r: dict[str, Any], t=lambda s: s) -> str:
    return t(r["verdict"])


def daily_svg(row: dict[str, Any], t=lambda s: s, width: int = 760, height: int = 190) -> str:
    """Daily values of one KPI across both periods (``shopfloor.reports.charts.before_after_svg``): the baseline
    in grey, the comparison in blue, each period's value as a dashed level; the axis in the KPI's unit (percent
    for a rate), the tooltips with the unit (``t`` translates it)."""
    scale = 100.0 if row["kpi"] in PERCENT_KPIS else 1.0
    return before_after_svg(
        [(d["day"], d["value"]) for d in row["daily_before"]],
        [(d["day"], d["value"]) for d in row["daily_after"]],
        before_level=row["before"],
        after_level=row["after"],
        format_value=lambda v: fmt(row["kpi"], v, t),
        format_tick=lambda v: format_number(v * scale),
        empty=t("No data to plot"),
        width=width,
        height=height,
    )


def improvement_html(doc: dict[str, Any], t=lambda s: s, when=lambda iso: iso[:16].replace("T", " ")) -> str:
    """The report as HTML for the PDF; ``when`` shows an instant in the site's zone (the periods are the site's
    local days already)."""
    e = escape
    rows = "".join(
        f"<tr><td>{e(t(r['label']))}</td><td>{e(fmt(r['kpi'], r['before'], t))}</td>"
        f"<td>{e(fmt(r['kpi'], r['after'], t))}</td>"
        f"<td>{_change(r['change_pct'])}</td><td>{e(effect(r, t))}</td><td>{e(verdict(r, t))}</td>"
        f"<td>{e(_test_text(r, t))}</td><td>{e(fmt(r['kpi'], r['target'], t) if r['target'] is not None else '')}"
        f"{'' if r.get('target_met') is None else ' ✔' if r['target_met'] else ' ✘'}</td></tr>"
        for r in doc["kpis"]
    )
    charts = "".join(
        f"<div class='chart'><h3>{e(t(r['label']))}</h3>{daily_svg(r, t)}</div>" for r in doc["kpis"] if has_values(r)
    )
    b, a = doc["baseline"], doc["after"]
    scope = doc["scope"]["line"] or doc["site_name"]
    notes = "".join(
        f"<div class='partial'>{e(t(name))}: {e(note)}</div>"
        for name, period_ in (("Baseline", b), ("After", a))
        for note in (coverage_note(period_, t, when), over_100_note(period_, t))
        if note is not None
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
<div class="sub">{e(t("Baseline"))} {e(b["first_day"])} – {e(b["last_day"])} ({b["days"]} {e(t("days"))}) ·
{e(t("After"))} {e(a["first_day"])} – {e(a["last_day"])} ({a["days"]} {e(t("days"))}) ·
{e(t("confidence"))} {doc["confidence"] * 100:.0f} % · {e(t("time zone"))} {e(doc["timezone"])}</div>{notes}
<table><thead><tr><th>KPI</th><th>{e(t("Baseline"))}</th><th>{e(t("After"))}</th><th>{e(t("Change"))}</th>
<th>{e(t("Effect"))}</th><th>{e(t("Verdict"))}</th><th>{e(t("Test"))}</th><th>{e(t("Target"))}</th></tr></thead>
<tbody>{rows}</tbody></table>
<div class="charts">{charts}</div>
</body></html>"""


def has_values(r: dict[str, Any]) -> bool:
    """Whether a KPI has any daily value to chart (a chart without points says nothing)."""
    return any(d["value"] is not None for d in r["daily_before"] + r["daily_after"])


def _change(pct: float | None) -> str:
    return "–" if pct is None else f"{pct:+.1f} %"


def _test_text(r: dict[str, Any], t=lambda s: s) -> str:
    test = r["test"]
    if test.get("p_value") is not None:
        return f"{t(test['method'])}: p = {test['p_value']:.3g}"
    if test.get("note"):
        return f"{t(test['method'])}: {t(test['note'])}"
    return t(test["method"])


def improvement_pdf(doc: dict[str, Any], t=lambda s: s, when=lambda iso: iso[:16].replace("T", " ")) -> bytes:
    with for_print():  # the charts as pictures: WeasyPrint lays out SVG charts slowly (reports/charts.py)
        html = improvement_html(doc, t, when)
    return html_to_pdf(html)


def improvement_xlsx(doc: dict[str, Any], t=lambda s: s) -> bytes:
    """The report as a workbook: sheet names and headers in the reader's language, periods as the site's local
    days, each figure's unit in its own column."""
    wb = Workbook()
    ws = wb.active
    ws.title = _sheet(t("KPIs"))
    head = ["KPI", "Unit", "Baseline", "After", "Change %", "Effect", "CI low", "CI high", "Verdict", "Test",
            "p", "Target", "Target met"]  # fmt: skip
    append_row(ws, [t(h) for h in head])
    for cell in ws[1]:
        cell.font = Font(bold=True)
    for r in doc["kpis"]:
        test = r["test"]
        scale = 100.0 if r["kpi"] in PERCENT_KPIS else 1.0

        def scaled(v, scale=scale):
            return None if v is None else v * scale

        append_row(ws, [t(r["label"]), t(r["unit"]), scaled(r["before"]), scaled(r["after"]), r["change_pct"],
                   scaled(test.get("difference")), scaled(test.get("ci_low")), scaled(test.get("ci_high")),
                   t(r["verdict"]), t(test["method"]), test.get("p_value"), scaled(r["target"]),
                   r.get("target_met")])  # fmt: skip
    daily = wb.create_sheet(_sheet(t("Daily values")))
    append_row(daily, [t(h) for h in ("KPI", "Unit", "Period", "Date", "Value")])
    for r in doc["kpis"]:
        scale = 100.0 if r["kpi"] in PERCENT_KPIS else 1.0
        for key, name in (("daily_before", "Baseline"), ("daily_after", "After")):
            for d in r[key]:
                value = None if d["value"] is None else d["value"] * scale
                append_row(daily, [t(r["label"]), t(r["unit"]), t(name), d["day"], value])
    periods = wb.create_sheet(_sheet(t("Periods")))
    append_row(periods, [t(h) for h in ("Period", "First day", "Last day", "Time zone", "Partial", "Coverage",
                                        "Performance above 100 %")])  # fmt: skip
    for key, name in (("baseline", "Baseline"), ("after", "After")):
        p = doc[key]
        fraction = p["coverage"]["fraction"]
        append_row(periods, [t(name), p["first_day"], p["last_day"], doc["timezone"], p["partial"], fraction,
                             over_100_note(p, t)])  # fmt: skip
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def _sheet(name: str) -> str:
    """A valid Excel sheet name: at most 31 characters, none of []:*?/\\."""
    return "".join("_" if c in "[]:*?/\\" else c for c in name)[:31]
