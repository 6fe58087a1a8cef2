"""Revision gating at order start and NC program transfer, on SQLite and PostgreSQL: an operator cannot start an
order before confirming the revisions in force of its documents, cannot confirm a superseded or unapproved one,
and a confirmation of a revision that has since been superseded does not count.  NC programs go to a real FTP
server (pyftpdlib) on loopback, or to a shared folder; a failed transfer records nothing."""

from __future__ import annotations

import hashlib
import threading
import uuid
from datetime import datetime, timedelta, timezone

import pytest
from pyftpdlib.authorizers import DummyAuthorizer
from pyftpdlib.handlers import FTPHandler
from pyftpdlib.servers import FTPServer
from sqlalchemy import func, select

from shopfloor.actions import documents as docs
from shopfloor.actions import terminal
from shopfloor.actions import work_orders as wo
from shopfloor.errors import (
    DocumentFileTooLarge,
    DocumentNotConfirmed,
    DocumentRevisionNotCurrent,
    NcTargetInvalid,
    NcTransferFailed,
)
from shopfloor.store.schema import nc_transfers
from tests.lots_data import add_master_data

A = "user:planner"
CAD = hashlib.sha256(b"core insert, CAD rev 3").hexdigest()


@pytest.fixture
def plant_store(engine):
    with engine.begin() as conn:
        add_master_data(conn)
    return engine


def _start(engine, order: str, at: datetime | None = None):
    entry = terminal.PopEntry(uuid.uuid4().hex, at or datetime.now(timezone.utc), "WLD-01", "start", work_order=order)
    return terminal.record_terminal_entry(engine, "op", entry)


def test_an_order_starts_only_against_the_confirmed_revision_in_force(plant_store):
    docs.create_document(plant_store, A, code="WI-7", title="Weld the drum", kind="work_instruction", item="DRUM-A")
    docs.create_document(plant_store, A, code="SU-7", title="Set-up WLD-01", kind="setup_sheet", machine="WLD-01")
    docs.create_document(plant_store, A, code="OTHER", title="Another machine", kind="setup_sheet", machine="CNC-01")
    for code in ("WI-7", "SU-7", "OTHER"):
        docs.add_document_revision(plant_store, A, code, revision="A", filename="a.pdf", data=b"%PDF rev A",
                                   media_type="application/pdf")  # fmt: skip
        docs.approve_document_revision(plant_store, A, code, "A")
    wo.create_work_order(plant_store, A, code="WO-7", product="DRUM-A", quantity=10, machine="WLD-01")
    with pytest.raises(DocumentNotConfirmed) as refused:
        _start(plant_store, "WO-7")
    assert refused.value == DocumentNotConfirmed(document="SU-7", revision="A", title="Set-up WLD-01",
                                                 work_order="WO-7")  # fmt: skip
    docs.confirm_document(plant_store, "user:op", "SU-7", "A", work_order="WO-7", machine="WLD-01")
    docs.confirm_document(plant_store, "user:op", "WI-7", "A", work_order="WO-7", machine="WLD-01")
    # Revision B of the work instruction takes effect: the confirmation of A no longer counts, A cannot be confirmed.
    docs.add_document_revision(plant_store, A, "WI-7", revision="B", filename="b.pdf", data=b"%PDF rev B",
                               media_type="application/pdf")  # fmt: skip
    with pytest.raises(DocumentRevisionNotCurrent):  # a draft cannot be confirmed
        docs.confirm_document(plant_store, "user:op", "WI-7", "B", work_order="WO-7", machine="WLD-01")
    docs.approve_document_revision(plant_store, A, "WI-7", "B")
    with pytest.raises(DocumentRevisionNotCurrent) as superseded:
        docs.confirm_document(plant_store, "user:op", "WI-7", "A", work_order="WO-7", machine="WLD-01")
    assert superseded.value.params == {"document": "WI-7", "revision": "A", "state": "superseded", "current": "B"}
    with pytest.raises(DocumentNotConfirmed):
        _start(plant_store, "WO-7")
    with plant_store.connect() as conn:
        assert wo.store.get(conn, "WO-7").status.value == "planned"  # the refused start changed nothing
    docs.confirm_document(plant_store, "user:op", "WI-7", "B", work_order="WO-7", machine="WLD-01")
    assert _start(plant_store, "WO-7")["stored"] is True
    with plant_store.connect() as conn:
        assert wo.store.get(conn, "WO-7").status.value == "in_progress"


