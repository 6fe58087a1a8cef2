"""Documents in the store: controlled documents, their revisions (with the file), confirmations at order start,
DNC targets and NC program transfers.  Which revision is in force is decided by ``model.documents``."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, and_, insert, or_, select, update

from shopfloor.errors import DocumentRevisionUnknown, DocumentUnknown
from shopfloor.model.documents import DocumentKind, Revision, RevisionState, current, state
from shopfloor.model.plant import Plant
from shopfloor.store.schema import (
    dnc_targets,
    document_confirmations,
    document_revisions,
    documents,
    nc_transfers,
    operations,
)

_META = [c for c in document_revisions.c if c.name != "content"]


def _iso(ts: datetime | None) -> str | None:
    return ts.isoformat() if ts else None


def document_row(conn: Connection, code: str) -> Any:
    row = conn.execute(select(documents).where(documents.c.code == code)).first()
    if row is None:
        raise DocumentUnknown(document=code)
    return row


def document_codes(conn: Connection) -> list[str]:
    return list(conn.execute(select(documents.c.code).order_by(documents.c.code)).scalars())


def create_document(conn: Connection, values: dict[str, Any]) -> None:
    conn.execute(insert(documents).values(**values))


def _revisions(conn: Connection, document_id: int) -> list[Any]:
    r = document_revisions.c
    return conn.execute(select(*_META).where(r.document_id == document_id).order_by(r.id)).all()


def _model(row: Any) -> Revision:
    return Revision(row.id, row.revision, row.status == "approved", row.effective_from, row.approved_at)


def revision_row(conn: Connection, code: str, revision: str, lock: bool = False) -> Any:
    doc = document_row(conn, code)
    r = document_revisions.c
    q = select(*_META).where(r.document_id == doc.id, r.revision == revision)
    row = conn.execute(q.with_for_update() if lock else q).first()
    if row is None:
        raise DocumentRevisionUnknown(document=code, revision=revision)
    return row


def add_revision(conn: Connection, values: dict[str, Any]) -> None:
    conn.execute(insert(document_revisions).values(status="draft", **values))


def approve(conn: Connection, revision_id: int, actor: str, at: datetime, effective_from: datetime) -> int:
    """Approve a draft (conditional update: two approvals at once, one wins); returns the rows changed."""
    r = document_revisions.c
    return conn.execute(
        update(document_revisions)
        .where(r.id == revision_id, r.status == "draft")
        .values(status="approved", approved_at=at, approved_by=actor, effective_from=effective_from)
    ).rowcount


def content(conn: Connection, revision_id: int) -> bytes:
    return conn.execute(select(document_revisions.c.content).where(document_revisions.c.id == revision_id)).scalar_one()


def revision_dict(row: Any, state_: RevisionState) -> dict[str, Any]:
    return {
        "id": row.id,
        "revision": row.revision,
        "state": state_.value,
        "filename": row.filename,
        "media_type": row.media_type,
        "size": row.size,
        "sha256": row.sha256,
        "note": row.note,
        "uploaded_at": _iso(row.uploaded_at),
        "uploaded_by": row.uploaded_by,
        "approved_at": _iso(row.approved_at),
        "approved_by": row.approved_by,
        "effective_from": _iso(row.effective_from),
        "design_revision": row.design_revision,
        "cad_sha256": row.cad_sha256,
        "program_name": row.program_name,
    }


def document_dict(conn: Connection, code: str, now: datetime) -> dict[str, Any]:
    doc = document_row(conn, code)
    rows = _revisions(conn, doc.id)
    models = [_model(r) for r in rows]
    in_force = current(models, now)
    return {
        "code": doc.code,
        "title": doc.title,
        "kind": doc.kind,
        "item": doc.item,
        "operation_seq": doc.operation_seq,
        "machine": doc.machine,
        "design_ref": doc.design_ref,
        "current": in_force.revision if in_force else None,
        "revisions": [revision_dict(r, state(m, models, now)) for r, m in zip(rows, models, strict=True)],
    }


def revision_state(conn: Connection, code: str, revision: str, now: datetime) -> tuple[Any, RevisionState, str | None]:
    """A revision's row, its state at ``now``, and the revision in force."""
    row = revision_row(conn, code, revision)
    models = [_model(r) for r in _revisions(conn, row.document_id)]
    in_force = current(models, now)
    return row, state(_model(row), models, now), in_force.revision if in_force else None


