"""Reading machine events from a CSV file (``shopfloor import events``), with every bad row reported.

Columns: ``ts,machine,event,value,product,reason`` (``product`` and ``reason`` may be left out).
``ts`` is ISO 8601 with a UTC offset; ``event`` is state, good, scrap or rework; for ``state`` the value is a
state name (running, idle, setup, down, planned_stop, no_order), for counts a whole number of units.
A file with any bad row is refused whole, with the line number and reason of each bad row.  The reader is
strict: a double quote that opens a field and is never closed (which would swallow the following lines into
one field) is refused with the line it starts on, and so is any field that runs over several lines.

A row is one event identified by its content: a row that repeats an earlier row of the file is the same event,
stored once, and ``ParsedEvents.collapsed`` says how many rows were so collapsed.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from shopfloor.errors import CsvLooksLikeCp949
from shopfloor.model.events import (
    CountEvent,
    CountKind,
    EventKind,
    MachineEvent,
    MachineState,
    StateChange,
    event_key,
)
from shopfloor.model.inputs import looks_like_cp949, plausible_time, whole_number
from shopfloor.model.plant import Plant

REQUIRED = ("ts", "machine", "event", "value")
OPTIONAL = ("product", "reason")
# A reading stamped further ahead than this is a clock error on the source, not an event.
MAX_FUTURE = timedelta(minutes=5)
MAX_ERRORS_SHOWN = 50


class CsvImportError(ValueError):
    def __init__(self, errors: list[str], total_rows: int):
        self.errors = errors
        self.total_rows = total_rows
        shown = errors[:MAX_ERRORS_SHOWN]
        more = f"\n  ... and {len(errors) - len(shown)} more" if len(errors) > len(shown) else ""
        super().__init__(
            f"file refused, nothing imported: {len(errors)} problem(s) in {total_rows} row(s)\n"
            + "\n".join(f"  {e}" for e in shown)
            + more
        )


@dataclass
class ParsedEvents:
    events: list[MachineEvent] = field(default_factory=list)
    rows: int = 0
    collapsed: int = 0  # rows equal to an earlier row of the file: the same event, stored once


def parse_events_csv(data: bytes | str, plant: Plant, source: str, now: datetime | None = None) -> ParsedEvents:
    """Parse and validate a whole file; raises CsvImportError listing every bad row."""
    now = now or datetime.now(timezone.utc)
    if isinstance(data, bytes):
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            if looks_like_cp949(data):
                raise CsvImportError([CsvLooksLikeCp949().message], 0) from None
            raise CsvImportError([f"the file is not UTF-8 text (byte {exc.start})"], 0) from None
    else:
        text = data.lstrip("\ufeff")
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header = next(reader)
    except StopIteration:
        raise CsvImportError(
            ["the file is empty: expected a header ts,machine,event,value,product,reason"], 0
        ) from None
    except csv.Error as exc:
        raise CsvImportError([f"line 1: {exc}"], 0) from None
    columns = [h.strip().lower() for h in header]
    errors: list[str] = []
    missing = [c for c in REQUIRED if c not in columns]
    unknown = [c for c in columns if c not in REQUIRED + OPTIONAL]
    duplicated = sorted({c for c in columns if columns.count(c) > 1})
    if missing:
        errors.append(f"line 1: missing column(s) {', '.join(missing)}")
    if unknown:
        errors.append(
            f"line 1: unknown column(s) {', '.join(repr(c) for c in unknown)}; expected {','.join(REQUIRED + OPTIONAL)}"
        )
    if duplicated:
        errors.append(f"line 1: column(s) {', '.join(duplicated)} appear more than once")
    if errors:
        raise CsvImportError(errors, 0)
    index = {c: i for i, c in enumerate(columns)}
    machines = {m.code for m in plant.machines}
    products = {p.code for p in plant.products}
    out = ParsedEvents()
    line_no = 1
    try:
        for row in reader:
            first_line, line_no = line_no + 1, reader.line_num
            if line_no > first_line:
                # Only a quoted field can hold a line break, and no column of this file has one: an opening quote
                # left unclosed has taken the following lines into this row.
                errors.append(
                    f"line {first_line}: a double quote opens a field that runs on to line {line_no}; "
                    "close the quote or remove it"
                )
                out.rows += 1
                continue
            if not row or all(not c.strip() for c in row):
                continue
            out.rows += 1
            if len(row) != len(columns):
                errors.append(f"line {line_no}: {len(row)} field(s), expected {len(columns)}")
                continue
            cell = {c: row[i].strip() for c, i in index.items()}
            event = _parse_row(cell, line_no, machines, products, source, now, errors)
            if event is not None:
                out.events.append(event)
    except csv.Error as exc:
        first_line = line_no + 1
        if reader.line_num > first_line:
            errors.append(
                f"line {first_line}: a double quote opens a field that runs on to line {reader.line_num}; "
                "close the quote or remove it"
            )
        else:
            errors.append(f"line {first_line}: {_csv_problem(exc)}")
    if errors:
        raise CsvImportError(errors, out.rows)
    out.collapsed = len(out.events) - len({event_key(e) for e in out.events})
    return out


def _csv_problem(exc: csv.Error) -> str:
    text = str(exc)
    if "unexpected end of data" in text:
        return "a double quote opens a field that is never closed (the rest of the file would be one field)"
    if "expected after" in text:
        return 'text after the closing double quote of a field; a quote inside a field is written twice ("")'
    return text


def _parse_row(
    cell: dict[str, str],
    line: int,
    machines: set[str],
    products: set[str],
    source: str,
    now: datetime,
    errors: list[str],
) -> MachineEvent | None:
    before = len(errors)
    ts = None
    try:
        ts = datetime.fromisoformat(cell["ts"])
        if ts.tzinfo is None:
            errors.append(f"line {line}: ts {cell['ts']!r} has no UTC offset (write e.g. 2026-03-02T06:00:00+09:00)")
            ts = None
        elif plausible_time(ts) is None:
            errors.append(f"line {line}: ts {cell['ts']!r} is not a plausible time (between 1970 and 2999)")
            ts = None
        else:
            ts = ts.astimezone(timezone.utc)
            if ts > now + MAX_FUTURE:
                errors.append(f"line {line}: ts {cell['ts']} is in the future (clock error on the source?)")
    except ValueError:
        errors.append(f"line {line}: ts {cell['ts']!r} is not an ISO 8601 date-time")
    machine = cell["machine"]
    if machine not in machines:
        errors.append(f"line {line}: unknown machine {machine!r}")
    kind_text = cell["event"].lower()
    try:
        kind = EventKind(kind_text)
    except ValueError:
        errors.append(f"line {line}: event {cell['event']!r} must be one of state, good, scrap, rework")
        return None
    product = cell.get("product") or None
    reason = cell.get("reason") or None
    value = cell["value"]
    if kind is EventKind.STATE:
        try:
            state = MachineState(value.lower())
        except ValueError:
            errors.append(f"line {line}: state {value!r} must be one of {', '.join(s.value for s in MachineState)}")
            return None
        if product:
            errors.append(f"line {line}: product is given for a state event; products belong to count events")
        if len(errors) > before or ts is None:
            return None
        return StateChange(ts=ts, machine=machine, state=state, reason=reason, source=source)
    quantity = whole_number(value)
    if quantity is None:
        errors.append(
            f"line {line}: {kind.value} quantity {value!r} is not a whole number (digits 0-9 only, at most 15)"
        )
        return None
    if quantity < 0:
        errors.append(f"line {line}: {kind.value} quantity {quantity} is negative; a correction is a new event")
    if product is not None and product not in products:
        errors.append(f"line {line}: unknown product {product!r}")
    if len(errors) > before or ts is None:
        return None
    return CountEvent(
        ts=ts,
        machine=machine,
        kind=CountKind(kind.value),
        quantity=quantity,
        product=product,
        reason=reason,
        source=source,
    )
