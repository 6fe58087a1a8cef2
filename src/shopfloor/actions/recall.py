"""Recall report for a suspect lot: where it came from, every lot made from it and where that lot is now,
every shipment to a customer, and the orders, machines and people along the way.  As a dict (API, JSON), as
an Excel workbook (one sheet per section) and as a PDF (the same sections, through WeasyPrint).

- Origin: the backward trace of the suspect lot (the suppliers' lots it was made from).
- Affected: the forward trace (the suspect lot and every lot made from it), with status, quantity on hand and
  location; lots with stock (active or on hold) are those still to be held or recovered.
- Shipments: every shipment of an affected lot (customer, delivery note, quantity, date): customers to notify.
- Consuming orders: every work order an affected lot was issued to, whatever its status, including an order still
  running that has made no output yet (work in progress); its future output is held at creation once the recall
  holds (``hold_recalled_lots``).
"""

from __future__ import annotations

import io
from datetime import datetime, timezone
from html import escape
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Font
from sqlalchemy import Connection

from shopfloor.model.lots import LotStatus
from shopfloor.reports.pdf import FONT_FAMILY, html_to_pdf
from shopfloor.reports.workbook import append_row
from shopfloor.store import lots as lot_store
from shopfloor.store import trace as trace_store

IN_STOCK = (LotStatus.ACTIVE.value, LotStatus.HOLD.value)
OVER = ("closed", "cancelled")  # orders that make nothing more


def recall_report(conn: Connection, code: str) -> dict[str, Any]:
    backward = trace_store.trace(conn, code, trace_store.BACKWARD)
    forward = trace_store.trace(conn, code, trace_store.FORWARD)
    suspect = lot_store.get(conn, code).to_dict()
    origin = [n for n in backward.lots() if n["code"] != code]
    affected = forward.lots()
    shipments = forward.shipments()
    in_stock = [n for n in affected if n["status"] in IN_STOCK]
    orders = {o["code"]: o for o in backward.orders + forward.orders}
    customers = sorted({s["customer"] for s in shipments})
    consuming = lot_store.consuming_orders(conn, [n["code"] for n in affected])
    for o in consuming:
        o["output_held"] = bool(lot_store.order_holds_of(conn, o["code"]))
    open_ = [o for o in consuming if o["status"] not in OVER]
    return {
        "suspect": suspect,
        "generated_at": datetime.now(timezone.utc).isoformat(),
        "summary": {
            "origin_lots": len(origin),
            "supplier_lots": sorted({f"{n['supplier']}/{n['supplier_lot']}" for n in origin if n.get("supplier")}),
            "affected_lots": len(affected),
            "in_stock_lots": len(in_stock),
            "on_hold_lots": sum(1 for n in affected if n["status"] == LotStatus.HOLD.value),
            "shipments": len(shipments),
            "customers": customers,
            "consuming_orders": len(consuming),
            "orders_in_progress": sorted(o["code"] for o in open_),
            "machines_in_progress": sorted({o["machine"] for o in open_ if o["machine"]}),
        },
        "consuming_orders": consuming,
        "origin": origin,
        "affected": affected,
        "shipments": shipments,
        "orders": sorted(orders.values(), key=lambda o: o["code"]),
        "edges": backward.edges + forward.edges,
        "inspections": sorted(
            {s["id"]: s for s in backward.inspections + forward.inspections}.values(), key=lambda s: s["ts"]
        ),
        "ncrs": sorted({n["code"]: n for n in backward.ncrs + forward.ncrs}.values(), key=lambda n: n["code"]),
    }


# -- Excel --------------------------------------------------------------------------------------------------
LOT_COLUMNS = (
    "code",
    "item",
    "item_name",
    "depth",
    "status",
    "qty",
    "unit",
    "location",
    "supplier",
    "supplier_lot",
    "work_order",
    "machine",
    "created_at",
)
SHIPMENT_COLUMNS = ("customer", "customer_name", "shipment", "lot", "qty", "unit", "ts", "actor")
ORDER_COLUMNS = ("code", "product", "machine", "status", "started", "ended", "people")
CONSUMING_COLUMNS = ("code", "product", "machine", "status", "lots_issued", "output_held")
INSPECTION_COLUMNS = (
    "ts",
    "characteristic",
    "lot",
    "work_order",
    "measurements",
    "nonconforming",
    "in_spec",
    "inspector",
)
NCR_COLUMNS = ("code", "opened_at", "lot", "qty", "defect", "description", "status", "disposition")


