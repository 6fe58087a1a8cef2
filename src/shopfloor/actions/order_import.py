"""Work orders from a file as an ERP exports it (Excel .xlsx or CSV, in UTF-8 or the Korean code page CP949):
read and checked row by row for a preview, then created all together or not at all.

Columns are recognised by their usual headers in English, Korean and Vietnamese (``작업지시번호``, ``품목코드``,
``수량``, ``납기일``...); each problem names its row (counting the header as row 1) and its column.
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
from datetime import date, datetime, time
from typing import Any

from sqlalchemy import Connection, Engine, select

from shopfloor.actions.core import change
from shopfloor.errors import (
    AppearsTwice,
    ColumnMissing,
    DomainError,
    FormulaWithoutValue,
    MachineUnknown,
    NotWholeNumber,
    OrderDateInvalid,
    OrderFileEmpty,
    OrderFileUnreadable,
    Problems,
    ProductUnknown,
    ValueRequired,
    WorkOrderExists,
    WorkOrderQuantity,
    WorkOrdersRefused,
)
from shopfloor.model.master import Problem
from shopfloor.model.plant import Plant
from shopfloor.reports.workbook import UncachedFormula, uploaded_sheets
from shopfloor.store import work_orders as store
from shopfloor.store.plant import current_plant
from shopfloor.store.schema import items, work_orders

SHEET = "work_orders"
MAX_ROWS = 5000
ALIASES = {
    "code": ("code", "order", "orderno", "ordernumber", "workorder", "workorderno", "wo", "wono", "productionorder",
             "작업지시", "작업지시번호", "지시번호", "오더번호", "lệnhsảnxuất", "sốlệnh", "malenh"),
    "product": ("product", "item", "itemcode", "material", "materialno", "part", "partno", "품목", "품번", "품목코드",
                "제품", "제품코드", "sảnphẩm", "mãhàng"),
    "quantity": ("quantity", "qty", "orderqty", "plannedqty", "수량", "지시수량", "계획수량", "sốlượng"),
    "due": ("due", "duedate", "finish", "enddate", "납기", "납기일", "완료예정일", "hạn", "hạnchót", "ngàygiao"),
    "machine": ("machine", "resource", "workcentre", "workcenter", "설비", "설비코드", "máy"),
    "priority": ("priority", "우선순위", "ưutiên"),
}  # fmt: skip
REQUIRED = ("code", "product", "quantity")


def _key(header: Any) -> str:
    return re.sub(r"[\s_.\-/()#]", "", str(header or "")).lower()


LOOKUP = {alias: column for column, aliases in ALIASES.items() for alias in aliases}


def read_table(content: bytes, filename: str) -> list[list[Any]]:
    """The rows of the file (the first sheet of a workbook), the header first."""
    try:
        if filename.lower().endswith((".xlsx", ".xlsm")) or content[:2] == b"PK":
            with uploaded_sheets(content) as sheets:
                return [list(r) for r in sheets[0].rows(max_row=MAX_ROWS + 1)]
        for encoding in ("utf-8-sig", "cp949"):
            try:
                text = content.decode(encoding)
                break
            except UnicodeDecodeError:
                continue
        else:
            raise OrderFileUnreadable(file=filename, reason="neither UTF-8 nor CP949 text")
        first = text.split("\n", 1)[0]
        delimiter = max((",", ";", "\t"), key=first.count)
        return [row for row in csv.reader(io.StringIO(text), delimiter=delimiter)][: MAX_ROWS + 1]
    except (zipfile.BadZipFile, KeyError, IndexError, OSError, ValueError, csv.Error) as exc:
        raise OrderFileUnreadable(file=filename, reason=type(exc).__name__) from None


def _text(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip() if value is not None else ""


def _whole(value: Any) -> int:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if float(value).is_integer():
            return int(value)
        raise NotWholeNumber(value=value)
    text = _text(value).replace(",", "").replace(" ", "")
    try:
        number = float(text)
    except ValueError:
        raise NotWholeNumber(value=_text(value)) from None
    if not number.is_integer():
        raise NotWholeNumber(value=_text(value))
    return int(number)


DATE_FORMATS = ("%Y-%m-%d", "%Y.%m.%d", "%Y/%m/%d", "%Y%m%d", "%m/%d/%Y", "%d.%m.%Y", "%Y-%m-%d %H:%M", "%Y.%m.%d.")


def _due(value: Any, plant: Plant) -> datetime:
    """A due date: the end of that day at the plant (an ERP's due date is a day)."""
    if isinstance(value, datetime):
        day = value.date()
    elif isinstance(value, date):
        day = value
    else:
        text = _text(value)
        for fmt in DATE_FORMATS:
            try:
                day = datetime.strptime(text, fmt).date()
                break
            except ValueError:
                continue
        else:
            raise OrderDateInvalid(value=text)
    return datetime.combine(day, time(23, 59), tzinfo=plant.site.tz)


def parse_orders(content: bytes, filename: str, plant: Plant) -> tuple[list[dict[str, Any]], list[Problem]]:
    """The orders of the file and the problems of their values (the store is not asked yet)."""
    table = [r for r in read_table(content, filename) if any(_text(v) for v in r)]
    if not table:
        raise OrderFileEmpty(file=filename)
    header = {}
    for i, h in enumerate(table[0]):
        column = LOOKUP.get(_key(h))
        if column is not None and column not in header:
            header[column] = i
    problems = [Problem(SHEET, 1, column, ColumnMissing()) for column in REQUIRED if column not in header]
    if problems:
        return [], problems
    orders: list[dict[str, Any]] = []
    seen: dict[str, int] = {}
    for n, raw in enumerate(table[1:], start=2):
        order: dict[str, Any] = {"row": n}
        for column in ("code", "product", "quantity", "due", "machine", "priority"):
            value = raw[header[column]] if column in header and header[column] < len(raw) else None
            if isinstance(value, UncachedFormula):
                problems.append(Problem(SHEET, n, column, FormulaWithoutValue(cell=value.cell, formula=value.formula)))
                continue
            if _text(value) == "":
                if column in REQUIRED:
                    problems.append(Problem(SHEET, n, column, ValueRequired()))
                continue
            try:
                if column == "quantity":
                    order[column] = _whole(value)
                    if order[column] < 1:
                        raise WorkOrderQuantity(quantity=order[column])
                elif column == "priority":
                    order[column] = _whole(value)
                    if (problem := store.priority_problem(order[column])) is not None:
                        raise problem
                elif column == "due":
                    order[column] = _due(value, plant)
                    if (problem := store.due_problem(order[column])) is not None:
                        raise problem
                else:
                    order[column] = _text(value)
            except DomainError as exc:
                problems.append(Problem(SHEET, n, column, exc))
        if "code" in order:
            if order["code"] in seen:
                problems.append(Problem(SHEET, n, "code", AppearsTwice(value=order["code"], row=seen[order["code"]])))
            seen.setdefault(order["code"], n)
        orders.append(order)
    if not orders:
        raise OrderFileEmpty(file=filename)
    return orders, problems


def check_orders(conn: Connection, plant: Plant, orders: list[dict[str, Any]]) -> list[Problem]:
    """What the store says of the orders: products and machines unknown, order codes taken."""
    products = {p.code for p in plant.products} | set(conn.execute(select(items.c.code)).scalars())
    machines = {m.code for m in plant.machines}
    codes = [o["code"] for o in orders if "code" in o]
    taken = (
        set(conn.execute(select(work_orders.c.code).where(work_orders.c.code.in_(codes))).scalars()) if codes else set()
    )
    problems = []
    for o in orders:
        if o.get("code") in taken:
            problems.append(Problem(SHEET, o["row"], "code", WorkOrderExists(work_order=o["code"])))
        if "product" in o and o["product"] not in products:
            problems.append(Problem(SHEET, o["row"], "product", ProductUnknown(product=o["product"])))
        if "machine" in o and o["machine"] not in machines:
            problems.append(Problem(SHEET, o["row"], "machine", MachineUnknown(machine=o["machine"])))
    return problems


def _ordered(problems: list[Problem]) -> list[Problem]:
    return sorted(problems, key=lambda p: (p.row or 0, list(ALIASES).index(p.column) if p.column in ALIASES else 9))


def preview_orders(engine: Engine, content: bytes, filename: str) -> dict[str, Any]:
    """The orders of a file and every problem, row by row, without creating anything."""
    with engine.connect() as conn:
        plant = current_plant(conn)
        orders, problems = parse_orders(content, filename, plant)
        problems += check_orders(conn, plant, orders)
    return {"orders": orders, "problems": _ordered(problems)}


def import_orders(engine: Engine, actor: str, content: bytes, filename: str) -> dict[str, Any]:
    """Create every order of the file, planned, in one change; with any problem none is created."""
    with change(engine, actor) as c:
        plant = c.plant()
        orders, problems = parse_orders(content, filename, plant)
        problems += check_orders(c.conn, plant, orders)
        if problems:
            raise WorkOrdersRefused(_ordered(problems))
        for o in orders:
            try:
                store.create(c.conn, plant, o["code"], o["product"], o["quantity"], actor, o.get("machine"),
                             o.get("priority", 0), o.get("due"))  # fmt: skip
            except Problems as exc:  # a code taken since the check: the same refusal, with its row
                raise WorkOrdersRefused([Problem(SHEET, o["row"], None, p) for p in exc.problems]) from None
            except DomainError as exc:
                raise WorkOrdersRefused([Problem(SHEET, o["row"], None, exc)]) from None
        c.audit("work_order.import", f"file:{filename}", {"orders": [o["code"] for o in orders]})
        c.publish("work_order", *(o["code"] for o in orders))
        c.publish("machine", *(o.get("machine") for o in orders))
    return {"file": filename, "created": len(orders), "orders": [o["code"] for o in orders]}
