"""What one shift leaves the next at a machine (a handover note per shift occurrence), and photos of defects."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, insert, select, update

from shopfloor.errors import PhotoNotFound
from shopfloor.store.locks import lock_name
from shopfloor.store.plant import machine_ids
from shopfloor.store.schema import defect_photos, handover_notes


def write_handover(
    conn: Connection, machine: str, shift_key: str, shift: str, text: str, by: str, now: datetime
) -> dict:
    """The note of ``machine`` for the shift occurrence ``shift_key``: written, or replaced by its new text."""
    mid = machine_ids(conn)[machine]
    lock_name(conn, "handover", machine, shift_key)  # check-then-insert: one note per machine and shift
    hn = handover_notes.c
    values = {"text": text, "written_at": now, "written_by": by, "shift": shift}
    done = conn.execute(
        update(handover_notes).where(hn.machine_id == mid, hn.shift_key == shift_key).values(**values)
    ).rowcount
    if not done:
        conn.execute(insert(handover_notes).values(machine_id=mid, shift_key=shift_key, **values))
    return {"machine": machine, "shift_key": shift_key, **values}


def handover_for(conn: Connection, machine: str, before: datetime) -> dict[str, Any] | None:
    """The latest note of ``machine`` written before ``before`` (the start of the shift now on): what the
    previous shift left."""
    ids = machine_ids(conn)
    if machine not in ids:
        return None
    hn = handover_notes.c
    row = conn.execute(
        select(hn.shift_key, hn.shift, hn.text, hn.written_at, hn.written_by)
        .where(hn.machine_id == ids[machine], hn.written_at < before)
        .order_by(hn.written_at.desc(), hn.id.desc())
        .limit(1)
    ).first()
    return dict(row._mapping) if row else None


def own_handover(conn: Connection, machine: str, shift_key: str) -> str | None:
    """This shift's note of ``machine`` so far (to edit it)."""
    hn = handover_notes.c
    return conn.execute(
        select(hn.text).where(hn.machine_id == machine_ids(conn)[machine], hn.shift_key == shift_key)
    ).scalar()


def add_photo(
    conn: Connection, machine: str, entry_key: str, defect: str | None, content_type: str, data: bytes, by: str,
    now: datetime,
) -> int:  # fmt: skip
    return conn.execute(
        insert(defect_photos)
        .values(
            machine_id=machine_ids(conn)[machine],
            entry_key=entry_key,
            defect=defect,
            content_type=content_type,
            size=len(data),
            data=data,
            taken_at=now,
            taken_by=by,
        )  # fmt: skip
        .returning(defect_photos.c.id)
    ).scalar_one()


def photo(conn: Connection, photo_id: int) -> tuple[str, bytes]:
    row = conn.execute(
        select(defect_photos.c.content_type, defect_photos.c.data).where(defect_photos.c.id == photo_id)
    ).first()
    if row is None:
        raise PhotoNotFound(photo=photo_id)
    return row.content_type, bytes(row.data)


def photo_of_entry(conn: Connection, entry_key: str) -> tuple[int, bytes] | None:
    """The id and bytes of the photo attached to the scrap entry ``entry_key``, if any."""
    row = conn.execute(
        select(defect_photos.c.id, defect_photos.c.data).where(defect_photos.c.entry_key == entry_key)
    ).first()
    return None if row is None else (row.id, bytes(row.data))


def photos_of(conn: Connection, entry_key: str) -> list[dict[str, Any]]:
    dp = defect_photos.c
    rows = conn.execute(
        select(dp.id, dp.defect, dp.content_type, dp.size, dp.taken_at, dp.taken_by)
        .where(dp.entry_key == entry_key)
        .order_by(dp.id)
    ).all()
    return [dict(r._mapping) for r in rows]