def _sheet(wb: Workbook, title: str, columns: tuple[str, ...], rows: list[dict[str, Any]]) -> None:
    ws = wb.create_sheet(title)
    append_row(ws, list(columns))
    for cell in ws[1]:
        cell.font = Font(bold=True)
    ws.freeze_panes = "A2"
    for row in rows:
        append_row(ws, [", ".join(v) if isinstance(v := row.get(c), list) else v for c in columns])
    for i, col in enumerate(columns, start=1):
        width = max([len(col)] + [len(str(r.get(col) or "")) for r in rows[:500]]) + 2
        ws.column_dimensions[ws.cell(1, i).column_letter].width = min(width, 40)


def _flat(sample: dict[str, Any]) -> dict[str, Any]:
    values = sample.get("measurements")
    return sample | {"measurements": " ".join(f"{v:g}" for v in values) if values else None}


def recall_xlsx(report: dict[str, Any]) -> bytes:
    wb = Workbook()
    summary = wb.active
    summary.title = "summary"
    s = report["suspect"]
    for key, value in [
        ("suspect lot", s["code"]),
        ("item", f"{s['item']} {s['item_name']}"),
        ("status", s["status"]),
        ("supplier / lot", f"{s.get('supplier') or ''} {s.get('supplier_lot') or ''}".strip()),
        ("generated at", report["generated_at"]),
        *[(k.replace("_", " "), ", ".join(v) if isinstance(v, list) else v) for k, v in report["summary"].items()],
    ]:
        append_row(summary, [key, value])
        summary.cell(summary.max_row, 1).font = Font(bold=True)
    summary.column_dimensions["A"].width = 20
    summary.column_dimensions["B"].width = 60
    _sheet(wb, "affected", LOT_COLUMNS, report["affected"])
    _sheet(wb, "shipments", SHIPMENT_COLUMNS, report["shipments"])
    _sheet(wb, "origin", LOT_COLUMNS, report["origin"])
    _sheet(wb, "orders", ORDER_COLUMNS, report["orders"])
    _sheet(wb, "consuming orders", CONSUMING_COLUMNS, report.get("consuming_orders", []))
    _sheet(wb, "inspections", INSPECTION_COLUMNS, [_flat(s) for s in report["inspections"]])
    _sheet(wb, "ncrs", NCR_COLUMNS, report["ncrs"])
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


