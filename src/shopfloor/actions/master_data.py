"""Master data in and out as an Excel workbook or as CSV files: export, import with every problem reported, save.

The workbook has one sheet per kind of master data, and the CSV files are named after the same sheets:

==================  ===========================================================================
sheet / CSV file    columns (header in row 1)
==================  ===========================================================================
items               code, name, kind, unit, description
bom                 parent, component, quantity, scrap_pct
routings            item, seq, operation, name, work_centre, ideal_cycle_s, setup_s
suppliers           code, name, country, contact
customers           code, name, country, contact
locations           code, name, kind
defect_codes        code
downtime_reasons    code
==================  ===========================================================================

Reading a file:

* Header names are matched without regard to case or surrounding spaces.  The columns ``description``,
  ``scrap_pct``, ``setup_s``, ``country`` and ``contact`` may be left out; a missing other column, an unknown
  column and a column named twice are problems.
* Cells are trimmed.  Blank rows are skipped (so are trailing rows Excel keeps after deleted data).  A blank
  ``scrap_pct`` or ``setup_s`` is 0; a blank ``description``, ``country`` or ``contact`` is no value.
* Numbers may be given as numbers or as text ("1.5"); a decimal comma is not a number.  A cell that is not a
  number is kept as its text, so that the master-data check reports it with the rest.
* CSV files are UTF-8 (with or without a byte-order mark, as Excel's "CSV UTF-8" writes them), separated by
  commas, semicolons or tabs (told from the header row).  Exported CSV files carry a byte-order mark so that
  Excel shows Korean and Vietnamese text correctly.
* Every problem is collected, with its sheet, row and column, before anything is decided; with any problem
  ``MasterDataRefused`` is raised and nothing is saved.

``import_csv`` and ``import_csv_zip`` accept a subset of the CSV files: a sheet whose file is missing is read as
empty.  ``import_master`` instead keeps the stored contents of a sheet that the uploaded CSV files leave out, so
that one CSV file (named after its sheet, e.g. ``items.csv``) replaces that sheet only.  A workbook must have
every sheet.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import math
import re
import zipfile
from collections.abc import Iterable, Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any

import openpyxl
from openpyxl.cell.cell import Cell
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter
from sqlalchemy import Connection, Engine

from shopfloor.actions.core import change
from shopfloor.errors import (
    CannotUnpack,
    ColumnMissing,
    ColumnTwice,
    ColumnUnknown,
    CsvLooksLikeCp949,
    CsvNotReadable,
    CsvNotText,
    DamagedZip,
    DomainError,
    FileTwiceInZip,
    FormulaWithoutValue,
    HeaderMissing,
    MasterDataRefused,
    NoCsvInZip,
    NotWorkbook,
    NotZip,
    OldExcelFile,
    SecondFileForSheet,
    SheetMissing,
    StoredDataProblem,
    TooManyRows,
    UnknownCsvFile,
    UnknownFileKind,
    UnpacksTooLarge,
    ValueWithoutHeader,
)
from shopfloor.model.inputs import MAX_DIGITS, decimal_number, looks_like_cp949, whole_number
from shopfloor.model.master import (
    COLUMNS,
    SHEET_FIELDS,
    SHEETS,
    BomLine,
    Item,
    Location,
    MasterData,
    Operation,
    Partner,
    Problem,
)
from shopfloor.reports.workbook import UncachedFormula, neutralise, uploaded_sheets
from shopfloor.store.master import load_master, save_master
from shopfloor.store.master import plant_codes as store_plant_codes

__all__ = [
    "Problem",
    "export_csv",
    "export_csv_zip",
    "export_xlsx",
    "import_csv",
    "import_csv_zip",
    "import_master",
    "replace_master",
    "import_xlsx",
]

MAX_UNPACKED_BYTES = 200 * 1024 * 1024  # SHOPFLOOR_MAX_UNPACKED_MB
MAX_ROWS = 200_000  # SHOPFLOOR_MAX_IMPORT_ROWS
_OLE_SIGNATURE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_COPY_SUFFIX = re.compile(r"\s*\(\d+\)$")  # "items (1).csv", as browsers name a second download


@dataclass(frozen=True)
class _Column:
    name: str
    kind: str  # text | float | int
    required: bool = True
    default: Any = None


_SPEC: dict[str, tuple[_Column, ...]] = {
    "items": (
        _Column("code", "text"),
        _Column("name", "text"),
        _Column("kind", "text"),
        _Column("unit", "text"),
        _Column("description", "text", required=False),
    ),
    "bom": (
        _Column("parent", "text"),
        _Column("component", "text"),
        _Column("quantity", "float"),
        _Column("scrap_pct", "float", required=False, default=0.0),
    ),
    "routings": (
        _Column("item", "text"),
        _Column("seq", "int"),
        _Column("operation", "text"),
        _Column("name", "text"),
        _Column("work_centre", "text"),
        _Column("ideal_cycle_s", "float"),
        _Column("setup_s", "float", required=False, default=0.0),
    ),
    "suppliers": (
        _Column("code", "text"),
        _Column("name", "text"),
        _Column("country", "text", required=False),
        _Column("contact", "text", required=False),
    ),
    "customers": (
        _Column("code", "text"),
        _Column("name", "text"),
        _Column("country", "text", required=False),
        _Column("contact", "text", required=False),
    ),
    "locations": (_Column("code", "text"), _Column("name", "text"), _Column("kind", "text")),
    "defect_codes": (_Column("code", "text"),),
    "downtime_reasons": (_Column("code", "text"),),
}


def _build(sheet: str, v: dict[str, Any]) -> Any:
    if sheet == "items":
        return Item(v["code"], v["name"], v["kind"], v["unit"], v["description"])
    if sheet == "bom":
        return BomLine(v["parent"], v["component"], v["quantity"], v["scrap_pct"])
    if sheet == "routings":
        return Operation(
            v["item"], v["seq"], v["operation"], v["name"], v["work_centre"], v["ideal_cycle_s"], v["setup_s"]
        )
    if sheet in ("suppliers", "customers"):
        return Partner(v["code"], v["name"], v["country"], v["contact"])
    if sheet == "locations":
        return Location(v["code"], v["name"], v["kind"])
    return v["code"]


def _values(sheet: str, entry: Any) -> tuple[Any, ...]:
    """The cells of one entry, in column order."""
    if sheet == "items":
        return (entry.code, entry.name, entry.kind, entry.unit, entry.description)
    if sheet == "bom":
        return (entry.parent, entry.component, entry.quantity, entry.scrap_pct)
    if sheet == "routings":
        return (
            entry.item,
            entry.seq,
            entry.code,
            entry.name,
            entry.work_centre,
            entry.ideal_cycle_s,
            entry.setup_s,
        )
    if sheet in ("suppliers", "customers"):
        return (entry.code, entry.name, entry.country, entry.contact)
    if sheet == "locations":
        return (entry.code, entry.name, entry.kind)
    return (entry,)


# -- export ---------------------------------------------------------------------------------------------------
def export_xlsx(data: MasterData) -> bytes:
    """All master data as an Excel workbook, one sheet per kind, header in bold and frozen."""
    wb = openpyxl.Workbook()
    wb.remove(wb.active)
    bold = Font(bold=True)
    for sheet in SHEETS:
        ws = wb.create_sheet(sheet)
        widths = [len(name) for name in COLUMNS[sheet]]
        for col, name in enumerate(COLUMNS[sheet], start=1):
            cell = ws.cell(row=1, column=col, value=name)
            cell.font = bold
        for r, entry in enumerate(data.sheet(sheet), start=2):
            for col, value in enumerate(_values(sheet, entry), start=1):
                if value is None:
                    continue
                _set_cell(ws.cell(row=r, column=col), value)
                widths[col - 1] = max(widths[col - 1], min(len(str(value)), 60))
        ws.freeze_panes = "A2"
        for col, width in enumerate(widths, start=1):
            ws.column_dimensions[get_column_letter(col)].width = width + 2
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def _set_cell(cell: Cell, value: Any) -> None:
    cell.value = value
    if isinstance(value, float):
        # Written with all the digits that identify the float; openpyxl would round to 16 significant digits.
        cell.value = repr(value)
        cell.data_type = "n"
    elif isinstance(value, str):
        neutralise(cell)  # text even when it looks like a formula ("=...") or an error ("#N/A")


def export_csv(data: MasterData) -> dict[str, bytes]:
    """All master data as CSV files (``items.csv``, ``bom.csv``, ...): UTF-8 with a byte-order mark, CRLF."""
    files = {}
    for sheet in SHEETS:
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\r\n")
        writer.writerow(COLUMNS[sheet])
        for entry in data.sheet(sheet):
            writer.writerow([_csv_text(v) for v in _values(sheet, entry)])
        files[f"{sheet}.csv"] = ("\ufeff" + buf.getvalue()).encode("utf-8")
    return files


def _csv_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    if isinstance(value, float):
        return repr(value)
    return str(value)


def export_csv_zip(data: MasterData) -> bytes:
    """The CSV files of ``export_csv`` in one zip archive."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, content in export_csv(data).items():
            zf.writestr(name, content)
    return out.getvalue()


