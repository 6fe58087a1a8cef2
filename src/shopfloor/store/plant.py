"""Saving and loading the plant (site, areas, lines, machines, products, calendar) in the store."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import Connection, delete, insert, select, update

from shopfloor.errors import Invalid, MachineCodesTaken, MachineNotFound, PlantNotImported, SeveralSites, SiteNotFound
from shopfloor.model.calendar import calendar_from_dict
from shopfloor.model.plant import Area, ConnectorSpec, Line, Machine, Plant, Product, Site
from shopfloor.model.reasons import ReasonCode
from shopfloor.store.locks import lock_name
from shopfloor.store.schema import (
    areas,
    hourly_rollups,
    lines,
    local_rollups,
    machine_photos,
    machines,
    plant_imports,
    products,
    rollup_state,
    sites,
)


class StoreError(Invalid):
    """A refusal of the store stated in English only.  Everything in this package raises the typed errors of
    ``shopfloor.errors``; this one remains for callers that have not yet been given theirs."""

    code = "store.refused"
    message = "{reason}"

    def __init__(self, reason: str) -> None:
        super().__init__(reason=reason)


def save_plant(conn: Connection, plant: Plant, actor: str) -> dict[str, Any]:
    """Create or update the plant from a validated ``Plant``, in the caller's transaction (the action
    ``actions.plant.import_plant`` audits it).

    Entities are matched by code.  A machine missing from the new document is retired, never deleted, so
    its history stays.  Any change of calendar or cycle times invalidates the machine rollups, which are
    rebuilt from the events.
    """
    now = datetime.now(timezone.utc)
    doc = plant.to_dict()
    lock_name(conn, "site", plant.site.code)
    site_row = conn.execute(select(sites).where(sites.c.code == plant.site.code)).mappings().first()
    if site_row is None:
        site_id = conn.execute(
            insert(sites).values(
                code=plant.site.code,
                name=plant.site.name,
                timezone=plant.site.timezone,
                calendar=doc["calendar"],
                updated_at=now,
            )
        ).inserted_primary_key[0]
        created = True
    else:
        site_id = site_row["id"]
        conn.execute(
            update(sites)
            .where(sites.c.id == site_id)
            .values(name=plant.site.name, timezone=plant.site.timezone, calendar=doc["calendar"], updated_at=now)
        )
        created = False

    other_machines = (
        conn.execute(
            select(machines.c.code).where(
                machines.c.site_id != site_id, machines.c.code.in_([m.code for m in plant.machines])
            )
        )
        .scalars()
        .all()
    )
    if other_machines:
        raise MachineCodesTaken(machines=sorted(other_machines))

    area_ids = _upsert_codes(conn, areas, site_id, [(a.code, {"name": a.name}) for a in plant.areas])
    line_ids = _upsert_codes(
        conn, lines, site_id, [(ln.code, {"name": ln.name, "area_id": area_ids[ln.area]}) for ln in plant.lines]
    )
    machine_ids = _upsert_codes(
        conn,
        machines,
        site_id,
        [
            (
                m.code,
                {
                    "name": m.name,
                    "line_id": line_ids[m.line],
                    "tags": m.tags,
                    "connector": m.connector,
                    "kind": m.kind,
                    "retired_at": None,
                },
            )
            for m in plant.machines
        ],
    )
    retired = conn.execute(
        update(machines)
        .where(
            machines.c.site_id == site_id, machines.c.code.not_in(list(machine_ids)), machines.c.retired_at.is_(None)
        )
        .values(retired_at=now)
    ).rowcount
    _upsert_codes(
        conn,
        products,
        site_id,
        [
            (p.code, {"name": p.name, "ideal_cycle_s": p.ideal_cycle_s, "cycle_by_machine": p.cycle_by_machine})
            for p in plant.products
        ],
    )

    # Calendar and cycle times feed every rollup: rebuild them all from the events.
    site_machine_ids = select(machines.c.id).where(machines.c.site_id == site_id)
    conn.execute(delete(hourly_rollups).where(hourly_rollups.c.machine_id.in_(site_machine_ids)))
    conn.execute(delete(local_rollups).where(local_rollups.c.machine_id.in_(site_machine_ids)))
    # The state rows are emptied, not deleted: a concurrent writer waiting on one's lock then finds it still there.
    conn.execute(
        update(rollup_state)
        .where(rollup_state.c.machine_id.in_(site_machine_ids))
        .values(valid_from=None, valid_until=None, first_event=None)
    )

    conn.execute(insert(plant_imports).values(site_id=site_id, imported_at=now, actor=actor, document=doc))
    summary = {
        "site": plant.site.code,
        "created": created,
        "areas": len(plant.areas),
        "lines": len(plant.lines),
        "machines": len(plant.machines),
        "retired_machines": retired,
        "products": len(plant.products),
    }
    return summary


def _upsert_codes(conn: Connection, table, site_id: int, items: list[tuple[str, dict[str, Any]]]) -> dict[str, int]:
    existing = dict(conn.execute(select(table.c.code, table.c.id).where(table.c.site_id == site_id)).all())
    ids: dict[str, int] = {}
    for code, values in items:
        if code in existing:
            conn.execute(update(table).where(table.c.id == existing[code]).values(**values))
            ids[code] = existing[code]
        else:
            ids[code] = conn.execute(insert(table).values(site_id=site_id, code=code, **values)).inserted_primary_key[0]
    return ids


def load_plant(conn: Connection, site_code: str | None = None) -> Plant:
    """The plant as stored.  With one site in the store ``site_code`` may be omitted."""
    query = select(sites)
    if site_code is not None:
        query = query.where(sites.c.code == site_code)
    rows = conn.execute(query).mappings().all()
    if not rows:
        raise PlantNotImported() if site_code is None else SiteNotFound(site=site_code)
    if len(rows) > 1:
        raise SeveralSites(sites=[r["code"] for r in rows])
    site = rows[0]
    area_rows = conn.execute(select(areas).where(areas.c.site_id == site["id"]).order_by(areas.c.id)).mappings().all()
    line_rows = conn.execute(select(lines).where(lines.c.site_id == site["id"]).order_by(lines.c.id)).mappings().all()
    machine_rows = (
        conn.execute(
            select(machines)
            .where(machines.c.site_id == site["id"], machines.c.retired_at.is_(None))
            .order_by(machines.c.id)
        )
        .mappings()
        .all()
    )
    product_rows = (
        conn.execute(select(products).where(products.c.site_id == site["id"]).order_by(products.c.id)).mappings().all()
    )
    area_code = {r["id"]: r["code"] for r in area_rows}
    built_lines = []
    for ln in line_rows:
        ms = tuple(
            Machine(
                code=m["code"],
                name=m["name"],
                line=ln["code"],
                area=area_code[ln["area_id"]],
                tags=m["tags"] or {},
                connector=m["connector"],
                kind=m["kind"],
            )
            for m in machine_rows
            if m["line_id"] == ln["id"]
        )
        built_lines.append(Line(code=ln["code"], name=ln["name"], area=area_code[ln["area_id"]], machines=ms))
    built_areas = tuple(
        Area(code=a["code"], name=a["name"], lines=tuple(ln for ln in built_lines if ln.area == a["code"]))
        for a in area_rows
    )
    built_products = tuple(
        Product(
            code=p["code"],
            name=p["name"],
            ideal_cycle_s=p["ideal_cycle_s"],
            cycle_by_machine=p["cycle_by_machine"] or {},
        )
        for p in product_rows
    )
    latest = conn.execute(
        select(plant_imports.c.document)
        .where(plant_imports.c.site_id == site["id"])
        .order_by(plant_imports.c.id.desc())
        .limit(1)
    ).scalar()
    connectors = tuple(
        ConnectorSpec(name=c["name"], type=c["type"], options={k: v for k, v in c.items() if k not in ("name", "type")})
        for c in ((latest or {}).get("connectors") or [])
    )
    downtime, defects, details = _reasons((latest or {}).get("reasons") or {})
    return Plant(
        site=Site(code=site["code"], name=site["name"], timezone=site["timezone"]),
        connectors=connectors,
        downtime_reasons=downtime,
        defect_codes=defects,
        reason_details=details,
        areas=built_areas,
        products=built_products,
        calendar=calendar_from_dict(site["calendar"]),
    )


def _reasons(doc: dict[str, Any]) -> tuple[tuple[str, ...], tuple[str, ...], tuple[ReasonCode, ...]]:
    """The reasons of a stored plant document (validated when it was saved): codes, or codes with details."""
    out, details = [], []
    for kind in ("downtime", "defects"):
        codes = []
        for entry in doc.get(kind) or ():
            reason = ReasonCode(entry) if isinstance(entry, str) else ReasonCode(
                entry["code"], dict(entry.get("names") or {}), entry.get("group"), entry.get("icon"),
                entry.get("colour"), tuple(entry.get("machines") or ()),
            )  # fmt: skip
            codes.append(reason.code)
            if not isinstance(entry, str):
                details.append(reason)
        out.append(tuple(codes))
    return out[0], out[1], tuple(details)


def save_reasons(conn: Connection, plant: Plant, actor: str) -> None:
    """Store ``plant`` with new reason and defect codes as the plant's latest version, in the caller's
    transaction: the rest of the plant (and so every rollup) is unchanged."""
    lock_name(conn, "site", plant.site.code)
    site_id = conn.execute(select(sites.c.id).where(sites.c.code == plant.site.code)).scalar_one()
    now = datetime.now(timezone.utc)
    conn.execute(insert(plant_imports).values(site_id=site_id, imported_at=now, actor=actor, document=plant.to_dict()))


_MACHINE_IDS = select(machines.c.code, machines.c.id)


def machine_ids(conn: Connection) -> dict[str, int]:
    """Code -> id of every machine in the store, retired ones included (their history can still be read); read
    once inside ``machine_ids_kept``.  Not to be changed by the caller."""
    kept = conn.info.get("shopfloor.machine_ids")
    if kept is not None:
        return kept
    return dict(conn.execute(_MACHINE_IDS).all())


@contextmanager
def machine_ids_kept(conn: Connection) -> Iterator[None]:
    """Within it, ``machine_ids(conn)`` is read once: for a transaction that adds no machine and asks for them
    often (a batch of terminal taps)."""
    conn.info["shopfloor.machine_ids"] = dict(conn.execute(_MACHINE_IDS).all())
    try:
        yield
    finally:
        conn.info.pop("shopfloor.machine_ids", None)


_cache: dict[str, tuple[tuple, Plant]] = {}


def current_plant(conn: Connection) -> Plant:
    """The store's (single) plant, read again only when another plant document was imported."""
    latest = conn.execute(
        select(plant_imports.c.id, plant_imports.c.imported_at).order_by(plant_imports.c.id.desc()).limit(1)
    ).first()
    key = conn.engine.url.render_as_string(hide_password=True)
    cached = _cache.get(key)
    if cached is not None and latest is not None and cached[0] == tuple(latest):
        return cached[1]
    plant = load_plant(conn)
    if latest is not None:
        _cache[key] = (tuple(latest), plant)
    return plant


