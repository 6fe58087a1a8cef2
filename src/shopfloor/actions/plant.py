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
from shopfloor.errors import (
    FileNotText,
    FileNotYaml,
    MediaTypeUnsupported,
    PayloadTooLarge,
    PlantFileProblem,
    PlantFileRefused,
    PlantNotImported,
)
from shopfloor.model import plant_edit
from shopfloor.model.plant import Plant, PlantError
from shopfloor.store import rollups
from shopfloor.store.first_run import has_plant
from shopfloor.store.locks import lock_name
from shopfloor.store.plant import load_plant, save_photo, save_plant


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


def checked_plant(doc: Any) -> Plant:
    """A plant document built by a page, checked by the same reader as the YAML import."""
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


def edit_plant(
    engine: Engine,
    actor: str,
    kind: str,
    key: str,
    values: dict[str, Any] | None = None,
    *,
    new: bool = False,
) -> dict[str, Any]:
    """One change of the plant from its pages: save (``values``) or remove (None) an area, line, machine,
    product, shift, holiday, extra shift or connector named ``key``.  The changed document is checked by the
    YAML import's reader and saved as an import is (rollups rebuilt); returns the plant document."""
    with change(engine, actor) as c:
        site = has_plant(c.conn)
        if site is None:
            raise PlantNotImported()
        lock_name(c.conn, "site", site)  # read, change and save the document as one step
        doc = plant_edit.edit(load_plant(c.conn, site).to_dict(), kind, key, values, new=new)
        doc["site"]["code"] = site
        plant = checked_plant(doc)
        save_plant(c.conn, plant, actor)
        stored = load_plant(c.conn, site)
        rollups.refresh(c.conn, stored)
        c.audit(f"plant.{kind}.{'remove' if values is None else 'save'}", f"{kind}:{key}", {"values": values})
        c.publish("plant", site)
        c.publish("machine", *(m.code for m in stored.machines))
    return plant.to_dict()


PHOTO_TYPES = {b"\x89PNG\r\n\x1a\n": "image/png", b"\xff\xd8\xff": "image/jpeg", b"RIFF": "image/webp"}
MAX_PHOTO_BYTES = 2 * 2**20


def set_machine_photo(engine: Engine, actor: str, machine: str, content: bytes) -> dict[str, Any]:
    """A machine's photo (PNG, JPEG or WebP, at most 2 MiB; the type is read from the content, not the name)."""
    if len(content) > MAX_PHOTO_BYTES:
        raise PayloadTooLarge(limit=f"{MAX_PHOTO_BYTES // 2**20} MiB")
    content_type = next((t for magic, t in PHOTO_TYPES.items() if content.startswith(magic)), None)
    if content_type == "image/webp" and content[8:12] != b"WEBP":
        content_type = None
    if content_type is None:
        raise MediaTypeUnsupported(expected="a PNG, JPEG or WebP picture")
    with change(engine, actor) as c:
        save_photo(c.conn, machine, content_type, content, actor)
        c.audit("plant.machine.photo", f"machine:{machine}", {"bytes": len(content), "type": content_type})
        c.publish("machine", machine)
    return {"machine": machine, "content_type": content_type, "bytes": len(content)}