# -- import ---------------------------------------------------------------------------------------------------
def import_xlsx(content: bytes, plant_codes: set[str] | None = None) -> MasterData:
    """Master data from a workbook with every sheet; ``MasterDataRefused`` lists every problem.  With
    ``plant_codes`` (the plant's machine and line codes) each work centre must be one of them."""
    data, _, problems = _read_xlsx(content, _Budget(MAX_UNPACKED_BYTES, MAX_ROWS))
    return _checked(data, problems, plant_codes)


def import_csv(files: dict[str, bytes], plant_codes: set[str] | None = None) -> MasterData:
    """Master data from CSV files keyed by file name (``items.csv``, ...).  Any subset of the files may be given:
    the sheet of a missing file is empty."""
    data, _, problems = _read_csv_files(files, _Budget(MAX_UNPACKED_BYTES, MAX_ROWS))
    return _checked(data, problems, plant_codes)


def import_csv_zip(content: bytes, plant_codes: set[str] | None = None) -> MasterData:
    """Master data from a zip of CSV files (as ``import_csv``; folders in the zip are ignored)."""
    data, _, problems = _read_zip(content, _Budget(MAX_UNPACKED_BYTES, MAX_ROWS))
    return _checked(data, problems, plant_codes)


def master_document(data: MasterData) -> dict[str, Any]:
    """All master data as JSON-ready lists, one per table."""
    out: dict[str, Any] = {}
    for f in dataclasses.fields(data):
        if f.name == "source_rows":
            continue
        value = getattr(data, f.name)
        out[f.name] = [dataclasses.asdict(v) if dataclasses.is_dataclass(v) else v for v in value]
    return out


