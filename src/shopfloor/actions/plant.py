"""The plant: create or update it from a document (YAML or JSON, from a file or the API).  Entities are matched by
code; a machine left out is retired, its history kept; the KPI rollups are rebuilt.  Live events: ``("plant",
site)`` and every machine of the plant.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import Engine

from shopfloor.actions.core import change
from shopfloor.errors import FileNotText, FileNotYaml, PlantFileProblem, PlantFileRefused
from shopfloor.model.plant import Plant, PlantError
from shopfloor.store import rollups
from shopfloor.store.plant import load_plant, save_plant


def parse_plant_document(text: str, name: str) -> Plant:
    """A plant document (YAML, or JSON which is YAML too) checked whole: every problem is named by its place."""
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise FileNotYaml(file=name, reason=str(exc)) from None
    try:
        return Plant.from_dict(doc)
    except PlantError as exc:
        raise PlantFileRefused([_problem(p) for p in exc.problems]) from None


def _problem(text: str) -> PlantFileProblem:
    where, sep, problem = text.partition(": ")
    return PlantFileProblem(where=where, problem=problem) if sep else PlantFileProblem(where="", problem=text)


def read_plant_file(path: Path) -> Plant:
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise FileNotText(file=str(path)) from None
    return parse_plant_document(text, str(path))


def import_plant(engine: Engine, actor: str, plant: Plant) -> dict[str, Any]:
    """Create or update the plant; returns what changed (site, counts, machines retired)."""
    with change(engine, actor) as c:
        summary = save_plant(c.conn, plant, actor)
        stored = load_plant(c.conn, plant.site.code)
        rollups.refresh(c.conn, stored)
        c.audit("plant.import", f"site:{plant.site.code}", summary)
        c.publish("plant", plant.site.code)
        c.publish("machine", *(m.code for m in stored.machines))
    return summary