def save_photo(conn: Connection, machine: str, content_type: str, data: bytes, actor: str) -> None:
    """Replace the photo of ``machine`` (a machine of the plant, retired ones excepted)."""
    machine_id = conn.execute(
        select(machines.c.id).where(machines.c.code == machine, machines.c.retired_at.is_(None))
    ).scalar()
    if machine_id is None:
        raise MachineNotFound(machine=machine)
    conn.execute(delete(machine_photos).where(machine_photos.c.machine_id == machine_id))
    conn.execute(
        insert(machine_photos).values(
            machine_id=machine_id,
            content_type=content_type,
            data=data,
            uploaded_at=datetime.now(timezone.utc),
            uploaded_by=actor,
        )
    )


def photo(conn: Connection, machine: str) -> tuple[str, bytes] | None:
    """(content type, bytes) of the machine's photo, or None."""
    row = conn.execute(
        select(machine_photos.c.content_type, machine_photos.c.data)
        .join(machines, machines.c.id == machine_photos.c.machine_id)
        .where(machines.c.code == machine)
    ).first()
    return (row.content_type, row.data) if row is not None else None


def photographed(conn: Connection) -> set[str]:
    """Codes of the machines that have a photo."""
    return set(
        conn.execute(select(machines.c.code).join(machine_photos, machine_photos.c.machine_id == machines.c.id))
        .scalars()
        .all()
    )


def plant_version(conn: Connection) -> int | None:
    """The number of the plant document saved last (each import or change on the pages saves one): a reader
    that saw this number has the current plant."""
    return conn.execute(select(plant_imports.c.id).order_by(plant_imports.c.id.desc()).limit(1)).scalar()
