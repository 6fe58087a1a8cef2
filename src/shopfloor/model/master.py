"""Master data: items, bills of materials, routings, suppliers, customers, locations and the plant's downtime
reason and defect codes, with their validation and a multi-level BOM explosion.

Plain dataclasses and rules only; no I/O.  ``MasterData.problems`` reports every problem it finds with the
sheet, spreadsheet row and column it would have in the master-data workbook (see
``shopfloor.actions.master_data``), so that a problem found in an imported file points at the cell to fix.

BOM explosion and the scrap allowance
-------------------------------------
``BomLine.scrap_pct`` is a *scrap factor* in the sense of the APICS Dictionary (ASCM): an allowance for the
expected loss of a component in making its parent, which increases the component's gross requirement.  It
belongs to one parent-component usage (a bill line), unlike a shrinkage factor, which belongs to the item.
This module applies it by multiplication, as the store's schema defines it::

    gross requirement of a component = gross quantity of its parent x quantity per x (1 + scrap_pct / 100)

and recurses through sub-assemblies, so the allowance of a sub-assembly also raises the requirement of
everything below it.  Some systems divide by the yield instead (``quantity / (1 - loss)``); to plan for a loss of
``L`` percent of what is issued, enter ``scrap_pct = 100 * L / (100 - L)`` (a loss of 20 % is an allowance of 25 %).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, fields
from typing import Any

from shopfloor.errors import (
    AppearsTwice,
    AtLeast,
    AtMost,
    BomCycle,
    ComponentOfItself,
    ControlCharacter,
    CountryCode,
    DomainError,
    EmptyText,
    ExpectedText,
    GreaterThan,
    LessThan,
    MasterItemUnknown,
    NotANumber,
    NotFinite,
    NotOneOf,
    NotWholeNumber,
    NumberTooLarge,
    QuantityInvalid,
    ReasonCodeForm,
    SurroundingSpaces,
    TextTooLong,
    Translation,
    ValueRequired,
    WorkCentreUnknown,
)
from shopfloor.model.reasons import REASON_CODE

ITEM_KINDS = ("raw", "component", "wip", "finished", "consumable")
LOCATION_KINDS = ("store", "line", "wip", "shipping", "quarantine")

CODE_MAX = 64
NAME_MAX = 200
UNIT_MAX = 16
KIND_MAX = 16
TEXT_MAX = 32_767  # the most characters an Excel cell holds
SEQ_MAX = 2**31 - 1
COUNTRY_PATTERN = re.compile(r"^[A-Z]{2}$")

# Characters that cannot be kept in a workbook or a CSV file unchanged: C0 controls except tab and line feed
# (a carriage return becomes a line feed in a workbook), DEL and the XML non-characters.
_BAD_TEXT = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\ufffe\uffff]")
_BAD_CODE = re.compile(r"[\x00-\x1f\x7f\ufffe\uffff]")

# Sheet (and CSV file) names with their columns, in file order.
COLUMNS: dict[str, tuple[str, ...]] = {
    "items": ("code", "name", "kind", "unit", "description"),
    "bom": ("parent", "component", "quantity", "scrap_pct"),
    "routings": ("item", "seq", "operation", "name", "work_centre", "ideal_cycle_s", "setup_s"),
    "suppliers": ("code", "name", "country", "contact"),
    "customers": ("code", "name", "country", "contact"),
    "locations": ("code", "name", "kind"),
    "defect_codes": ("code",),
    "downtime_reasons": ("code",),
}
SHEETS = tuple(COLUMNS)

# The ``MasterData`` field each sheet fills.
SHEET_FIELDS: dict[str, str] = {
    "items": "items",
    "bom": "bom_lines",
    "routings": "operations",
    "suppliers": "suppliers",
    "customers": "customers",
    "locations": "locations",
    "defect_codes": "defect_codes",
    "downtime_reasons": "downtime_reasons",
}


@dataclass(frozen=True)
class Problem:
    """One problem in master data: the error, and where it is.  ``row`` is the 1-based spreadsheet row counting
    the header (the first data row is 2) and ``column`` the header name; both are None for a problem of a whole
    sheet or file, and ``sheet`` is None for a problem of the whole file."""

    sheet: str | None
    row: int | None
    column: str | None
    error: DomainError

    @property
    def message(self) -> str:
        return str(self.error)

    def _place(self) -> str:
        where = ", ".join(
            part
            for part in (
                f"row {self.row}" if self.row is not None else None,
                f"column {self.column}" if self.column is not None else None,
            )
            if part
        )
        return ": ".join(p for p in (self.sheet, where) if p)

    def __str__(self) -> str:
        return f"{self._place()}: {self.message}" if self._place() else self.message

    def translated(self, translation: Translation) -> str:
        """The message in a language (its place is in ``sheet``, ``row`` and ``column``)."""
        return self.error.translated(translation)

    def to_dict(self) -> dict[str, Any]:
        return {"sheet": self.sheet, "row": self.row, "column": self.column, **self.error.to_dict()}


@dataclass(frozen=True)
class Item:
    """Something made, bought or kept: a raw material, component, work in progress, finished good or consumable."""

    code: str
    name: str
    kind: str
    unit: str
    description: str | None = None


@dataclass(frozen=True)
class BomLine:
    """``quantity`` of ``component`` goes into one unit of ``parent``, plus a scrap allowance in percent."""

    parent: str
    component: str
    quantity: float
    scrap_pct: float = 0.0


@dataclass(frozen=True)
class Operation:
    """One step of an item's routing, done at a work centre (a machine or line of the plant), in ``seq`` order."""

    item: str
    seq: int
    code: str
    name: str
    work_centre: str
    ideal_cycle_s: float
    setup_s: float = 0.0