def import_master(
    engine: Engine,
    actor: str,
    content: bytes,
    filename: str,
    *,
    max_unpacked: int = MAX_UNPACKED_BYTES,
    max_rows: int = MAX_ROWS,
) -> dict[str, Any]:
    """The action: read master data from an uploaded file, check it and replace the stored master data;
    returns the file's format, the sheets it held and the rows per table.  Live events: ``("master_data",
    "all")``, and ``("plant", site)`` when its reason or defect codes changed.

    The file is read before the write transaction begins (a workbook of 200,000 rows takes seconds to read, and
    nobody else may write meanwhile on SQLite), within ``max_unpacked`` bytes unpacked and ``max_rows`` rows."""
    parsed = read_master(content, filename, max_unpacked=max_unpacked, max_rows=max_rows)
    with change(engine, actor) as c:
        summary = _replace(c.conn, parsed, filename, actor)
        c.audit("master.import", "master-data", {k: v for k, v in summary.items() if k != "file"})
        c.publish("master_data", "all")
        if summary["plant_updated"]:
            c.publish("plant", c.plant().site.code)
    return summary


@dataclass(frozen=True)
class ParsedMaster:
    """An uploaded file as read, before it is checked against the store: its format, the master data in it, the
    sheets it held and the problems found reading it."""

    fmt: str
    data: MasterData
    present: set[str]
    problems: list[Problem]


def read_master(
    content: bytes, filename: str, *, max_unpacked: int = MAX_UNPACKED_BYTES, max_rows: int = MAX_ROWS
) -> ParsedMaster:
    """Read an uploaded file (no store needed): raises ``MasterDataRefused`` for a file that cannot be read at all,
    one that unpacks to more than ``max_unpacked`` bytes or has more than ``max_rows`` rows."""
    fmt = _format(content, filename)
    budget = _Budget(max_unpacked, max_rows)
    if fmt == "xlsx":
        data, present, problems = _read_xlsx(content, budget)
    elif fmt == "zip":
        data, present, problems = _read_zip(content, budget)
    else:
        data, present, problems = _read_csv_files({filename: content}, budget)
    return ParsedMaster(fmt, data, present, problems)


