"""Shift and daily production reports of a line or the plant: output against plan, OEE with its A/E/Q, the top
downtime reasons and defect codes, scrap, and the orders finished; the same dict feeds the page, the PDF and the
Excel workbook, and its KPIs come from the same functions as every other screen (``kpi_report``).

Plan: the quantity of the work orders of the scope's machines due in the period.  Capacity: what the machines
could make at their ideal cycle times in the planned busy time of the period (PBT / ideal cycle time of the product
each machine made most in it).

A period that had data for only part of its time (it is still going on, or the history starts inside it) is
marked partial with its coverage, and so is each such shift; figures of a period or machine without any data
are null (shown as "–"), never zero.
"""

from __future__ import annotations

import dataclasses
import io
from datetime import date, datetime, timedelta
from html import escape
from typing import Any
from zoneinfo import ZoneInfo

from openpyxl import Workbook
from openpyxl.styles import Font
from sqlalchemy import Connection, select

from shopfloor.actions.kpi_report import coverage_note, kpi_report, scope
from shopfloor.analytics.defects import defect_rates
from shopfloor.analytics.kpi import OVER_100_CAUSE, over_100
from shopfloor.analytics.kpi import report as kpi_figures
from shopfloor.analytics.pareto import downtime_by_reason, pareto
from shopfloor.errors import ShiftNotOnDay
from shopfloor.model.calendar import local_days
from shopfloor.model.events import CountEvent
from shopfloor.model.intervals import Interval
from shopfloor.model.plant import Plant
from shopfloor.reports.pdf import FONT_FAMILY, html_to_pdf
from shopfloor.reports.workbook import append_row
from shopfloor.store import kpi as kpi_store
from shopfloor.store.events import history
from shopfloor.store.schema import work_order_events, work_orders

TOP = 5


def report_window(plant: Plant, day: date, shift: str | None = None) -> Interval:
    """The local day (midnight to midnight in the site's zone), or one shift occurrence that starts on ``day``."""
    tz = plant.site.tz
    whole_day = local_days(day, day + timedelta(days=1), tz)
    if shift is None:
        return whole_day
    for occ in plant.calendar.occurrences(tz, whole_day):
        if occ.name == shift and occ.day == day:
            return occ.span
    names = sorted({s.name for s in plant.calendar.shifts})
    raise ShiftNotOnDay(shift=shift, day=day.isoformat(), shifts=names or "-")


def machine_capacity(
    conn: Connection,
    plant: Plant,
    machine: str,
    window: Interval,
    now: datetime | None,
    counts: list[CountEvent],
    fallback: str | None,
) -> float:
    """Units the machine could make at its ideal rate in its planned busy time of ``window``: the sum over its
    shifts (shift buckets, fragments included) of PBT / the mean ideal cycle of what it made in that shift, each
    product at its own cycle (the mean weighted by units: PBT x sum(units) / sum(units x cycle)).  A shift without
    counts is priced at ``fallback`` (the product it made most in the window).  So a day's capacity is the sum of
    its shifts'."""
    total = 0.0
    for _label, iv, el, _cover in kpi_store.measure_buckets(conn, plant, [machine], window, "shift", now):
        if el.pbt_s <= 0:
            continue
        units = ideal = 0.0
        for c in counts:
            cycle = plant.ideal_cycle(c.product, machine) if c.product else None
            if cycle and iv.start <= c.ts < iv.end:
                units += c.quantity
                ideal += c.quantity * cycle
        if units:
            total += el.pbt_s * units / ideal
        elif fallback and (cycle := plant.ideal_cycle(fallback, machine)):
            total += el.pbt_s / cycle
    return total


