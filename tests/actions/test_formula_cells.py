"""A formula cell in an uploaded workbook: the value a spreadsheet program saved for it is read; a formula that no
program has calculated (a workbook written by a script or an export tool) is named, with its cell and the way
out, instead of "a value is required" for a cell that visibly holds something."""

from __future__ import annotations

import io
import zipfile

import openpyxl
import pytest

from shopfloor.actions.demo import sample_plant
from shopfloor.actions.master_data import import_xlsx
from shopfloor.actions.order_import import parse_orders
from shopfloor.errors import FormulaWithoutValue, MasterDataRefused
from shopfloor.i18n import error_message
from shopfloor.model.master import COLUMNS, SHEETS


def _workbook(rows: dict[str, list[list]], *, saved: dict[str, str] | None = None) -> bytes:
    """A workbook written by openpyxl (formulas without values); ``saved`` gives values to formulas, as a
    spreadsheet program saves them (formula text -> value), by editing the sheet parts."""
    wb = openpyxl.Workbook()
    wb.remove(wb.active)
    for sheet, content in rows.items():
        ws = wb.create_sheet(sheet)
        for row in content:
            ws.append(row)
    out = io.BytesIO()
    wb.save(out)
    if not saved:
        return out.getvalue()
    edited = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(out.getvalue())) as src, zipfile.ZipFile(edited, "w") as dst:
        for info in src.infolist():
            data = src.read(info)
            for formula, value in saved.items():
                data = data.replace(f"<f>{formula}</f><v />".encode(), f"<f>{formula}</f><v>{value}</v>".encode())
            dst.writestr(info, data)
    return edited.getvalue()


def _master(items: list[list], bom: list[list]) -> dict[str, list[list]]:
    rows = {sheet: [list(COLUMNS[sheet])] for sheet in SHEETS}
    rows["items"] += items
    rows["bom"] += bom
    return rows


ITEMS = [["A", "Part A", "raw", "kg"], ["B", "Part B", "raw", "kg"]]


def test_a_formula_without_a_saved_value_is_named_with_its_cell_and_nothing_else():
    content = _workbook(_master(ITEMS + [["C", '=CONCAT("Part ","C")', "raw", "kg"]], [["A", "B", "=1+1"]]))
    with pytest.raises(MasterDataRefused) as refused:
        import_xlsx(content)
    assert [(p.sheet, p.row, p.column, p.error) for p in refused.value.problems] == [
        ("items", 4, "name", FormulaWithoutValue(cell="B4", formula='=CONCAT("Part ","C")')),
        ("bom", 2, "quantity", FormulaWithoutValue(cell="C2", formula="=1+1")),
    ]
    shown = error_message(refused.value.problems[1].error, "ko")
    assert "C2" in shown and "=1+1" in shown and "Excel" in shown and "값이 필요합니다" not in shown
    assert "C2" in error_message(refused.value.problems[1].error, "vi")


def test_the_value_a_spreadsheet_program_saved_for_a_formula_is_read():
    content = _workbook(_master(ITEMS, [["A", "B", "=1+1"]]), saved={"1+1": "2"})
    data = import_xlsx(content)
    assert [(b.parent, b.component, b.quantity) for b in data.bom_lines] == [("A", "B", 2.0)]


def test_a_text_cell_that_starts_with_an_equals_sign_stays_text():
    wb = openpyxl.Workbook()
    wb.remove(wb.active)
    for sheet in SHEETS:
        ws = wb.create_sheet(sheet)
        ws.append(list(COLUMNS[sheet]))
    wb["items"].append(["A", "Part A", "raw", "kg"])
    wb["items"].append(["B", "x", "raw", "kg"])
    wb["items"]["B3"].value = "=not a formula"
    wb["items"]["B3"].data_type = "s"
    wb["bom"].append(["A", "B", "=1+1"])  # a formula elsewhere, so the workbook is read side by side
    out = io.BytesIO()
    wb.save(out)
    with pytest.raises(MasterDataRefused) as refused:
        import_xlsx(out.getvalue())
    assert [(p.sheet, p.row, p.column) for p in refused.value.problems] == [("bom", 2, "quantity")]


def test_an_order_file_with_a_formula_quantity_says_so():
    content = _workbook({"orders": [["order", "item", "qty"], ["O-1", "DRUM-A", "=2*3"], ["O-2", "DRUM-A", 4]]})
    orders, problems = parse_orders(content, "erp.xlsx", sample_plant())
    refusal = FormulaWithoutValue(cell="C2", formula="=2*3")
    assert [(p.row, p.column, p.error) for p in problems] == [(2, "quantity", refusal)]
    assert [o.get("quantity") for o in orders] == [None, 4]
    saved = _workbook({"orders": [["order", "item", "qty"], ["O-1", "DRUM-A", "=2*3"]]}, saved={"2*3": "6"})
    assert [o["quantity"] for o in parse_orders(saved, "erp.xlsx", sample_plant())[0]] == [6]