@dataclass(frozen=True)
class Partner:
    """A supplier or a customer.  ``country`` is an ISO 3166-1 alpha-2 code (KR, VN, ...)."""

    code: str
    name: str
    country: str | None = None
    contact: str | None = None


@dataclass(frozen=True)
class Location:
    """A place where material is kept: store, line, wip, shipping or quarantine."""

    code: str
    name: str
    kind: str


@dataclass(frozen=True)
class MasterData:
    """All master data together, as imported and exported in one workbook.

    ``source_rows`` maps a sheet name to the spreadsheet row of each entry of that sheet, for entries read from
    a file where blank or unreadable rows were skipped; without it entry ``i`` is taken to be on row ``i + 2``.
    It takes no part in comparisons.
    """

    items: tuple[Item, ...] = ()
    bom_lines: tuple[BomLine, ...] = ()
    operations: tuple[Operation, ...] = ()
    suppliers: tuple[Partner, ...] = ()
    customers: tuple[Partner, ...] = ()
    locations: tuple[Location, ...] = ()
    downtime_reasons: tuple[str, ...] = ()
    defect_codes: tuple[str, ...] = ()
    source_rows: Mapping[str, tuple[int, ...]] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        for f in fields(self):
            if f.name != "source_rows" and not isinstance(getattr(self, f.name), tuple):
                object.__setattr__(self, f.name, tuple(getattr(self, f.name)))

    def sheet(self, name: str) -> tuple[Any, ...]:
        """The entries of one sheet (``items``, ``bom``, ``routings``, ...)."""
        return getattr(self, SHEET_FIELDS[name])

    def counts(self) -> dict[str, int]:
        """The number of entries per sheet."""
        return {name: len(self.sheet(name)) for name in SHEETS}

    def sorted(self) -> MasterData:
        """The same data with every sheet in key order (reason and defect codes keep their order)."""
        return MasterData(
            items=tuple(sorted(self.items, key=lambda i: i.code)),
            bom_lines=tuple(sorted(self.bom_lines, key=lambda b: (b.parent, b.component))),
            operations=tuple(sorted(self.operations, key=lambda o: (o.item, o.seq))),
            suppliers=tuple(sorted(self.suppliers, key=lambda p: p.code)),
            customers=tuple(sorted(self.customers, key=lambda p: p.code)),
            locations=tuple(sorted(self.locations, key=lambda loc: loc.code)),
            downtime_reasons=self.downtime_reasons,
            defect_codes=self.defect_codes,
        )

    def problems(self, machine_and_line_codes: set[str] | None = None) -> list[Problem]:
        """Every problem of the data.  With ``machine_and_line_codes`` (the plant's machine and line codes) each
        operation's work centre must be one of them."""
        return _Checker(self, machine_and_line_codes).run()