def production_report(
    conn: Connection,
    plant: Plant,
    window: Interval,
    line: str | None = None,
    now: datetime | None = None,
    no_reason: str = "(no reason)",
) -> dict[str, Any]:
    """The report of ``line`` (or the whole plant) over ``window``."""
    site = line is None
    machines = scope(plant, line=line, site=site)
    summary = kpi_report(conn, plant, window, line=line, site=site, by="shift", now=now)
    per_machine = []
    downtime_items: list[tuple[str, float, int]] = []
    counts: list[CountEvent] = []
    planned = lambda iv: plant.calendar.planned(plant.site.tz, iv)  # noqa: E731
    capacity = 0.0
    for code in machines:
        el, cover = kpi_store.measure(conn, plant, [code], window, now)
        figures = kpi_figures(el, cover)
        states, machine_counts = history(conn, code, window)
        counts += machine_counts
        for row in downtime_by_reason(states, window, planned, no_reason):
            downtime_items.append((row.category, row.value, row.count))
        made: dict[str, int] = {}
        for c in machine_counts:
            if c.product:
                made[c.product] = made.get(c.product, 0) + c.quantity
        product = max(made, key=made.get) if made else None
        capacity += machine_capacity(conn, plant, code, window, now, machine_counts, product)
        per_machine.append(
            {
                "machine": code,
                "product": product,
                **{
                    k: figures[k]
                    for k in ("pq", "gq", "sq", "rq", "availability", "effectiveness", "quality_ratio", "oee")
                },
                "output_per_hour": figures["output_per_hour"],
                "partial": figures["partial"],
            }
        )
    downtime = [dataclasses.asdict(r) for r in pareto(downtime_items)][:TOP]
    defects = [r.to_dict() for r in defect_rates(counts, "defect")][:TOP]
    wo, ev = work_orders.c, work_order_events.c
    due = conn.execute(
        select(wo.code, wo.product, wo.quantity, wo.machine, wo.status).where(
            wo.machine.in_(machines), wo.due >= window.start, wo.due < window.end
        )
    ).all()
    finished = conn.execute(
        select(wo.code, wo.product, wo.quantity, wo.machine, wo.due, ev.ts)
        .join(work_order_events, ev.work_order_id == wo.id)
        .where(wo.machine.in_(machines), ev.to_status == "completed", ev.ts >= window.start, ev.ts < window.end)
        .order_by(ev.ts)
    ).all()
    return {
        "scope": {"line": line, "site": plant.site.code if site else None, "machines": machines},
        "site_name": plant.site.name,
        "from": window.start.isoformat(),
        "to": window.end.isoformat(),
        "timezone": plant.site.timezone,
        "kpi": {k: v for k, v in summary.items() if k not in ("scope", "buckets", "by")},
        # Time outside every shift is listed only when something was made in it (overtime).
        "shifts": _mark_fragments(
            plant, [b for b in summary.get("buckets", []) if not b["bucket"].endswith("(no shift)") or b["pq"]]
        ),
        "plan": {
            "orders_due": len(due),
            "planned_qty": sum(int(r.quantity) for r in due),
            "capacity_qty": int(capacity),
            "output_qty": _whole(summary["gq"]),
        },
        "machines": per_machine,
        # the plant's and each machine's performance above 100 %: a wrong ideal cycle time or a double count
        "over_100": (["(all)"] if over_100(summary) else []) + [m["machine"] for m in per_machine if over_100(m)],
        "downtime": downtime,
        "defects": defects,
        "scrap": {"qty": _whole(summary["sq"]), "ratio": summary["scrap_ratio"]},
        "orders_finished": [
            {
                "code": r.code,
                "product": r.product,
                "quantity": int(r.quantity),
                "machine": r.machine,
                "completed": r.ts.isoformat(),
                "on_time": None if r.due is None else r.ts <= r.due,
            }
            for r in finished
        ],
    }


def _whole(v: Any) -> int | None:
    return None if v is None else int(v)


