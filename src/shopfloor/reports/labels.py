"""Lot labels, 100 mm x 60 mm, as HTML and as PDF (one label per page).

A label shows the lot code large, the item code and name, the quantity with its unit, the supplier and the
supplier's lot when present, the date of the lot's ``created_at`` (printed as given, so pass local time), the
location when present, and a barcode of the lot code: Code 128 across the bottom, or a QR Code on the right.

Sizes: CSS px are 1/96 in, so 1 mm = 96 / 25.4 px.  The Code 128 module (X dimension) is at most 0.5 mm and is
narrowed so that the symbol with its two 10-module quiet zones fits the 92 mm between the label's side margins.
"""

from __future__ import annotations

from datetime import datetime
from html import escape
from typing import Any

from shopfloor.reports.barcode import QUIET_MODULES, code128_modules, code128_svg, qr_svg
from shopfloor.reports.pdf import FONT_FAMILY, html_to_pdf

__all__ = ["LABEL_HEIGHT_MM", "LABEL_WIDTH_MM", "lot_label_html", "lot_label_pdf", "lot_labels_html", "lot_labels_pdf"]

LABEL_WIDTH_MM = 100.0
LABEL_HEIGHT_MM = 60.0
MARGIN_X_MM = 4.0
MARGIN_Y_MM = 3.0
PX_PER_MM = 96 / 25.4
MAX_MODULE_MM = 0.5
BAR_HEIGHT_MM = 13.0
QR_SIZE_MM = 27.0
BARCODES = ("code128", "qr")

_CSS = f"""
@page {{ size: {LABEL_WIDTH_MM:g}mm {LABEL_HEIGHT_MM:g}mm; margin: 0; }}
* {{ box-sizing: border-box; }}
html, body {{ margin: 0; padding: 0; background: #fff; }}
body {{ font-family: {FONT_FAMILY}; color: #000; -webkit-print-color-adjust: exact; print-color-adjust: exact; }}
.label {{ width: {LABEL_WIDTH_MM:g}mm; height: {LABEL_HEIGHT_MM:g}mm; padding: {MARGIN_Y_MM:g}mm {MARGIN_X_MM:g}mm;
  overflow: hidden; display: flex; flex-direction: column; break-after: page; page-break-after: always; }}
.label:last-child {{ break-after: auto; page-break-after: auto; }}
.main {{ display: flex; flex: 1 1 auto; min-height: 0; gap: 2mm; }}
.text {{ flex: 1 1 auto; min-width: 0; display: flex; flex-direction: column; gap: 0.8mm; }}
.code {{ font-size: 6.5mm; font-weight: 700; line-height: 1.1; white-space: nowrap; overflow: hidden;
  text-overflow: ellipsis; }}
.item {{ font-size: 3.5mm; line-height: 1.25; max-height: 8.8mm; overflow: hidden; }}
.item .item-code {{ font-weight: 700; margin-right: 1.5mm; }}
.qty {{ font-size: 4.5mm; font-weight: 700; line-height: 1.2; }}
.facts {{ display: grid; grid-template-columns: auto 1fr auto 1fr; column-gap: 1.5mm; row-gap: 0.4mm;
  font-size: 2.9mm; line-height: 1.25; }}
.with-qr .facts {{ grid-template-columns: auto 1fr; }}
.facts dt {{ color: #333; font-size: 2.3mm; align-self: center; }}
.facts dd {{ margin: 0; white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }}
.barcode {{ margin-top: auto; display: flex; justify-content: center; }}
.barcode svg, .qr svg {{ display: block; }}
.qr {{ flex: 0 0 {QR_SIZE_MM:g}mm; align-self: flex-start; }}
.qr svg {{ width: {QR_SIZE_MM:g}mm; height: {QR_SIZE_MM:g}mm; }}
"""


def _text(value: Any) -> str:
    return "" if value is None else str(value).strip()


def _date(value: Any) -> str:
    """The calendar date of an ISO 8601 timestamp as YYYY-MM-DD (in its own offset); other text unchanged."""
    text = _text(value)
    if not text:
        return ""
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).date().isoformat()
    except ValueError:
        return text


