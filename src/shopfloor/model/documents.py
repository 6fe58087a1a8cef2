"""Document control: which revision of a document is in force.

A revision is a ``draft`` until it is approved; an approved revision takes effect at its effective date.  At any
instant the revision in force (``current``) is the approved one with the latest effective date not after that
instant; approved revisions that took effect before it are ``superseded``, approved ones whose date has not come
are ``pending``.  Work may run only against the revision in force.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime


class DocumentKind(enum.StrEnum):
    WORK_INSTRUCTION = "work_instruction"
    DRAWING = "drawing"
    INSPECTION_SHEET = "inspection_sheet"
    SETUP_SHEET = "setup_sheet"
    NC_PROGRAM = "nc_program"


class RevisionState(enum.StrEnum):
    DRAFT = "draft"
    PENDING = "pending"
    CURRENT = "current"
    SUPERSEDED = "superseded"


@dataclass(frozen=True, slots=True)
class Revision:
    id: int
    revision: str
    approved: bool
    effective_from: datetime | None
    approved_at: datetime | None = None


def _key(r: Revision) -> tuple:
    return (r.effective_from, r.approved_at or r.effective_from, r.id)


def current(revisions: Sequence[Revision], now: datetime) -> Revision | None:
    """The revision in force at ``now``: approved, effective, and the latest to take effect."""
    in_force = [r for r in revisions if r.approved and r.effective_from is not None and r.effective_from <= now]
    return max(in_force, key=_key) if in_force else None


def state(revision: Revision, revisions: Sequence[Revision], now: datetime) -> RevisionState:
    if not revision.approved or revision.effective_from is None:
        return RevisionState.DRAFT
    if revision.effective_from > now:
        return RevisionState.PENDING
    now_in_force = current(revisions, now)
    return RevisionState.CURRENT if now_in_force and now_in_force.id == revision.id else RevisionState.SUPERSEDED
