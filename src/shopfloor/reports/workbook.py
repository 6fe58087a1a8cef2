"""The one way a workbook cell is written: text stays text.

openpyxl stores a string that starts with ``=`` as a formula, so a reason, an NCR description or a supplier lot
typed as ``=HYPERLINK("http://...")`` would become a live formula in the production, recall or NCR workbook
(CWE-1236, "CSV/formula injection").  Every text cell written here is a string cell, and one that starts with a
character a spreadsheet reads as the start of a formula (``= + - @``, tab, carriage return) is also marked with
Excel's quote prefix, so that it stays text when someone edits the cell or saves the sheet as CSV.  Every
workbook of the package is written with these functions (``tests/test_security_source.py`` checks it).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from openpyxl.cell import Cell
from openpyxl.worksheet.worksheet import Worksheet

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralise(cell: Cell) -> None:
    """Make a cell holding text a string cell, quote-prefixed when it could be read as a formula."""
    if isinstance(cell.value, str):
        cell.data_type = "s"
        if cell.value.startswith(FORMULA_STARTS):
            cell.quotePrefix = True


def set_cell(cell: Cell, value: Any, number_format: str | None = None) -> None:
    """Write ``value`` to ``cell``: text as text, numbers with ``number_format`` when given."""
    cell.value = value
    if isinstance(value, str):
        neutralise(cell)
    elif number_format and value is not None:
        cell.number_format = number_format


def append_row(ws: Worksheet, values: Iterable[Any]) -> None:
    """``ws.append(values)`` with every text cell of the new row neutralised."""
    ws.append(list(values))
    for cell in ws[ws.max_row]:
        neutralise(cell)