def _code128_block(code: str) -> str:
    modules = sum(code128_modules(code)) + 2 * QUIET_MODULES
    module_mm = min(MAX_MODULE_MM, (LABEL_WIDTH_MM - 2 * MARGIN_X_MM) / modules)
    svg = code128_svg(code, module_px=module_mm * PX_PER_MM, height_px=BAR_HEIGHT_MM * PX_PER_MM, human_readable=False)
    return f'<div class="barcode">{svg}</div>'


def _label(lot: dict[str, Any], barcode: str) -> str:
    if barcode not in BARCODES:
        raise ValueError(f"barcode must be one of {', '.join(BARCODES)}, got {barcode!r}")
    code = _text(lot.get("code"))
    if not code:
        raise ValueError("a lot label needs the lot code")
    qty = " ".join(part for part in (_text(lot.get("qty")), _text(lot.get("unit"))) if part)
    facts = [
        ("Supplier", _text(lot.get("supplier"))),
        ("Supplier lot", _text(lot.get("supplier_lot"))),
        ("Date", _date(lot.get("created_at"))),
        ("Location", _text(lot.get("location"))),
    ]
    rows = "".join(f"<dt>{escape(name)}</dt><dd>{escape(value)}</dd>" for name, value in facts if value)
    item_code, item_name = _text(lot.get("item")), _text(lot.get("item_name"))
    item = "".join(
        [
            f'<span class="item-code">{escape(item_code)}</span>' if item_code else "",
            f'<span class="item-name">{escape(item_name)}</span>' if item_name else "",
        ]
    )
    text = "".join(
        [
            f'<div class="code">{escape(code)}</div>',
            f'<div class="item">{item}</div>' if item else "",
            f'<div class="qty">{escape(qty)}</div>' if qty else "",
            f'<dl class="facts">{rows}</dl>' if rows else "",
        ]
    )
    if barcode == "qr":
        side = f'<div class="qr">{qr_svg(code)}</div>'
        return f'<section class="label with-qr"><div class="main"><div class="text">{text}</div>{side}</div></section>'
    bottom = _code128_block(code)
    return f'<section class="label"><div class="main"><div class="text">{text}</div></div>{bottom}</section>'


def lot_labels_html(lots: list[dict[str, Any]], *, barcode: str = "code128") -> str:
    """One HTML document with a 100 mm x 60 mm label per lot (CSS ``@page`` sets the size, one label per page).

    ``lot`` keys: code (required), item, item_name, qty (text, printed as given), unit, supplier, supplier_lot,
    created_at (ISO 8601), location; missing or empty ones are left out.  All text is HTML-escaped.
    ``barcode`` is "code128" (Code 128 of the lot code, printable ASCII only, else ``BarcodeError``) or "qr"
    (QR Code of the lot code, any text).
    """
    if not lots:
        raise ValueError("no lots to label")
    body = "".join(_label(lot, barcode) for lot in lots)
    return (
        '<!doctype html><html><head><meta charset="utf-8"><title>Lot labels</title>'
        f"<style>{_CSS}</style></head><body>{body}</body></html>"
    )


def lot_label_html(lot: dict[str, Any], *, barcode: str = "code128") -> str:
    """HTML of one 100 mm x 60 mm lot label; see :func:`lot_labels_html` for the keys of ``lot``."""
    return lot_labels_html([lot], barcode=barcode)


def lot_labels_pdf(lots: list[dict[str, Any]], barcode: str = "code128") -> bytes:
    """PDF with one 100 mm x 60 mm page per lot, in the order given."""
    return html_to_pdf(lot_labels_html(lots, barcode=barcode), width_mm=LABEL_WIDTH_MM, height_mm=LABEL_HEIGHT_MM)


def lot_label_pdf(lot: dict[str, Any], barcode: str = "code128") -> bytes:
    """PDF of one 100 mm x 60 mm lot label."""
    return lot_labels_pdf([lot], barcode=barcode)