class _Checker:
    """Collects the problems of one ``MasterData``."""

    def __init__(self, data: MasterData, plant_codes: set[str] | None) -> None:
        self.data = data
        self.plant_codes = plant_codes
        self.out: list[Problem] = []

    def run(self) -> list[Problem]:
        item_codes = self._items()
        self._bom(item_codes)
        self._operations(item_codes)
        self._partners("suppliers", self.data.suppliers)
        self._partners("customers", self.data.customers)
        self._locations()
        self._reason_codes("downtime_reasons", self.data.downtime_reasons)
        self._reason_codes("defect_codes", self.data.defect_codes)
        return self.out

    # -- helpers ---------------------------------------------------------------------------------------------
    def row(self, sheet: str, index: int) -> int:
        rows = self.data.source_rows.get(sheet)
        if rows is not None and index < len(rows):
            return rows[index]
        return index + 2

    def add(self, sheet: str, index: int | None, column: str | None, error: DomainError) -> None:
        self.out.append(Problem(sheet, None if index is None else self.row(sheet, index), column, error))

    def text(
        self,
        sheet: str,
        index: int,
        column: str,
        value: Any,
        *,
        max_len: int = NAME_MAX,
        required: bool = True,
        code: bool = False,
    ) -> str | None:
        """``value`` when it is a string (even one with a problem, so that later checks can use it), else None."""
        if value is None:
            if required:
                self.add(sheet, index, column, ValueRequired())
            return None
        if not isinstance(value, str):
            self.add(sheet, index, column, ExpectedText(type=type(value).__name__, value=repr(value)))
            return None
        if value == "":
            self.add(sheet, index, column, ValueRequired() if required else EmptyText())
            return value
        if value != value.strip():
            self.add(sheet, index, column, SurroundingSpaces(value=repr(value)))
        bad = (_BAD_CODE if code else _BAD_TEXT).search(value)
        if bad:
            self.add(sheet, index, column, ControlCharacter(value=repr(value), character=f"U+{ord(bad.group()):04X}"))
        if len(value) > max_len:
            self.add(sheet, index, column, TextTooLong(limit=max_len, length=len(value)))
        return value

    def number(
        self, sheet: str, index: int, column: str, value: Any, *, minimum: float, inclusive: bool, below: float | None
    ) -> None:
        if value is None:
            self.add(sheet, index, column, ValueRequired())
            return
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            self.add(sheet, index, column, NotANumber(value=repr(value)))
            return
        if isinstance(value, int) and abs(value) > 2**53:
            self.add(sheet, index, column, NumberTooLarge(value=str(value)))
            return
        if not math.isfinite(value):
            self.add(sheet, index, column, NotFinite(value=repr(value)))
            return
        if (value < minimum) if inclusive else (value <= minimum):
            bound = AtLeast if inclusive else GreaterThan
            self.add(sheet, index, column, bound(limit=f"{minimum:g}", value=f"{value:g}"))
        elif below is not None and value >= below:
            self.add(sheet, index, column, LessThan(limit=f"{below:g}", value=f"{value:g}"))

    def duplicate(self, sheet: str, index: int, column: str, key: Any, seen: dict[Any, int], shown: str) -> None:
        if key in seen:
            self.add(sheet, index, column, AppearsTwice(value=shown, row=self.row(sheet, seen[key])))
        else:
            seen[key] = index

    def one_of(self, sheet: str, index: int, column: str, value: str | None, allowed: tuple[str, ...]) -> None:
        if value and value not in allowed:
            self.add(sheet, index, column, NotOneOf(value=repr(value), allowed=allowed))

    # -- sheets ----------------------------------------------------------------------------------------------
    def _items(self) -> set[str]:
        seen: dict[str, int] = {}
        for i, item in enumerate(self.data.items):
            code = self.text("items", i, "code", item.code, max_len=CODE_MAX, code=True)
            if code:
                self.duplicate("items", i, "code", code, seen, repr(code))
            self.text("items", i, "name", item.name)
            kind = self.text("items", i, "kind", item.kind, max_len=KIND_MAX, code=True)
            self.one_of("items", i, "kind", kind, ITEM_KINDS)
            self.text("items", i, "unit", item.unit, max_len=UNIT_MAX, code=True)
            self.text("items", i, "description", item.description, max_len=TEXT_MAX, required=False)
        return set(seen)

    def _bom(self, item_codes: set[str]) -> None:
        seen: dict[tuple[str, str], int] = {}
        edges: dict[str, list[tuple[str, int]]] = {}
        for i, line in enumerate(self.data.bom_lines):
            parent = self.text("bom", i, "parent", line.parent, max_len=CODE_MAX, code=True)
            component = self.text("bom", i, "component", line.component, max_len=CODE_MAX, code=True)
            for column, code in (("parent", parent), ("component", component)):
                if code and code not in item_codes:
                    self.add("bom", i, column, MasterItemUnknown(item=repr(code)))
            self.number("bom", i, "quantity", line.quantity, minimum=0, inclusive=False, below=None)
            self.number("bom", i, "scrap_pct", line.scrap_pct, minimum=0, inclusive=True, below=100)
            if not parent or not component:
                continue
            if parent == component:
                self.add("bom", i, "component", ComponentOfItself(item=repr(parent)))
                continue
            key = (parent, component)
            if key in seen:
                self.duplicate("bom", i, "component", key, seen, repr(component))
                continue
            seen[key] = i
            edges.setdefault(parent, []).append((component, i))
        for path, index in _cycles(edges):
            self.add("bom", index, "component", BomCycle(path=" -> ".join(path)))

    def _operations(self, item_codes: set[str]) -> None:
        seen: dict[tuple[str, int], int] = {}
        for i, op in enumerate(self.data.operations):
            item = self.text("routings", i, "item", op.item, max_len=CODE_MAX, code=True)
            if item and item not in item_codes:
                self.add("routings", i, "item", MasterItemUnknown(item=repr(item)))
            seq = op.seq
            if seq is None:
                self.add("routings", i, "seq", ValueRequired())
            elif isinstance(seq, bool) or not isinstance(seq, int):
                self.add("routings", i, "seq", NotWholeNumber(value=repr(seq)))
            elif seq <= 0:
                self.add("routings", i, "seq", GreaterThan(limit="0", value=str(seq)))
            elif seq > SEQ_MAX:
                self.add("routings", i, "seq", AtMost(limit=str(SEQ_MAX), value=str(seq)))
            elif item:
                self.duplicate("routings", i, "seq", (item, seq), seen, str(seq))
            self.text("routings", i, "operation", op.code, max_len=CODE_MAX, code=True)
            self.text("routings", i, "name", op.name)
            centre = self.text("routings", i, "work_centre", op.work_centre, max_len=CODE_MAX, code=True)
            if centre and self.plant_codes is not None and centre not in self.plant_codes:
                self.add("routings", i, "work_centre", WorkCentreUnknown(work_centre=repr(centre)))
            self.number("routings", i, "ideal_cycle_s", op.ideal_cycle_s, minimum=0, inclusive=False, below=None)
            self.number("routings", i, "setup_s", op.setup_s, minimum=0, inclusive=True, below=None)

    def _partners(self, sheet: str, partners: tuple[Partner, ...]) -> None:
        seen: dict[str, int] = {}
        for i, p in enumerate(partners):
            code = self.text(sheet, i, "code", p.code, max_len=CODE_MAX, code=True)
            if code:
                self.duplicate(sheet, i, "code", code, seen, repr(code))
            self.text(sheet, i, "name", p.name)
            country = self.text(sheet, i, "country", p.country, max_len=CODE_MAX, required=False, code=True)
            if country and not COUNTRY_PATTERN.match(country):
                self.add(sheet, i, "country", CountryCode(value=repr(country)))
            self.text(sheet, i, "contact", p.contact, required=False)

    def _locations(self) -> None:
        seen: dict[str, int] = {}
        for i, loc in enumerate(self.data.locations):
            code = self.text("locations", i, "code", loc.code, max_len=CODE_MAX, code=True)
            if code:
                self.duplicate("locations", i, "code", code, seen, repr(code))
            self.text("locations", i, "name", loc.name)
            kind = self.text("locations", i, "kind", loc.kind, max_len=KIND_MAX, code=True)
            self.one_of("locations", i, "kind", kind, LOCATION_KINDS)

    def _reason_codes(self, sheet: str, codes: tuple[str, ...]) -> None:
        seen: dict[str, int] = {}
        for i, value in enumerate(codes):
            code = self.text(sheet, i, "code", value, max_len=CODE_MAX, code=True)
            if not code:
                continue
            if not REASON_CODE.match(code):  # letters of any script: 금형교체 is a code
                self.add(sheet, i, "code", ReasonCodeForm(value=repr(code)))
            self.duplicate(sheet, i, "code", code, seen, repr(code))


