"""Document control and NC programs: documents per item, operation and machine, their revisions (file with its
SHA-256, size-limited), approval with an effective date, the operator's confirmation at order start (an order
cannot start before the revisions in force are confirmed), DNC targets and sending an approved NC program to a
machine's control (FTP to its data server, or a shared folder its DNC reads).

Live events: ``("document", code)``, and ``("machine", code)`` for confirmations and transfers.
"""

from __future__ import annotations

import ftplib
import hashlib
import io
import os
import re
import tempfile
from datetime import datetime, timezone
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import unquote, urlsplit

from sqlalchemy import Connection, Engine

from shopfloor.actions.core import change
from shopfloor.errors import (
    DocumentAlreadyApproved,
    DocumentExists,
    DocumentFileEmpty,
    DocumentFileTooLarge,
    DocumentKindInvalid,
    DocumentMediaRefused,
    DocumentNotConfirmed,
    DocumentRevisionExists,
    DocumentRevisionNotCurrent,
    DocumentScopeMissing,
    MachineUnknown,
    NcDesignMissing,
    NcHashInvalid,
    NcNotAProgram,
    NcTargetInvalid,
    NcTargetMissing,
    NcTransferFailed,
)
from shopfloor.model.documents import DocumentKind, RevisionState
from shopfloor.model.plant import Plant
from shopfloor.store import documents as store
from shopfloor.store import work_orders
from shopfloor.store.locks import lock_name

MAX_DOCUMENT_BYTES = 20 * 1024 * 1024
MEDIA_TYPES = {
    "application/pdf",
    "image/png",
    "image/jpeg",
    "image/webp",
    "image/gif",
    "text/plain",
}
NC_MEDIA_TYPES = MEDIA_TYPES | {"application/octet-stream"}
SHA256 = re.compile(r"^[0-9a-f]{64}$")
FTP_TIMEOUT_S = 20.0


def _now(at: datetime | None) -> datetime:
    return (at or datetime.now(timezone.utc)).astimezone(timezone.utc)


def _machine(plant: Plant, code: str) -> str:
    try:
        plant.machine(code)
    except KeyError:
        raise MachineUnknown(machine=code) from None
    return code


def create_document(
    engine: Engine,
    actor: str,
    *,
    code: str,
    title: str,
    kind: str,
    item: str | None = None,
    operation_seq: int | None = None,
    machine: str | None = None,
    design_ref: str | None = None,
) -> dict[str, Any]:
    """A controlled document of an item (all its operations or one), a machine, or both."""
    try:
        DocumentKind(kind)
    except ValueError:
        raise DocumentKindInvalid(kind=kind, allowed=[k.value for k in DocumentKind]) from None
    if not item and not machine:
        raise DocumentScopeMissing()
    with change(engine, actor) as c:
        if machine:
            _machine(c.plant(), machine)
        c.duplicate_means(DocumentExists(document=code))
        lock_name(c.conn, "document", code)
        if code in store.document_codes(c.conn):
            raise DocumentExists(document=code)
        now = _now(None)
        store.create_document(c.conn, {
            "code": code, "title": title or code, "kind": kind, "item": item or None, "operation_seq": operation_seq,
            "machine": machine or None, "design_ref": design_ref or None, "created_at": now, "created_by": actor,
        })  # fmt: skip
        c.audit("document.create", f"document:{code}", {"kind": kind, "item": item, "machine": machine})
        c.publish("document", code)
        return store.document_dict(c.conn, code, now)


