"""The one way a workbook cell is written (text stays text) and an uploaded workbook read (a formula gives the
value a spreadsheet program calculated for it, or says that it has none).

openpyxl stores a string that starts with ``=`` as a formula, so a reason, an NCR description or a supplier lot
typed as ``=HYPERLINK("http://...")`` would become a live formula in the production, recall or NCR workbook
(CWE-1236, "CSV/formula injection").  Every text cell written here is a string cell, and one that starts with a
character a spreadsheet reads as the start of a formula (``= + - @``, tab, carriage return) is also marked with
Excel's quote prefix, so that it stays text when someone edits the cell or saves the sheet as CSV.  Every
workbook of the package is written with these functions (``tests/test_security_source.py`` checks it).

An uploaded workbook is read with :func:`uploaded_sheets`.  A formula cell holds the formula and, when a
spreadsheet program saved the file, the value it calculated (ECMA-376 Part 1, 18.3.1.4 ``c``: the ``f`` and ``v``
children).  openpyxl reads either the formulas or the saved values; a workbook written by a program that does not
calculate (a script, an export tool) has formulas without values, which read as empty cells, so an upload would
be refused with "a value is required" for a cell that visibly holds one.  Such a cell is read as
:class:`UncachedFormula`, for the caller to report with the formula and the way out.  A workbook without formulas
(most exports) is read once; one with formulas is read twice, side by side.
"""

from __future__ import annotations

import io
import re
import warnings
import zipfile
from collections.abc import Iterable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from itertools import zip_longest
from typing import Any

import openpyxl
from openpyxl.cell import Cell
from openpyxl.utils import get_column_letter
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


@dataclass(frozen=True)
class UncachedFormula:
    """A formula cell of an uploaded workbook with no saved value: its address (``B7``) and its formula."""

    cell: str
    formula: str


_FORMULA_ELEMENT = re.compile(rb"<(?:\w+:)?f[ >/]")


def _has_formulas(zf: zipfile.ZipFile) -> bool:
    """Whether any worksheet part holds a formula element, read in chunks (a sheet may be large)."""
    for name in zf.namelist():
        if not (name.startswith("xl/worksheets/") and name.endswith(".xml")):
            continue
        tail = b""
        with zf.open(name) as part:
            while chunk := part.read(1 << 20):
                if _FORMULA_ELEMENT.search(tail + chunk):
                    return True
                tail = chunk[-16:]
    return False


class UploadedSheet:
    """One worksheet of an uploaded workbook, read row by row (values only)."""

    def __init__(self, values: Any, formulas: Any | None) -> None:
        self._values, self._formulas = values, formulas
        self.title: str = values.title

    def rows(self, max_row: int | None = None) -> Iterator[tuple[Any, ...]]:
        """The rows as tuples of values, every row the file holds (whatever size it declares); a formula cell
        without a saved value is an :class:`UncachedFormula`."""
        self._values.reset_dimensions()
        values = self._values.iter_rows(values_only=True, max_row=max_row)
        if self._formulas is None:
            yield from values
            return
        self._formulas.reset_dimensions()
        formulas = self._formulas.iter_rows(values_only=True, max_row=max_row)
        for number, (row, written) in enumerate(zip_longest(values, formulas, fillvalue=()), start=1):
            if any(v is None and isinstance(f, str) and f.startswith("=") for v, f in zip(row, written)):
                row = tuple(
                    UncachedFormula(f"{get_column_letter(i + 1)}{number}", f)
                    if v is None and isinstance(f, str) and f.startswith("=")
                    else v
                    for i, (v, f) in enumerate(zip_longest(row, written))
                )
            yield row


def _load(content: bytes, *, data_only: bool) -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # openpyxl warns of data validation and styles it does not read
        return openpyxl.load_workbook(io.BytesIO(content), read_only=True, data_only=data_only)


@contextmanager
def uploaded_sheets(content: bytes) -> Iterator[list[UploadedSheet]]:
    """The worksheets of an uploaded .xlsx file, in order; raises what ``zipfile`` or openpyxl raise for a file
    that is not a workbook (callers turn that into their own typed error)."""
    with zipfile.ZipFile(io.BytesIO(content)) as zf:
        formulas = _has_formulas(zf)
    with ExitStack() as stack:
        values = _load(content, data_only=True)
        stack.callback(values.close)
        written = None
        if formulas:
            written = _load(content, data_only=False)
            stack.callback(written.close)
        yield [
            UploadedSheet(ws, written.worksheets[i] if written is not None else None)
            for i, ws in enumerate(values.worksheets)
        ]