def _cycles(edges: dict[str, list[tuple[str, int]]]) -> list[tuple[list[str], int]]:
    """Cycles of the parent -> component graph found by a depth-first search: each as its path (first item
    repeated at the end) and the index of the bill line that closes it."""
    state: dict[str, int] = {}  # 1 on the current path, 2 finished
    found: list[tuple[list[str], int]] = []
    for start in edges:
        if start in state:
            continue
        path = [start]
        state[start] = 1
        stack = [iter(edges.get(start, ()))]
        while stack:
            step = next(stack[-1], None)
            if step is None:
                stack.pop()
                state[path.pop()] = 2
                continue
            component, index = step
            mark = state.get(component)
            if mark == 1:
                found.append((path[path.index(component) :] + [component], index))
            elif mark is None:
                state[component] = 1
                path.append(component)
                stack.append(iter(edges.get(component, ())))
    return found


# -- BOM explosion --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Requirement:
    """The gross quantity of ``component`` needed for ``parent`` along one path of the bill; ``level`` 1 is a
    direct component of the exploded item."""

    level: int
    parent: str
    component: str
    quantity: float


def gross_requirement(parent_quantity: float, quantity_per: float, scrap_pct: float) -> float:
    """parent quantity x quantity per x (1 + scrap_pct / 100)."""
    return parent_quantity * quantity_per * (1 + scrap_pct / 100)


