"""Importing the plant and machine events: validate, write in one transaction, keep rollups current, audit."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import Connection, Engine

from shopfloor.ingest.csv_events import parse_events_csv
from shopfloor.model.events import MachineEvent
from shopfloor.model.plant import Plant, PlantError
from shopfloor.store import audit, rollups, work_orders
from shopfloor.store.events import append_events
from shopfloor.store.plant import load_plant, save_plant

MAX_FILE_BYTES = 512 * 1024 * 1024


def read_plant_file(path: Path) -> Plant:
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise PlantError([f"{path}: not UTF-8 text"]) from None
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise PlantError([f"{path}: not valid YAML: {exc}"]) from None
    return Plant.from_dict(doc)


def import_plant(engine: Engine, path: Path, actor: str) -> dict[str, Any]:
    plant = read_plant_file(path)
    with engine.begin() as conn:
        summary = save_plant(conn, plant, actor)
        rollups.refresh(conn, load_plant(conn, plant.site.code))
    return summary


def record_events(
    conn: Connection, plant: Plant, events: list[MachineEvent], actor: str, action: str, target: str
) -> dict[str, Any]:
    """Store events (each once), bring the rollups up to date and audit who did it, in the caller's transaction.
    Counts are attributed to the work order that was in progress on their machine."""
    result = append_events(conn, work_orders.attribute(conn, events))
    rollups.invalidate(conn, result.earliest)
    hours = rollups.refresh(conn, plant, sorted(result.earliest))
    summary = {"inserted": result.inserted, "duplicates_skipped": result.duplicates, "rollup_hours": hours}
    audit.record(conn, actor, action, target, summary)
    return summary


def import_events(engine: Engine, path: Path, actor: str, site: str | None = None) -> dict[str, Any]:
    """Import a CSV of machine events: all rows or none; rows already stored are skipped."""
    if path.stat().st_size > MAX_FILE_BYTES:
        raise ValueError(f"{path}: larger than {MAX_FILE_BYTES // 2**20} MiB; split the file")
    data = path.read_bytes()
    with engine.begin() as conn:
        plant = load_plant(conn, site)
        parsed = parse_events_csv(data, plant, source=f"csv:{path.name}")
        summary = record_events(conn, plant, parsed.events, actor, "events.import", f"file:{path.name}")
    # Rows repeating an earlier row of the file are one event: counted apart from those stored before.
    summary["duplicates_skipped"] -= parsed.collapsed
    return {"file": str(path), "rows": parsed.rows, "collapsed_rows": parsed.collapsed, **summary}
