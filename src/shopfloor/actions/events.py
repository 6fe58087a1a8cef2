"""Machine events typed by a person or sent by a program: over the API (a batch, checked whole) and from a CSV
file.  Each event is stored once (identified by its content), the hourly rollups are brought up to date and the
counts are attributed to the work order then in progress on their machine.  Live events: the machines changed.
"""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine

from shopfloor.actions.core import change
from shopfloor.errors import (
    DomainError,
    EventInFuture,
    EventMachineUnknown,
    EventProductUnknown,
    EventQuantityMissing,
    EventsFileProblem,
    EventsFileRefused,
    EventsRefused,
    EventStateMissing,
    EventTimeImplausible,
    FileTooLarge,
)
from shopfloor.ingest.csv_events import MAX_FUTURE, CsvImportError, parse_events_csv
from shopfloor.model.events import CountEvent, CountKind, MachineEvent, MachineState, StateChange
from shopfloor.model.inputs import plausible_time
from shopfloor.model.plant import Plant
from shopfloor.store import rollups, work_orders
from shopfloor.store.events import append_events
from shopfloor.store.plant import current_plant

MAX_FILE_BYTES = 512 * 1024 * 1024


def store_events(conn: Connection, plant: Plant, events: list[MachineEvent]) -> dict[str, int]:
    """Store events (each once) in the caller's transaction and bring the rollups up to date; counts are
    attributed to the work order that was in progress on their machine."""
    result = append_events(conn, work_orders.attribute(conn, events))
    hours = rollups.bring_up_to_date(conn, plant, result.earliest)
    return {"inserted": result.inserted, "duplicates_skipped": result.duplicates, "rollup_hours": hours}


def record_events(engine: Engine, actor: str, events: list[dict[str, Any]], source: str) -> dict[str, int]:
    """Events given as dicts (``ts``, ``machine``, ``event`` state/good/scrap/rework, ``state``, ``quantity``,
    ``product``, ``reason``): all stored, or none with every problem named by its index."""
    with change(engine, actor) as c:
        plant = c.plant()
        parsed = _checked(plant, events, source)
        summary = store_events(c.conn, plant, parsed)
        c.audit("events.record", f"api:{len(parsed)} events", summary)
        c.publish("machine", *(e.machine for e in parsed))
        return summary


def _checked(plant: Plant, events: list[dict[str, Any]], source: str) -> list[MachineEvent]:
    known = {m.code for m in plant.machines}
    products = {p.code for p in plant.products}
    problems: list[DomainError] = []
    parsed: list[MachineEvent] = []
    now = datetime.now(timezone.utc)
    for i, e in enumerate(events):
        where = f"[{i}]"
        if e["machine"] not in known:
            problems.append(EventMachineUnknown(where=where, machine=e["machine"]))
        if plausible_time(e["ts"]) is None:
            problems.append(EventTimeImplausible(where=where, ts=e["ts"].isoformat()))
            continue
        if (e["ts"] - now).total_seconds() > MAX_FUTURE.total_seconds():
            problems.append(EventInFuture(where=where, ts=e["ts"].isoformat()))
        if e["event"] == "state":
            if e.get("state") is None:
                problems.append(EventStateMissing(where=where))
                continue
            parsed.append(StateChange(e["ts"], e["machine"], MachineState(e["state"]), e.get("reason"), source))
        else:
            if e.get("quantity") is None:
                problems.append(EventQuantityMissing(where=where))
                continue
            product = e.get("product")
            if product is not None and product not in products:
                problems.append(EventProductUnknown(where=where, product=product))
            kind = CountKind(e["event"])
            parsed.append(CountEvent(e["ts"], e["machine"], kind, e["quantity"], product, e.get("reason"), source))
    if problems:
        raise EventsRefused(problems)
    return parsed


def import_events(engine: Engine, actor: str, path: Path) -> dict[str, Any]:
    """A CSV file of machine events (``ts,machine,event,value,product,reason``): all rows or none; rows already
    stored are skipped."""
    if path.stat().st_size > MAX_FILE_BYTES:
        raise FileTooLarge(file=str(path), limit_mib=MAX_FILE_BYTES // 2**20)
    data = path.read_bytes()
    with engine.connect() as conn:
        plant = current_plant(conn)
    try:  # read before the write transaction begins: nobody waits while the file is parsed
        parsed = parse_events_csv(data, plant, source=f"csv:{path.name}")
    except CsvImportError as exc:
        raise EventsFileRefused([EventsFileProblem(problem=p) for p in exc.errors], rows=exc.total_rows) from None
    with change(engine, actor) as c:
        plant = c.plant()
        summary = store_events(c.conn, plant, parsed.events)
        # Rows repeating an earlier row of the file are one event: counted apart from those stored before.
        summary["duplicates_skipped"] -= parsed.collapsed
        c.audit("events.import", f"file:{path.name}", summary)
        c.publish("machine", *(e.machine for e in parsed.events))
    return {"file": str(path), "rows": parsed.rows, "collapsed_rows": parsed.collapsed, **summary}