def add_document_revision(
    engine: Engine,
    actor: str,
    code: str,
    *,
    revision: str,
    filename: str,
    data: bytes,
    media_type: str,
    note: str | None = None,
    design_revision: str | None = None,
    cad_sha256: str | None = None,
    program_name: str | None = None,
) -> dict[str, Any]:
    """A new draft revision with its file (``MAX_DOCUMENT_BYTES`` at most); an NC program's revision names the
    design revision and the CAD/CAM file's SHA-256 it was made from, and the program name the control reports."""
    name = PurePosixPath(filename.replace("\\", "/")).name or "file"
    if not data:
        raise DocumentFileEmpty(filename=name)
    if len(data) > MAX_DOCUMENT_BYTES:
        raise DocumentFileTooLarge(filename=name, size=len(data), limit=MAX_DOCUMENT_BYTES)
    media = (media_type or "application/octet-stream").split(";")[0].strip().lower()
    with change(engine, actor) as c:
        doc = store.document_row(c.conn, code)
        nc = doc.kind == DocumentKind.NC_PROGRAM.value
        if media not in (NC_MEDIA_TYPES if nc else MEDIA_TYPES):
            raise DocumentMediaRefused(filename=name, media_type=media)
        if nc:
            if not design_revision or not cad_sha256:
                raise NcDesignMissing()
            cad_sha256 = cad_sha256.strip().lower()
            if not SHA256.match(cad_sha256):
                raise NcHashInvalid(value=cad_sha256)
        c.duplicate_means(DocumentRevisionExists(document=code, revision=revision))
        lock_name(c.conn, "document_revision", code, revision)
        if any(r["revision"] == revision for r in store.document_dict(c.conn, code, _now(None))["revisions"]):
            raise DocumentRevisionExists(document=code, revision=revision)
        digest = hashlib.sha256(data).hexdigest()
        store.add_revision(c.conn, {
            "document_id": doc.id, "revision": revision, "filename": name, "media_type": media, "size": len(data),
            "sha256": digest, "content": data, "note": note, "uploaded_at": _now(None), "uploaded_by": actor,
            "design_revision": design_revision if nc else None, "cad_sha256": cad_sha256 if nc else None,
            "program_name": (program_name or None) if nc else None,
        })  # fmt: skip
        c.audit("document.revision", f"document:{code}", {"revision": revision, "sha256": digest, "size": len(data)})
        c.publish("document", code)
        return store.document_dict(c.conn, code, _now(None))


def approve_document_revision(
    engine: Engine, actor: str, code: str, revision: str, *, effective_from: datetime | None = None
) -> dict[str, Any]:
    """Approve a draft; it is in force from ``effective_from`` (default now) and supersedes the one before."""
    with change(engine, actor) as c:
        now = _now(None)
        row = store.revision_row(c.conn, code, revision, lock=True)
        effective = _now(effective_from) if effective_from is not None else now
        if store.approve(c.conn, row.id, actor, now, effective) != 1:
            raise DocumentAlreadyApproved(document=code, revision=revision)
        c.audit("document.approve", f"document:{code}", {"revision": revision, "effective_from": effective.isoformat()})
        c.publish("document", code)
        return store.document_dict(c.conn, code, now)


def _in_force(conn: Connection, code: str, revision: str, now: datetime) -> Any:
    row, state, in_force = store.revision_state(conn, code, revision, now)
    if state is not RevisionState.CURRENT:
        raise DocumentRevisionNotCurrent(document=code, revision=revision, state=state.value, current=in_force or "-")
    return row


def confirm_document(
    engine: Engine, actor: str, code: str, revision: str, *, work_order: str, machine: str
) -> dict[str, Any]:
    """The operator read the revision in force for this order at this machine; a superseded or unapproved
    revision cannot be confirmed."""
    with change(engine, actor) as c:
        _machine(c.plant(), machine)
        work_orders.get(c.conn, work_order)
        now = _now(None)
        row = _in_force(c.conn, code, revision, now)
        new = store.confirm(c.conn, row.id, work_order, machine, actor, now)
        c.audit("document.confirm", f"document:{code}", {"revision": revision, "work_order": work_order,
                                                         "machine": machine, "new": new})  # fmt: skip
        c.publish("document", code)
        c.publish("machine", machine)
        return {"document": code, "revision": revision, "work_order": work_order, "confirmed": True}