def replace_master(
    conn: Connection, content: bytes, filename: str, actor: str, plant_codes: set[str] | None = None
) -> dict[str, Any]:
    """Read master data from an uploaded file, check it and replace the stored master data, in the caller's
    transaction.

    The format is told by the content (a workbook, a zip of CSV files) and, for a single CSV file, by the
    extension; the file name of a CSV file names its sheet.  Sheets that CSV files leave out keep their stored
    contents.  Work centres are checked against ``plant_codes``, by default the plant's machines and lines.
    Raises ``MasterDataRefused`` (nothing saved) with every problem.
    """
    return _replace(conn, read_master(content, filename), filename, actor, plant_codes)


def _replace(
    conn: Connection, parsed: ParsedMaster, filename: str, actor: str, plant_codes: set[str] | None = None
) -> dict[str, Any]:
    data, present, problems = parsed.data, parsed.present, list(parsed.problems)
    stored_sheets = [s for s in SHEETS if s not in present]
    if stored_sheets:
        stored = load_master(conn)
        data = MasterData(
            **{SHEET_FIELDS[s]: (data if s in present else stored).sheet(s) for s in SHEETS},
            source_rows={s: rows for s, rows in data.source_rows.items() if s in present},
        )
    if plant_codes is None:
        plant_codes = store_plant_codes(conn)
    for p in _data_problems(data, problems, plant_codes):
        if p.sheet in stored_sheets:
            p = Problem(p.sheet, p.row, p.column, StoredDataProblem(problem=p.message))
        problems.append(p)
    if problems:
        raise MasterDataRefused(_in_order(problems))
    summary = save_master(conn, data, actor)
    return {"file": filename, "format": parsed.fmt, "sheets": [s for s in SHEETS if s in present], **summary}


def _data_problems(data: MasterData, read: list[Problem], plant_codes: set[str] | None) -> list[Problem]:
    """The problems of the data, but none for a cell whose problem found reading it is a formula without a
    value (its formula text would be reported again as a missing or bad value)."""
    formula_cells = {(p.sheet, p.row, p.column) for p in read if isinstance(p.error, FormulaWithoutValue)}
    return [p for p in data.problems(plant_codes) if (p.sheet, p.row, p.column) not in formula_cells]


def _checked(data: MasterData, problems: list[Problem], plant_codes: set[str] | None) -> MasterData:
    problems = problems + _data_problems(data, problems, plant_codes)
    if problems:
        raise MasterDataRefused(_in_order(problems))
    return data


def _in_order(problems: list[Problem]) -> list[Problem]:
    def key(p: Problem) -> tuple[int, int, int]:
        sheet = SHEETS.index(p.sheet) if p.sheet in SHEETS else -1
        columns = COLUMNS.get(p.sheet or "", ())
        column = columns.index(p.column) if p.column in columns else len(columns)
        return (sheet, p.row or 0, column)

    return sorted(problems, key=key)


def _whole_file(error: DomainError) -> MasterDataRefused:
    return MasterDataRefused([Problem(None, None, None, error)])


def _format(content: bytes, filename: str) -> str:
    name = filename.lower()
    if content.startswith(_OLE_SIGNATURE):
        raise _whole_file(OldExcelFile())
    if zipfile.is_zipfile(io.BytesIO(content)):
        try:
            with zipfile.ZipFile(io.BytesIO(content)) as zf:
                names = zf.namelist()
        except (zipfile.BadZipFile, OSError, ValueError) as exc:
            raise _whole_file(DamagedZip(reason=str(exc))) from None
        if "[Content_Types].xml" in names or any(n.startswith("xl/") for n in names):
            return "xlsx"
        return "zip"
    if name.endswith(".xlsx") or name.endswith(".xlsm"):
        return "xlsx"
    if name.endswith(".zip"):
        return "zip"
    if name.endswith(".csv"):
        return "csv"
    raise _whole_file(UnknownFileKind(file=filename, sheets=[s + ".csv" for s in SHEETS]))


@dataclass
class _Budget:
    """What reading one upload may cost: bytes unpacked (a zip's entries are never inflated past the sizes
    its directory declares, so the declared sum bounds the work) and rows over all sheets."""

    unpacked: int
    rows: int

    def take_row(self) -> None:
        self.rows -= 1
        if self.rows < 0:
            raise _whole_file(TooManyRows(limit=self.limit))

    def __post_init__(self) -> None:
        self.limit = self.rows