def _operation_seqs(conn: Connection, plant: Plant, item: str, machine: str) -> list[int]:
    """The operations of ``item`` done at ``machine`` (its code or its line's code as work centre)."""
    line = plant.machine(machine).line
    o = operations.c
    return list(
        conn.execute(
            select(o.seq).where(o.item == item, or_(o.work_centre == machine, o.work_centre == line))
        ).scalars()
    )


def applicable(
    conn: Connection, plant: Plant, item: str | None, machine: str, now: datetime, kinds: tuple[str, ...] | None = None
) -> list[dict[str, Any]]:
    """The documents that apply to making ``item`` at ``machine``, each with its revision in force (documents
    with none in force are left out): those of the item (all its operations, or one done at this machine), of the
    machine, or of both."""
    d = documents.c
    seqs = _operation_seqs(conn, plant, item, machine) if item else []
    item_match = and_(d.item == item, or_(d.operation_seq.is_(None), d.operation_seq.in_(seqs))) if item else None
    machine_ok = or_(d.machine.is_(None), d.machine == machine)
    conditions = [and_(d.item.is_(None), d.machine == machine)]
    if item_match is not None:
        conditions.append(and_(item_match, machine_ok))
    q = select(documents).where(or_(*conditions)).order_by(d.code)
    if kinds:
        q = q.where(d.kind.in_(kinds))
    out = []
    for doc in conn.execute(q).all():
        rows = _revisions(conn, doc.id)
        models = [_model(r) for r in rows]
        in_force = current(models, now)
        if in_force is None:
            continue
        row = next(r for r in rows if r.id == in_force.id)
        out.append({"code": doc.code, "title": doc.title, "kind": doc.kind,
                    "revision": revision_dict(row, RevisionState.CURRENT)})  # fmt: skip
    return out


def confirm(conn: Connection, revision_id: int, work_order: str, machine: str, operator: str, at: datetime) -> bool:
    """Record a confirmation; False when it was recorded before."""
    c = document_confirmations.c
    exists = conn.execute(
        select(c.id).where(c.revision_id == revision_id, c.work_order == work_order, c.operator == operator)
    ).first()
    if exists:
        return False
    conn.execute(
        insert(document_confirmations).values(
            revision_id=revision_id, work_order=work_order, machine=machine, operator=operator, confirmed_at=at
        )
    )
    return True


def confirmed_ids(conn: Connection, work_order: str, operator: str) -> set[int]:
    c = document_confirmations.c
    return set(conn.execute(select(c.revision_id).where(c.work_order == work_order, c.operator == operator)).scalars())


# -- DNC -----------------------------------------------------------------------------------------------------
def set_target(conn: Connection, machine: str, url: str, at: datetime) -> None:
    t = dnc_targets.c
    if conn.execute(select(t.machine).where(t.machine == machine).with_for_update()).first():
        conn.execute(update(dnc_targets).where(t.machine == machine).values(url=url, updated_at=at))
    else:
        conn.execute(insert(dnc_targets).values(machine=machine, url=url, updated_at=at))


def target(conn: Connection, machine: str) -> str | None:
    return conn.execute(select(dnc_targets.c.url).where(dnc_targets.c.machine == machine)).scalar()


def record_transfer(conn: Connection, revision_id: int, machine: str, shown_target: str, actor: str, at: datetime,
                    remote_name: str) -> None:  # fmt: skip
    conn.execute(
        insert(nc_transfers).values(
            revision_id=revision_id,
            machine=machine,
            target=shown_target,
            sent_at=at,
            sent_by=actor,
            remote_name=remote_name,
        )
    )


def approved_programs(conn: Connection, plant: Plant, item: str | None, machine: str, now: datetime) -> list[dict]:
    """The NC programs in force for making ``item`` at ``machine``."""
    return applicable(conn, plant, item, machine, now, (DocumentKind.NC_PROGRAM.value,))