def test_a_file_over_the_limit_is_refused(plant_store, monkeypatch):
    monkeypatch.setattr(docs, "MAX_DOCUMENT_BYTES", 10)
    docs.create_document(plant_store, A, code="DR-1", title="drawing", kind="drawing", item="DRUM-A")
    with pytest.raises(DocumentFileTooLarge):
        docs.add_document_revision(plant_store, A, "DR-1", revision="A", filename="big.png", data=b"x" * 11,
                                   media_type="image/png")  # fmt: skip


@pytest.fixture
def ftp_server(tmp_path):
    """A real FTP server on a free loopback port: user ``dnc`` (password ``s3cret``) writes into its home."""
    home = tmp_path / "control"
    (home / "programs").mkdir(parents=True)
    authorizer = DummyAuthorizer()
    authorizer.add_user("dnc", "s3cret", str(home), perm="elradfmw")
    handler = type("Handler", (FTPHandler,), {"authorizer": authorizer, "passive_ports": None})
    server = FTPServer(("127.0.0.1", 0), handler)
    port = server.socket.getsockname()[1]
    thread = threading.Thread(target=server.serve_forever, kwargs={"timeout": 0.2}, daemon=True)
    thread.start()
    yield home, port
    server.close_all()
    thread.join(timeout=5)


def _program(engine, revision: str, text: bytes, effective: datetime | None = None) -> None:
    docs.add_document_revision(engine, A, "NC-CORE", revision=revision, filename=f"O1001-{revision}.nc", data=text,
                               media_type="text/plain", design_revision="3", cad_sha256=CAD,
                               program_name="O1001")  # fmt: skip
    docs.approve_document_revision(engine, A, "NC-CORE", revision, effective_from=effective)


def test_an_approved_program_goes_to_a_real_ftp_server(plant_store, ftp_server):
    home, port = ftp_server
    docs.create_document(plant_store, A, code="NC-CORE", title="core insert", kind="nc_program", item="DRUM-A",
                         machine="WLD-01", design_ref="MD-7/core")  # fmt: skip
    _program(plant_store, "1", b"%\nO1001 (REV 1)\nM30\n%\n")
    _program(plant_store, "2", b"%\nO1001 (REV 2)\nG90\nM30\n%\n")
    docs.set_dnc_target(plant_store, A, "WLD-01", url=f"ftp://dnc:wrong@127.0.0.1:{port}/programs")
    with pytest.raises(NcTransferFailed) as failed:
        docs.send_nc_program(plant_store, A, "NC-CORE", "2", machine="WLD-01")
    assert "wrong" not in str(failed.value.params)  # the password is never shown
    docs.set_dnc_target(plant_store, A, "WLD-01", url=f"ftp://dnc:s3cret@127.0.0.1:{port}/programs")
    with pytest.raises(DocumentRevisionNotCurrent):  # revision 1 is superseded by 2
        docs.send_nc_program(plant_store, A, "NC-CORE", "1", machine="WLD-01")
    sent = docs.send_nc_program(plant_store, A, "NC-CORE", "2", machine="WLD-01")
    assert (home / "programs" / "O1001").read_bytes() == b"%\nO1001 (REV 2)\nG90\nM30\n%\n"
    assert sent["sha256"] == hashlib.sha256((home / "programs" / "O1001").read_bytes()).hexdigest()
    with plant_store.connect() as conn:
        rows = conn.execute(select(nc_transfers.c.target, func.count()).group_by(nc_transfers.c.target)).all()
    assert [tuple(r) for r in rows] == [(f"ftp://dnc:***@127.0.0.1:{port}/programs", 1)]  # the failure: no row
    with pytest.raises(NcTargetInvalid):
        docs.set_dnc_target(plant_store, A, "WLD-01", url="relative/folder")
    # A revision approved with a later effective date is not sent before it takes effect.
    _program(plant_store, "3", b"%\nO1001 (REV 3)\nM30\n%\n", datetime.now(timezone.utc) + timedelta(days=1))
    with pytest.raises(DocumentRevisionNotCurrent):
        docs.send_nc_program(plant_store, A, "NC-CORE", "3", machine="WLD-01")
