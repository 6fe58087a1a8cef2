"""Lot labels rendered to PDF (WeasyPrint): page size, one page per lot, Korean and Vietnamese text kept as
extractable text with a real glyph for every letter, pages rendered to PNG by poppler's pdftoppm, and html_to_pdf
called from inside a running asyncio loop.

Page size: 1 mm = 72 / 25.4 pt, so a 100 mm x 60 mm label is 283.46 pt x 170.08 pt and A4 (210 mm x 297 mm) is
595.28 pt x 841.89 pt (1 pt tolerance).
"""

from __future__ import annotations

import asyncio
import io
import threading
import unicodedata

import pytest
from pypdf import PdfReader

from shopfloor.reports.labels import lot_label_html, lot_label_pdf, lot_labels_pdf
from shopfloor.reports.pdf import PdfError, html_to_pdf, missing_glyphs

PT_PER_MM = 72 / 25.4

FONT = '"Noto Sans CJK KR", "Noto Sans", sans-serif'
LOT = {
    "code": "L-20260301-0042",
    "item": "WIRE-ER70S6",
    "item_name": "용접 와이어 / Dây hàn ER70S-6 1.2 mm",
    "qty": "15.000",
    "unit": "kg",
    "supplier": "HYOSUNG-WELD",
    "supplier_lot": "HW-2026-1187",
    "created_at": "2026-03-01T08:15:00+07:00",
    "location": "WH-A-01",
}


def page_size_mm(page) -> tuple[float, float]:
    return float(page.mediabox.width) / PT_PER_MM, float(page.mediabox.height) / PT_PER_MM


def text_of(page) -> str:
    return unicodedata.normalize("NFC", page.extract_text())


def assert_size(page, width_mm: float, height_mm: float) -> None:
    assert float(page.mediabox.width) == pytest.approx(width_mm * PT_PER_MM, abs=1.0)
    assert float(page.mediabox.height) == pytest.approx(height_mm * PT_PER_MM, abs=1.0)


def test_label_pdf_is_100_by_60_mm_with_korean_and_vietnamese_text():
    data = lot_label_pdf(LOT)
    assert data.startswith(b"%PDF-")
    reader = PdfReader(io.BytesIO(data))
    assert len(reader.pages) == 1
    page = reader.pages[0]
    assert_size(page, 100, 60)
    text = text_of(page)
    for expected in (
        "L-20260301-0042",
        "WIRE-ER70S6",
        "용접 와이어",
        "Dây hàn",
        "15.000 kg",
        "HW-2026-1187",
        "2026-03-01",
    ):
        assert expected in text


def test_several_labels_one_page_per_lot():
    lots = [dict(LOT, code=f"L-2026-{n:04d}", supplier=None, supplier_lot=None) for n in (1, 2, 3)]
    reader = PdfReader(io.BytesIO(lot_labels_pdf(lots, barcode="qr")))
    assert len(reader.pages) == 3
    for lot, page in zip(lots, reader.pages, strict=True):
        assert_size(page, 100, 60)
        text = text_of(page)
        assert lot["code"] in text and "용접 와이어" in text
        assert "Supplier" not in text


def test_html_to_pdf_inside_a_running_asyncio_loop():
    html = (
        '<!doctype html><meta charset="utf-8"><p style="font-family: \'Noto Sans CJK KR\'">작업 지시 Lệnh sản xuất</p>'
    )
    caller = threading.get_ident()

    async def main() -> bytes:
        assert asyncio.get_running_loop() is not None
        return html_to_pdf(html)

    data = asyncio.run(main())
    assert threading.get_ident() == caller
    reader = PdfReader(io.BytesIO(data))
    assert len(reader.pages) == 1
    assert_size(reader.pages[0], 210, 297)  # A4 by default
    text = text_of(reader.pages[0])
    assert "작업 지시" in text and "Lệnh sản xuất" in text


def test_a_pdf_loads_nothing_from_outside():
    with pytest.raises(PdfError, match='may not load anything from outside .*"http://example.com/x.png"'):
        html_to_pdf('<img src="http://example.com/x.png">')


def test_every_korean_and_vietnamese_letter_has_a_glyph_and_a_missing_one_is_found(tmp_path):
    ko_vi = "작업 지시서 · 불량률 · Lệnh sản xuất · Tỷ lệ lỗi · Đạt · ỗ ự ữ"
    html = f'<!doctype html><meta charset="utf-8"><style>p {{ font-family: {FONT} }}</style><p>{ko_vi}</p>'
    assert missing_glyphs(html_to_pdf(html)) == []
    # A character no installed font has (a private-use code point) is drawn as an empty box: the check finds it.
    assert missing_glyphs(html_to_pdf(html.replace("불량률", "불량률 \U0010fffd"))) == ["\U0010fffd"]


def test_pages_render_to_png_with_pdftoppm(tmp_path):
    import shutil
    import subprocess

    if shutil.which("pdftoppm") is None:
        pytest.skip("poppler-utils is not installed (./run setup installs it)")
    pdf = tmp_path / "label.pdf"
    pdf.write_bytes(lot_label_pdf(LOT))
    subprocess.run(["pdftoppm", "-png", "-r", "100", str(pdf), str(tmp_path / "page")], check=True)
    (png,) = sorted(tmp_path.glob("page*.png"))
    data = png.read_bytes()
    assert data.startswith(b"\x89PNG") and len(data) > 5_000  # a drawn label, not an empty page


def test_page_size_needs_both_sides():
    with pytest.raises(ValueError, match="both"):
        html_to_pdf("<p>x</p>", width_mm=100)


def test_label_html_escapes_text_and_carries_the_barcode():
    lot = dict(LOT, code="L<1>&2", item_name='<script>alert("x")</script>', supplier=None, supplier_lot="")
    html = lot_label_html(lot)
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert "L&lt;1&gt;&amp;2" in html
    assert "Supplier" not in html
    assert "@page { size: 100mm 60mm" in html
    assert '"Noto Sans CJK KR", "Noto Sans", sans-serif' in html
    assert html.count("<svg") == 1 and 'aria-label="Code 128: L&lt;1&gt;&amp;2"' in html
    qr = lot_label_html(lot, barcode="qr")
    assert 'class="qr"' in qr and 'class="segno"' in qr
    with pytest.raises(ValueError, match="barcode"):
        lot_label_html(lot, barcode="ean13")