def _unpacked_size_problem(zf: zipfile.ZipFile, budget: _Budget) -> Problem | None:
    size = sum(info.file_size for info in zf.infolist())
    if size > budget.unpacked:
        return Problem(None, None, None, UnpacksTooLarge(limit_mib=budget.unpacked // 2**20))
    return None


def _read_xlsx(content: bytes, budget: _Budget) -> tuple[MasterData, set[str], list[Problem]]:
    if content.startswith(_OLE_SIGNATURE):
        raise _whole_file(OldExcelFile())
    try:
        with zipfile.ZipFile(io.BytesIO(content)) as zf:
            too_big = _unpacked_size_problem(zf, budget)
    except (zipfile.BadZipFile, OSError, ValueError):
        raise _whole_file(NotWorkbook(reason="")) from None
    if too_big:
        raise MasterDataRefused([too_big])
    problems: list[Problem] = []
    entries: dict[str, tuple[Any, ...]] = {}
    rows: dict[str, tuple[int, ...]] = {}
    with ExitStack() as stack:
        try:
            worksheets = stack.enter_context(uploaded_sheets(content))
        except Exception as exc:  # openpyxl raises many kinds of errors for a file that is not a workbook
            raise _whole_file(NotWorkbook(reason=f": {exc}")) from None
        sheets = {ws.title.strip().lower(): ws for ws in worksheets}
        for sheet in SHEETS:
            ws = sheets.get(sheet)
            if ws is None:
                problems.append(Problem(sheet, None, None, SheetMissing(sheets=SHEETS)))
                continue
            entries[sheet], rows[sheet] = _read_rows(sheet, ws.rows(), problems, budget)
    return _data(entries, rows), set(SHEETS), problems


def _read_zip(content: bytes, budget: _Budget) -> tuple[MasterData, set[str], list[Problem]]:
    try:
        zf = zipfile.ZipFile(io.BytesIO(content))
    except (zipfile.BadZipFile, OSError, ValueError):
        raise _whole_file(NotZip()) from None
    with zf:
        too_big = _unpacked_size_problem(zf, budget)
        if too_big:
            raise MasterDataRefused([too_big])
        files: dict[str, bytes] = {}
        problems: list[Problem] = []
        for info in zf.infolist():
            base = info.filename.replace("\\", "/").rsplit("/", 1)[-1]
            if info.is_dir() or info.filename.startswith("__MACOSX/") or base.startswith("."):
                continue
            if not base.lower().endswith(".csv"):
                continue
            if base in files:
                problems.append(Problem(None, None, None, FileTwiceInZip(file=base)))
                continue
            try:
                files[base] = zf.read(info)
            except (zipfile.BadZipFile, OSError, ValueError, NotImplementedError) as exc:
                problems.append(Problem(None, None, None, CannotUnpack(file=info.filename, reason=str(exc))))
    if not files and not problems:
        raise _whole_file(NoCsvInZip(files=[s + ".csv" for s in SHEETS]))
    data, present, more = _read_csv_files(files, budget)
    return data, present, problems + more


def _sheet_of(filename: str) -> str | None:
    base = filename.replace("\\", "/").rsplit("/", 1)[-1].strip().lower()
    if not base.endswith(".csv"):
        return None
    stem = _COPY_SUFFIX.sub("", base[: -len(".csv")]).strip()
    return stem if stem in COLUMNS else None


def _read_csv_files(files: dict[str, bytes], budget: _Budget) -> tuple[MasterData, set[str], list[Problem]]:
    problems: list[Problem] = []
    entries: dict[str, tuple[Any, ...]] = {}
    rows: dict[str, tuple[int, ...]] = {}
    for filename, content in files.items():
        sheet = _sheet_of(filename)
        if sheet is None:
            unknown = UnknownCsvFile(file=filename, files=[s + ".csv" for s in SHEETS])
            problems.append(Problem(None, None, None, unknown))
            continue
        if sheet in entries:
            problems.append(Problem(sheet, None, None, SecondFileForSheet(file=filename)))
            continue
        if content.count(b"\n") > budget.rows + 1:  # refused before it is parsed
            raise _whole_file(TooManyRows(limit=budget.limit))
        table = _csv_table(sheet, content, problems)
        entries[sheet], rows[sheet] = _read_rows(sheet, table, problems, budget) if table is not None else ((), ())
    return _data(entries, rows), set(entries), problems


def _csv_table(sheet: str, content: bytes, problems: list[Problem]) -> list[list[str]] | None:
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        wrong = CsvLooksLikeCp949() if looks_like_cp949(content) else CsvNotText(byte=exc.start)
        problems.append(Problem(sheet, None, None, wrong))
        return None
    first_line = text.split("\n", 1)[0]
    names = {c.name for c in _SPEC[sheet]}

    def score(delimiter: str) -> int:
        return sum(1 for f in first_line.split(delimiter) if f.strip().strip('"').strip().lower() in names)

    delimiter = max((",", ";", "\t"), key=score)  # the first of the best, so a tie means a comma
    try:
        return list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter))
    except csv.Error as exc:
        problems.append(Problem(sheet, None, None, CsvNotReadable(reason=str(exc))))
        return None