def check_confirmed(conn: Connection, plant: Plant, work_order: str, machine: str, actor: str, now: datetime) -> None:
    """Refuse to start ``work_order`` at ``machine`` unless ``actor`` confirmed every revision in force of the
    documents that apply (called in the order-start flow)."""
    order = work_orders.get(conn, work_order)
    done = store.confirmed_ids(conn, work_order, actor)
    for doc in store.applicable(conn, plant, order.product, machine, now):
        rev = doc["revision"]
        if rev["id"] not in done:
            raise DocumentNotConfirmed(document=doc["code"], revision=rev["revision"], title=doc["title"],
                                       work_order=work_order)  # fmt: skip


# -- DNC -----------------------------------------------------------------------------------------------------
def _parse_target(url: str) -> tuple[str, Any]:
    url = url.strip()
    if url.startswith("ftp://"):
        parts = urlsplit(url)
        if not parts.hostname:
            raise NcTargetInvalid(target=shown_target(url))
        try:
            port = parts.port or 21
        except ValueError:
            raise NcTargetInvalid(target=shown_target(url)) from None
        user, password = unquote(parts.username or "anonymous"), unquote(parts.password or "")
        return "ftp", (parts.hostname, port, user, password, unquote(parts.path or "/"))
    if os.path.isabs(url):
        return "folder", Path(url)
    raise NcTargetInvalid(target=shown_target(url))


def shown_target(url: str) -> str:
    """A target as it may be shown and audited: without its password."""
    parts = urlsplit(url)
    if parts.scheme == "ftp" and parts.password is not None:
        return url.replace(f":{parts.password}@", ":***@", 1)
    return url


def set_dnc_target(engine: Engine, actor: str, machine: str, *, url: str) -> dict[str, Any]:
    """Where the machine's control takes its programs: ftp://user:password@host:port/folder or a folder path."""
    _parse_target(url)
    with change(engine, actor) as c:
        _machine(c.plant(), machine)
        store.set_target(c.conn, machine, url.strip(), _now(None))
        c.audit("dnc.target", f"machine:{machine}", {"target": shown_target(url)})
        c.publish("machine", machine)
        return {"machine": machine, "target": shown_target(url)}


def _send(url: str, remote_name: str, data: bytes) -> None:
    kind, where = _parse_target(url)
    try:
        if kind == "ftp":
            host, port, user, password, folder = where
            with ftplib.FTP(timeout=FTP_TIMEOUT_S) as ftp:
                ftp.connect(host, port)
                ftp.login(user, password)
                if folder not in ("", "/"):
                    ftp.cwd(folder)
                ftp.storbinary(f"STOR {remote_name}", io.BytesIO(data))
        else:
            where.mkdir(parents=True, exist_ok=True)
            # Written beside and renamed: the DNC never reads half a program.
            with tempfile.NamedTemporaryFile(dir=where, prefix=".sending-", delete=False) as tmp:
                tmp.write(data)
            os.replace(tmp.name, where / remote_name)
    except (OSError, ftplib.Error, EOFError) as exc:
        raise NcTransferFailed(target=shown_target(url), reason=str(exc) or type(exc).__name__) from None


def send_nc_program(engine: Engine, actor: str, code: str, revision: str, *, machine: str) -> dict[str, Any]:
    """Send the revision in force of an NC program to the machine's control; only an approved revision in force
    is sent, and each transfer is recorded."""
    now = _now(None)
    with engine.connect() as conn:
        doc = store.document_row(conn, code)
        if doc.kind != DocumentKind.NC_PROGRAM.value:
            raise NcNotAProgram(document=code)
        row = _in_force(conn, code, revision, now)
        url = store.target(conn, machine)
        if url is None:
            raise NcTargetMissing(machine=machine)
        data = store.content(conn, row.id)
    remote = PurePosixPath(row.program_name or row.filename).name
    _send(url, remote, data)
    with change(engine, actor) as c:
        store.record_transfer(c.conn, row.id, machine, shown_target(url), actor, _now(None), remote)
        c.audit("nc.send", f"document:{code}", {"revision": revision, "machine": machine,
                                                "target": shown_target(url), "sha256": row.sha256})  # fmt: skip
        c.publish("document", code)
        c.publish("machine", machine)
    return {"document": code, "revision": revision, "machine": machine, "remote_name": remote, "sha256": row.sha256}