def explode(bom_lines: Iterable[BomLine], item: str, quantity: float) -> list[Requirement]:
    """Multi-level explosion of ``quantity`` of ``item``: one row per path through the bill, depth first in
    bill-line order (an indented bill).  A component used by several parents has one row under each.

    Raises ``QuantityInvalid`` for a negative or non-finite quantity and ``BomCycle`` for a cycle in the bill.
    """
    if (
        isinstance(quantity, bool)
        or not isinstance(quantity, (int, float))
        or not math.isfinite(quantity)
        or quantity < 0
    ):
        raise QuantityInvalid(quantity=repr(quantity))
    children: dict[str, list[BomLine]] = {}
    for line in bom_lines:
        children.setdefault(line.parent, []).append(line)
    out: list[Requirement] = []
    # Each frame: the parent, its gross quantity, its level below the item, the path to it and its bill lines.
    stack: list[tuple[str, float, int, tuple[str, ...], Iterator[BomLine]]] = [
        (item, float(quantity), 0, (item,), iter(children.get(item, ())))
    ]
    while stack:
        parent, parent_qty, level, path, lines = stack[-1]
        line = next(lines, None)
        if line is None:
            stack.pop()
            continue
        if line.component in path:
            cycle = path[path.index(line.component) :] + (line.component,)
            raise BomCycle(path=" -> ".join(cycle))
        gross = gross_requirement(parent_qty, line.quantity, line.scrap_pct)
        out.append(Requirement(level + 1, parent, line.component, gross))
        stack.append(
            (line.component, gross, level + 1, path + (line.component,), iter(children.get(line.component, ())))
        )
    return out


def summarise(requirements: Iterable[Requirement]) -> dict[str, float]:
    """Total gross quantity per leaf component (one that is not itself exploded), in order of first appearance."""
    rows = list(requirements)
    parents = {r.parent for r in rows}
    parts: dict[str, list[float]] = {}
    for r in rows:
        if r.component not in parents:
            parts.setdefault(r.component, []).append(r.quantity)
    return {code: math.fsum(values) for code, values in parts.items()}