def _mark_fragments(plant: Plant, buckets: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Mark the shift buckets that are only part of their shift (a night shift cut at the report's midnight):
    ``fragment`` with the local times of the part, so that no one reads them as whole shifts."""
    tz = plant.site.tz
    for b in buckets:
        iv = Interval(datetime.fromisoformat(b["from"]), datetime.fromisoformat(b["to"]))
        whole = any(o.span == iv for o in plant.calendar.occurrences(tz, iv))
        b["fragment"] = not whole and not b["bucket"].endswith("(no shift)")
        if b["fragment"]:
            b["part"] = f"{iv.start.astimezone(tz):%H:%M}–{iv.end.astimezone(tz):%H:%M}"
    return buckets


def _shift_label(s: dict[str, Any], t=lambda s: s) -> str:
    label = s["bucket"]
    if s.get("fragment"):
        label += f" ({t('part of the shift')} {s['part']})"
    return f"{label} ({t('partial')})" if s["partial"] else label


def _machine_label(m: dict[str, Any], t=lambda s: s) -> str:
    return f"{m['machine']} ({t('partial')})" if m["partial"] else m["machine"]


# -- Excel and PDF ------------------------------------------------------------------------------------------
def _pct(v: Any) -> str:
    return "–" if v is None else f"{v * 100:.1f} %"


def _num(v: Any, digits: int = 0) -> str:
    if v is None:
        return "–"
    return f"{v:,.{digits}f}"


def _local(iso: str | None, zone: str) -> str | None:
    """An ISO instant as the site's local time, to the minute (the zone is named beside it)."""
    if not iso:
        return iso
    return datetime.fromisoformat(iso).astimezone(ZoneInfo(zone)).strftime("%Y-%m-%d %H:%M")


# Column headers of the workbook (translated through the catalogs)
HEADERS = {
    "machine": "Machine", "product": "Product", "partial": "Partial", "pq": "Produced", "gq": "Good", "sq": "Scrap",
    "rq": "Rework", "availability": "Availability", "effectiveness": "Performance", "quality_ratio": "Quality",
    "oee": "OEE", "output_per_hour": "Output per hour", "bucket": "Shift", "from": "From", "to": "To",
    "category": "Reason", "value": "Downtime (s)", "count": "Stops", "share_pct": "Share %",
    "cumulative_pct": "Cumulative %",
    "key": "Defect", "scrap": "Scrap", "rework": "Rework", "ppm": "PPM", "code": "Work order", "quantity": "Quantity",
    "completed": "Completed", "on_time": "On time",
}  # fmt: skip


def report_xlsx(doc: dict[str, Any], t=lambda s: s) -> bytes:
    """The report as a workbook: summary, machines, shifts, downtime, defects, orders; sheet names and headers in
    the reader's language, times in the site's zone (named in the period's row and in the time headers)."""
    wb = Workbook()
    ws = wb.active
    ws.title = t("Summary")
    k = doc["kpi"]
    zone = doc["timezone"]
    rows = [
        (t("Period"), f"{_local(doc['from'], zone)} .. {_local(doc['to'], zone)} ({zone})"),
        (t("Scope"), doc["scope"]["line"] or doc["site_name"]),
        (t("Output"), doc["plan"]["output_qty"]),
        (t("Planned"), doc["plan"]["planned_qty"]),
        (t("Capacity at ideal rate"), doc["plan"]["capacity_qty"]),
        ("OEE", k["oee"]),
        (t("Availability"), k["availability"]),
        (t("Performance"), k["effectiveness"]),
        (t("Quality"), k["quality_ratio"]),
        (t("Scrap"), doc["scrap"]["qty"]),
        (t("Scrap ratio"), doc["scrap"]["ratio"]),
        ("PPM", k["ppm"]),
        (t("Worker-hours"), k.get("worker_h")),
        (f"{t('Labour productivity')} ({t('units/person-h')})", k.get("labour_productivity")),
        (t("Data"), coverage_note(k, t, lambda iso: iso) or t("complete")),
    ]
    for key, value in rows:
        append_row(ws, [key, value])
        ws.cell(ws.max_row, 1).font = Font(bold=True)
    ws.column_dimensions["A"].width = 28
    ws.column_dimensions["B"].width = 50

    times = ("from", "to", "completed")

    def sheet(title: str, columns: tuple[str, ...], items: list[dict[str, Any]]) -> None:
        s = wb.create_sheet(t(title)[:31])
        append_row(s, [f"{t(HEADERS.get(c, c))} ({zone})" if c in times else t(HEADERS.get(c, c)) for c in columns])
        for cell in s[1]:
            cell.font = Font(bold=True)
        s.freeze_panes = "A2"
        for item in items:
            append_row(s, [_local(item.get(c), zone) if c in times else item.get(c) for c in columns])

    sheet("Machines", ("machine", "product", "partial", "pq", "gq", "sq", "rq", "availability", "effectiveness",
                       "quality_ratio", "oee", "output_per_hour"), doc["machines"])  # fmt: skip
    sheet("Shifts", ("bucket", "from", "to", "partial", "pq", "gq", "sq", "oee", "availability", "effectiveness",
                     "quality_ratio"), doc["shifts"])  # fmt: skip
    sheet("Downtime", ("category", "value", "count", "share_pct", "cumulative_pct"), doc["downtime"])
    sheet("Defects", ("key", "scrap", "rework", "ppm", "share_pct", "cumulative_pct"), doc["defects"])
    sheet("Orders", ("code", "product", "quantity", "machine", "completed", "on_time"), doc["orders_finished"])
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def report_html(doc: dict[str, Any], t=lambda s: s, when=lambda iso: iso[:16].replace("T", " "), name=str) -> str:
    """A printable page (A4 portrait) of the report; ``t`` translates, ``when`` formats times, ``name`` names a
    reason or defect code."""
    k = doc["kpi"]
    e = escape

    def table(head: list[str], rows: list[list[Any]]) -> str:
        if not rows:
            return f"<p class='none'>{e(t('None'))}</p>"
        h = "".join(f"<th>{e(x)}</th>" for x in head)
        b = "".join("<tr>" + "".join(f"<td>{e(str(c))}</td>" for c in r) + "</tr>" for r in rows)
        return f"<table><thead><tr>{h}</tr></thead><tbody>{b}</tbody></table>"

    tiles = [
        (t("Output"), _num(doc["plan"]["output_qty"])),
        (t("Planned"), _num(doc["plan"]["planned_qty"])),
        (t("Capacity at ideal rate"), _num(doc["plan"]["capacity_qty"])),
        ("OEE", _pct(k["oee"])),
        (t("Availability"), _pct(k["availability"])),
        (t("Performance"), _pct(k["effectiveness"])),
        (t("Quality"), _pct(k["quality_ratio"])),
        (t("Scrap"), _num(doc["scrap"]["qty"])),
        ("PPM", _num(k["ppm"])),
        (t("Worker-hours"), _num(k.get("worker_h"), 1)),
        (t("Labour productivity"), f"{_num(k.get('labour_productivity'), 2)} {t('units/person-h')}"),
    ]
    tiles_html = "".join(f"<div class='tile'><span>{e(a)}</span><b>{e(b)}</b></div>" for a, b in tiles)
    scope = doc["scope"]["line"] or doc["site_name"]
    note = coverage_note(k, t, when)
    partial_html = f"<div class='partial'>{e(note)}</div>" if note else ""
    if doc.get("over_100"):
        shown = ", ".join(t("whole scope") if m == "(all)" else m for m in doc["over_100"])
        partial_html += f"<div class='partial'>⚠ {e(t(OVER_100_CAUSE))}: {e(shown)}</div>"
    return f"""<!doctype html><html><head><meta charset="utf-8"><style>
@page {{ size: A4; margin: 12mm; }}
body {{ font-family: {FONT_FAMILY}; font-size: 9pt; color: #000; }}
h1 {{ font-size: 15pt; margin: 0 0 1mm; }} h2 {{ font-size: 11pt; margin: 5mm 0 2mm; }}
.sub {{ color: #444; margin-bottom: 4mm; }}
.tiles {{ display: flex; flex-wrap: wrap; gap: 2mm; }}
.tile {{ border: 0.4pt solid #888; padding: 1.5mm 2.5mm; min-width: 28mm; }}
.tile span {{ display: block; font-size: 7.5pt; color: #444; }} .tile b {{ font-size: 13pt; }}
table {{ border-collapse: collapse; width: 100%; }}
th, td {{ border: 0.3pt solid #999; padding: 0.8mm 1.5mm; text-align: left; }}
thead th {{ background: #eee; }} .none {{ color: #555; }}
.partial {{ border: 0.6pt solid #b26a00; color: #7a4a00; padding: 1mm 2mm; margin-bottom: 3mm; }}
</style></head><body>
<h1>{e(t("Production report"))} · {e(scope)}</h1>
<div class="sub">{e(when(doc["from"]))} – {e(when(doc["to"]))} ({e(doc["timezone"])})</div>{partial_html}
<div class="tiles">{tiles_html}</div>
<h2>{e(t("Machines"))}</h2>{table(
        [t("Machine"), t("Product"), t("Good"), t("Scrap"), "A", "P", "Q", "OEE"],
        [[_machine_label(m, t), m["product"] or "–", _num(m["gq"]), _num(m["sq"]), _pct(m["availability"]),
          _pct(m["effectiveness"]), _pct(m["quality_ratio"]), _pct(m["oee"])] for m in doc["machines"]],
    )}
<h2>{e(t("Shifts"))}</h2>{table(
        [t("Shift"), t("Good"), t("Scrap"), "OEE"],
        [[_shift_label(s, t), _num(s["gq"]), _num(s["sq"]), _pct(s["oee"])] for s in doc["shifts"]],
    )}
<h2>{e(t("Top downtime reasons"))}</h2>{table(
        [t("Reason"), t("Minutes"), t("Stops"), "%"],
        [[name(d["category"]), _num(d["value"] / 60, 1), d["count"], _num(d["share_pct"], 1)] for d in doc["downtime"]],
    )}
<h2>{e(t("Top defect codes"))}</h2>{table(
        [t("Defect"), t("Scrap"), t("Rework"), "PPM"],
        [[name(d["key"]), d["scrap"], d["rework"], _num(d["ppm"])] for d in doc["defects"]],
    )}
<h2>{e(t("Orders finished"))}</h2>{table(
        [t("Work order"), t("Product"), t("Quantity"), t("Machine"), t("Completed"), t("On time")],
        [[o["code"], o["product"], o["quantity"], o["machine"], when(o["completed"]),
          "–" if o["on_time"] is None else (t("yes") if o["on_time"] else t("no"))] for o in doc["orders_finished"]],
    )}
</body></html>"""  # fmt: skip


def report_pdf(doc: dict[str, Any], t=lambda s: s, when=lambda iso: iso[:16].replace("T", " "), name=str) -> bytes:
    """``name`` gives a reason or defect code's name in the report's language."""
    return html_to_pdf(report_html(doc, t, when, name))
