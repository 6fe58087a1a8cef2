"""Text that looks like a formula stays text in every workbook: string cells, quote-prefixed, read back as text."""

from __future__ import annotations

import io

from openpyxl import Workbook, load_workbook

from shopfloor.reports.workbook import append_row, set_cell

ATTACKS = ['=HYPERLINK("http://evil.example","open")', "+1+1", "-2+3", "@SUM(A1:A2)", "\t=1", "=1+1"]


def test_text_that_starts_like_a_formula_is_written_as_quoted_text():
    wb = Workbook()
    ws = wb.active
    append_row(ws, ATTACKS)
    for col, text in enumerate(ATTACKS, start=1):
        set_cell(ws.cell(2, col), text)
    append_row(ws, ["plain", 1.5, None, "A-1"])
    out = io.BytesIO()
    wb.save(out)
    read = load_workbook(io.BytesIO(out.getvalue())).active
    for row in (1, 2):
        for col, text in enumerate(ATTACKS, start=1):
            cell = read.cell(row, col)
            assert (cell.value, cell.data_type, cell.quotePrefix) == (text, "s", True)
    assert [c.value for c in read[3]][:4] == ["plain", 1.5, None, "A-1"]
    assert read.cell(3, 1).quotePrefix is False and read.cell(3, 2).data_type == "n"