def _data(entries: dict[str, tuple[Any, ...]], rows: dict[str, tuple[int, ...]]) -> MasterData:
    return MasterData(**{SHEET_FIELDS[s]: e for s, e in entries.items()}, source_rows=rows)


# -- reading rows ---------------------------------------------------------------------------------------------
def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and value.strip() == "")


def _read_rows(
    sheet: str, table: Iterable[Sequence[Any]], problems: list[Problem], budget: _Budget
) -> tuple[tuple[Any, ...], tuple[int, ...]]:
    """The entries of one sheet and the spreadsheet row of each; problems are appended to ``problems``."""
    spec = _SPEC[sheet]
    expected = ", ".join(c.name for c in spec)
    table_rows = iter(table)
    header = next(table_rows, None)
    if header is None or all(_blank(v) for v in header):
        problems.append(Problem(sheet, 1, None, HeaderMissing(columns=expected)))
        return (), ()
    known = {c.name for c in spec}
    positions: dict[str, int] = {}
    headed: set[int] = set()
    for index, value in enumerate(header):
        name = _text(value)
        if not name:
            continue
        headed.add(index)
        if name.lower() not in known:
            problems.append(Problem(sheet, 1, name, ColumnUnknown(column=repr(name), columns=expected)))
        elif name.lower() in positions:
            problems.append(Problem(sheet, 1, name.lower(), ColumnTwice()))
        else:
            positions[name.lower()] = index
    missing = [c.name for c in spec if c.required and c.name not in positions]
    for name in missing:
        problems.append(Problem(sheet, 1, name, ColumnMissing()))
    if missing:
        return (), ()
    entries: list[Any] = []
    rows: list[int] = []
    reported_unnamed: set[int] = set()
    for row, cells in enumerate(table_rows, start=2):
        budget.take_row()
        if all(_blank(v) for v in cells):
            continue
        for index, value in enumerate(cells):
            if index not in headed and index not in reported_unnamed and not _blank(value):
                reported_unnamed.add(index)
                problems.append(Problem(sheet, row, None, ValueWithoutHeader(column=get_column_letter(index + 1))))
        values: dict[str, Any] = {}
        for column in spec:
            index = positions.get(column.name)
            cell = cells[index] if index is not None and index < len(cells) else None
            if isinstance(cell, UncachedFormula):
                refusal = FormulaWithoutValue(cell=cell.cell, formula=cell.formula)
                problems.append(Problem(sheet, row, column.name, refusal))
                cell = cell.formula
            values[column.name] = _convert(cell, column)
        entries.append(_build(sheet, values))
        rows.append(row)
    return tuple(entries), tuple(rows)


def _text(value: Any) -> str:
    """A cell as trimmed text; a whole number without its '.0'."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() and abs(value) < 1e15 else repr(value)
    if isinstance(value, (datetime, date, time)):
        return value.isoformat()
    return str(value).strip()


def _convert(raw: Any, column: _Column) -> Any:
    """The value of one cell for ``column``.  A blank cell gives the column's default ('' for required text, so
    that the master-data check reports it); a cell that does not convert is kept as its text, which the check
    reports with the sheet, row and column."""
    if _blank(raw):
        if column.kind == "text" and column.required:
            return ""
        return column.default
    if column.kind == "text" or isinstance(raw, bool) or not isinstance(raw, (int, float, str)):
        return _text(raw)
    if isinstance(raw, str):
        text = raw.strip()
        if column.kind == "int" and whole_number(text) is not None:
            return whole_number(text)
        number = decimal_number(text)  # ASCII digits only: not "١٢٣", "1_000", "inf" or "1,5"
        if number is None:
            return text
        raw = number
    if isinstance(raw, float) and not math.isfinite(raw) or abs(raw) >= 10**MAX_DIGITS:
        return _text(raw)  # kept as text, so that the check reports it
    if column.kind == "float":
        try:
            return float(raw)
        except OverflowError:
            return _text(raw)
    if isinstance(raw, float) and raw.is_integer():
        return int(raw)
    return raw