# -- PDF ----------------------------------------------------------------------------------------------------
def _table(columns: tuple[str, ...], rows: list[dict[str, Any]], labels: dict[str, str]) -> str:
    if not rows:
        return f"<p class='none'>{escape(labels.get('none', 'none'))}</p>"
    head = "".join(f"<th>{escape(labels.get(c, c.replace('_', ' ')))}</th>" for c in columns)
    body = "".join(
        "<tr>"
        + "".join(
            f"<td>{escape(', '.join(v) if isinstance(v := r.get(c), list) else '' if v is None else str(v))}</td>"
            for c in columns
        )
        + "</tr>"
        for r in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


# Headings and column names of the PDF, in English; ``recall_labels`` gives them in the reader's language.
LABELS = {
    "title": "Recall report", "suspect": "Suspect lot", "supplier_lot": "Supplier lot",
    "affected_lots": "Affected lots",
    "in_stock_lots": "Lots in stock", "shipments": "Shipments", "customers": "Customers",
    "supplier_lots": "Supplier lots of origin", "generated_at": "Generated at", "affected": "Affected lots",
    "shipments_heading": "Shipments", "origin": "Origin", "orders": "Work orders", "ncrs": "Nonconformances",
    "inspections": "Inspections", "consuming_orders": "Orders that consumed an affected lot", "none": "None",
    "code": "Code", "item": "Item", "depth": "Depth", "status": "Status", "qty": "Quantity", "unit": "Unit",
    "location": "Location", "work_order": "Work order", "machine": "Machine", "customer": "Customer",
    "customer_name": "Customer name", "shipment": "Delivery note", "lot": "Lot", "ts": "Time", "product": "Product",
    "started": "Started", "ended": "Ended", "people": "People", "lots_issued": "Lots issued",
    "output_held": "Output held", "characteristic": "Characteristic", "measurements": "Measurements",
    "nonconforming": "Nonconforming", "in_spec": "In specification", "inspector": "Inspector",
    "opened_at": "Opened", "defect": "Defect", "description": "Description", "disposition": "Disposition",
}  # fmt: skip


def recall_labels(t=lambda s: s) -> dict[str, str]:
    """The PDF's headings and column names translated by ``t`` (a catalog's gettext)."""
    return {key: t(text) for key, text in LABELS.items()}


def recall_html(
    report: dict[str, Any], labels: dict[str, str] | None = None, when=lambda iso: iso[:19].replace("T", " ") + " UTC"
) -> str:
    """The report as a printable page; ``labels`` translates headings and column names, ``when`` shows an instant
    (in the site's zone, named)."""
    t = labels or {}
    s = report["suspect"]
    summary = report["summary"]
    facts = [
        (t.get("suspect", "Suspect lot"), f"{s['code']} — {s['item']} {s['item_name']} ({s['status']})"),
        (t.get("supplier_lot", "Supplier lot"), f"{s.get('supplier') or '-'} {s.get('supplier_lot') or ''}"),
        (t.get("affected_lots", "Affected lots"), summary["affected_lots"]),
        (t.get("in_stock_lots", "Lots in stock"), summary["in_stock_lots"]),
        (t.get("shipments", "Shipments"), summary["shipments"]),
        (t.get("customers", "Customers"), ", ".join(summary["customers"]) or "-"),
        (t.get("supplier_lots", "Supplier lots of origin"), ", ".join(summary["supplier_lots"]) or "-"),
        (t.get("generated_at", "Generated at"), when(report["generated_at"])),
    ]
    facts_html = "".join(f"<tr><th>{escape(k)}</th><td>{escape(str(v))}</td></tr>" for k, v in facts)
    lot_cols = ("code", "item", "depth", "status", "qty", "unit", "location", "supplier_lot", "work_order", "machine")
    return f"""<!doctype html><html><head><meta charset="utf-8"><style>
@page {{ size: A4 landscape; margin: 12mm; }}
body {{ font-family: {FONT_FAMILY}; font-size: 9pt; color: #000; }}
h1 {{ font-size: 15pt; margin: 0 0 4mm; }} h2 {{ font-size: 11pt; margin: 5mm 0 2mm; }}
table {{ border-collapse: collapse; width: 100%; }}
th, td {{ border: 0.3pt solid #888; padding: 1mm 1.5mm; text-align: left; vertical-align: top; }}
thead th {{ background: #eee; }} table.facts {{ width: auto; }} table.facts th {{ background: #f4f4f4; }}
tr {{ break-inside: avoid; }} .none {{ color: #555; }}
</style></head><body>
<h1>{escape(t.get("title", "Recall report"))}: {escape(s["code"])}</h1>
<table class="facts">{facts_html}</table>
<h2>{escape(t.get("affected", "Affected lots"))}</h2>{_table(lot_cols, report["affected"], t)}
<h2>{escape(t.get("shipments_heading", "Shipments"))}</h2>{_table(SHIPMENT_COLUMNS[:-1], report["shipments"], t)}
<h2>{escape(t.get("origin", "Origin"))}</h2>{_table(lot_cols, report["origin"], t)}
<h2>{escape(t.get("orders", "Work orders"))}</h2>{_table(ORDER_COLUMNS, report["orders"], t)}
<h2>{escape(t.get("consuming_orders", "Orders that consumed an affected lot"))}</h2>{
        _table(CONSUMING_COLUMNS, report.get("consuming_orders", []), t)
    }
<h2>{escape(t.get("ncrs", "Nonconformances"))}</h2>{_table(NCR_COLUMNS, report["ncrs"], t)}
<h2>{escape(t.get("inspections", "Inspections"))}</h2>{
        _table(INSPECTION_COLUMNS, [_flat(s) for s in report["inspections"]], t)
    }
</body></html>"""


def recall_pdf(report: dict[str, Any], labels: dict[str, str] | None = None, when=None) -> bytes:
    if when is None:
        return html_to_pdf(recall_html(report, labels), landscape=True)
    return html_to_pdf(recall_html(report, labels, when), landscape=True)
