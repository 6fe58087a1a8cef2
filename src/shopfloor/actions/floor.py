"""The floor between shifts and around a scrap: a machine's handover note for the next shift (one per machine and
shift occurrence, rewritten until the shift ends), and a photo of a defect attached to a scrap entry.  Live
event: ``("machine", code)``.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from sqlalchemy import Engine

from shopfloor.actions.board import current_window
from shopfloor.actions.core import change
from shopfloor.errors import (
    HandoverNoShift,
    HandoverTextBad,
    MachineNotFound,
    PhotoAlreadyAttached,
    PhotoNotImage,
    PhotoTooLarge,
)
from shopfloor.store import floor

HANDOVER_MAX = 2000
PHOTO_MAX_BYTES = 4 * 1024 * 1024
# The pictures a tablet's camera gives, told by their first bytes (not by what the request claims).
PHOTO_TYPES = {b"\xff\xd8\xff": "image/jpeg", b"\x89PNG\r\n\x1a\n": "image/png"}


def photo_type(data: bytes) -> str | None:
    for magic, kind in PHOTO_TYPES.items():
        if data.startswith(magic):
            return kind
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


def write_handover_note(engine: Engine, actor: str, machine: str, text: str, now: datetime | None = None) -> dict:
    """The note the shift now on leaves the next at ``machine``; written again, it replaces the shift's note."""
    now = now or datetime.now(timezone.utc)
    text = text.strip()
    if not 1 <= len(text) <= HANDOVER_MAX:
        raise HandoverTextBad(max=HANDOVER_MAX)
    with change(engine, actor) as c:
        plant = c.plant()
        if machine not in {m.code for m in plant.machines}:
            raise MachineNotFound(machine=machine)
        shift, window = current_window(plant, now)
        if shift is None:
            raise HandoverNoShift()
        note = floor.write_handover(c.conn, machine, f"{window.start.isoformat()}/{shift}", shift, text, actor, now)
        c.audit("handover.write", f"machine:{machine}", {"shift": shift, "chars": len(text)})
        c.publish("machine", machine)
    return note


def attach_defect_photo(
    engine: Engine, actor: str, machine: str, entry_key: str, data: bytes, *, defect: str | None = None,
    claimed_type: str | None = None, now: datetime | None = None,
) -> dict[str, Any]:  # fmt: skip
    """A photo of the defect of the scrap entry ``entry_key`` (its terminal key), taken at ``machine``; JPEG, PNG
    or WebP (``claimed_type``, what the sender said it is, is named in a refusal)."""
    if len(data) > PHOTO_MAX_BYTES:
        raise PhotoTooLarge(limit=f"{PHOTO_MAX_BYTES // (1024 * 1024)} MB")
    kind = photo_type(data)
    if kind is None:
        raise PhotoNotImage(content_type=claimed_type or "unknown")
    with engine.connect() as conn:
        stored = floor.photo_of_entry(conn, entry_key)
    if stored is not None:
        # One photo per scrap entry: the same photo sent again (its answer lost on the way) is the one stored.
        if stored[1] != data:
            raise PhotoAlreadyAttached(entry=entry_key)
        return {"id": stored[0], "machine": machine, "entry_key": entry_key, "defect": defect, "content_type": kind,
                "size": len(data), "duplicate": True}  # fmt: skip
    with change(engine, actor) as c:
        if machine not in {m.code for m in c.plant().machines}:
            raise MachineNotFound(machine=machine)
        c.duplicate_means(PhotoAlreadyAttached(entry=entry_key))  # sent twice at once: the second finds the first
        taken = now or datetime.now(timezone.utc)
        photo_id = floor.add_photo(c.conn, machine, entry_key, defect, kind, data, actor, taken)
        c.audit("photo.add", f"machine:{machine}", {"photo": photo_id, "entry": entry_key, "bytes": len(data)})
        c.publish("machine", machine)
    return {"id": photo_id, "machine": machine, "entry_key": entry_key, "defect": defect, "content_type": kind,
            "size": len(data), "duplicate": False}  # fmt: skip
