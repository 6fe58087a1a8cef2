"""The hub's roll-up as an Excel workbook: one row per program, year and sponsor (projects, money per party,
reporting factories, mean attainment per KPI), and a sheet with every project's latest month.  Headers in the
reader's language (``t``, a translator of ``shopfloor.i18n``); text cells are always text (a name starting with
``=`` is never a formula)."""

from __future__ import annotations

import io
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Font

from shopfloor.model.outcomes import kpi_label, party_label, spec_of
from shopfloor.reports.workbook import append_row, set_cell

WON = "#,##0"
PERCENT = "0.0%"


_cell = set_cell  # text even when it looks like a formula


def _parties(groups: list[dict[str, Any]]) -> list[str]:
    order = {"state": 0, "sponsor": 1, "sme": 2}
    found = {p for g in groups for p in g["parties"]}
    return sorted(found, key=lambda p: (order.get(p, 3), p))


def _kpis(items: list[dict[str, Any]]) -> list[str]:
    seen: list[str] = []
    for item in items:
        for k in item["kpis"]:
            if k not in seen:
                seen.append(k)
    return seen


def rollup_xlsx(groups: list[dict[str, Any]], rows: list[dict[str, Any]], t: Any) -> bytes:
    _ = t.gettext
    wb = Workbook()
    ws = wb.active
    ws.title = _("Roll-up")
    parties, kpis = _parties(groups), _kpis(groups)
    head = [_("Program"), _("Year"), _("Sponsor"), _("Sponsor name"), _("Projects"), _("Project total (won)")]
    for p in parties:
        label = _(party_label(p))
        head += [f"{label}: {_('committed')}", f"{label}: {_('contributed')}", f"{label}: {_('paid')}"]
    head.append(_("Factories reporting"))
    for k in kpis:
        head += [f"{_(kpi_label(k))}: {_('mean attainment')}", f"{_(kpi_label(k))}: {_('target met')}"]
    append_row(ws, head)
    for c in ws[1]:
        c.font = Font(bold=True)
    for r, g in enumerate(groups, start=2):
        values: list[tuple[Any, str | None]] = [
            (g["program"], None),
            (g["year"], None),
            (g["sponsor"], None),
            (g["sponsor_name"], None),
            (g["projects"], None),
            (g["budget"], WON),
        ]
        for p in parties:
            money = g["parties"].get(p, {})
            values += [
                (money.get("committed", 0), WON),
                (money.get("contributed", 0), WON),
                (money.get("paid", 0), WON),
            ]
        values.append((g["reporting"], None))
        for k in kpis:
            figure = g["kpis"].get(k, {})
            values += [(figure.get("mean_attainment"), PERCENT), (figure.get("met"), None)]
        for col, (value, fmt) in enumerate(values, start=1):
            _cell(ws.cell(row=r, column=col), value, fmt)

    ps = wb.create_sheet(_("Projects"))
    kpis = _kpis(rows)
    head = [
        _("Project"),
        _("Factory"),
        _("Factory name"),
        _("Sponsor"),
        _("Program"),
        _("Year"),
        _("Type"),
        _("Project total (won)"),
        _("Latest month"),
        _("Partial month"),
    ]
    for k in kpis:
        unit = spec_of(k).unit
        label = _(kpi_label(k)) + (f" ({unit})" if unit and unit != "%" else "")
        head += [
            f"{label}: {_('baseline')}",
            f"{label}: {_('target')}",
            f"{label}: {_('value')}",
            f"{label}: {_('attainment')}",
        ]
    append_row(ps, head)
    for c in ps[1]:
        c.font = Font(bold=True)
    for r, row in enumerate(rows, start=2):
        latest = row["latest"] or {}
        values = [
            (row["project"], None),
            (row["factory"], None),
            (row["factory_name"], None),
            (row["sponsor"], None),
            (row["program"], None),
            (row["year"], None),
            (row["type"], None),
            (row["budget"], WON),
            (latest.get("period"), None),
            (_("yes") if latest.get("partial") else _("no") if latest else None, None),
        ]
        for k in kpis:
            f = row["kpis"].get(k, {})
            fmt = PERCENT if spec_of(k).ratio else None
            values += [
                (f.get("baseline"), fmt),
                (f.get("target"), fmt),
                (f.get("value"), fmt),
                (f.get("attainment"), PERCENT),
            ]
        for col, (value, fmt) in enumerate(values, start=1):
            _cell(ps.cell(row=r, column=col), value, fmt)
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()
