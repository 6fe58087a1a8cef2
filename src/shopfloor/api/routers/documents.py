"""Controlled documents and NC programs: documents, revisions (upload, approve, download), the operator's
confirmation at order start, DNC targets and sending an NC program to a machine."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, File, Form, UploadFile
from fastapi.responses import Response
from pydantic import AwareDatetime, BaseModel, Field
from sqlalchemy import Engine

from shopfloor.actions import documents as docs
from shopfloor.api.deps import Principal, get_engine, require
from shopfloor.api.errors import problem_responses
from shopfloor.errors import DocumentFileTooLarge
from shopfloor.store import documents as store

router = APIRouter(prefix="/api/v1/documents", tags=["documents"])
Code = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[^\s/]+$")]


class DocumentIn(BaseModel):
    code: Code
    title: str = Field("", max_length=200)
    kind: Literal["work_instruction", "drawing", "inspection_sheet", "setup_sheet", "nc_program"]
    item: str | None = Field(None, max_length=64)
    operation_seq: int | None = Field(None, ge=1)
    machine: str | None = Field(None, max_length=64)
    design_ref: str | None = Field(None, max_length=200, description="NC programs: the design they are made from")


class ApproveIn(BaseModel):
    effective_from: AwareDatetime | None = Field(None, description="In force from (default: now)")


class ConfirmIn(BaseModel):
    document: str = Field(min_length=1, max_length=64)
    revision: str = Field(min_length=1, max_length=32)
    work_order: str = Field(min_length=1, max_length=64)
    machine: str = Field(min_length=1, max_length=64)


class TargetIn(BaseModel):
    url: str = Field(min_length=1, max_length=500, description="ftp://user:password@host:port/folder or a folder")


class SendIn(BaseModel):
    machine: str = Field(min_length=1, max_length=64)


@router.get("", responses=problem_responses(401), summary="Documents with their revisions and the one in force")
def list_documents(_: Principal = Depends(require("view")), engine: Engine = Depends(get_engine)) -> list[dict]:
    now = datetime.now(timezone.utc)
    with engine.connect() as conn:
        return [store.document_dict(conn, code, now) for code in store.document_codes(conn)]


@router.post("", status_code=201, responses=problem_responses(401, 403, 409, 422), summary="A new document")
def create_document(
    body: DocumentIn,
    principal: Principal = Depends(require("manage_documents")),
    engine: Engine = Depends(get_engine),
) -> dict[str, Any]:
    return docs.create_document(engine, principal.actor, **body.model_dump())


@router.post("/{code}/revisions", status_code=201, responses=problem_responses(401, 403, 404, 409, 413, 415, 422),
             summary="Upload a draft revision (multipart: file, revision; NC: design revision, CAD hash)")  # fmt: skip
async def add_revision(
    code: str,
    file: Annotated[UploadFile, File()],
    revision: Annotated[str, Form(min_length=1, max_length=32)],
    note: Annotated[str | None, Form(max_length=2000)] = None,
    design_revision: Annotated[str | None, Form(max_length=64)] = None,
    cad_sha256: Annotated[str | None, Form(max_length=64)] = None,
    program_name: Annotated[str | None, Form(max_length=64)] = None,
    principal: Principal = Depends(require("manage_documents")),
    engine: Engine = Depends(get_engine),
) -> dict[str, Any]:
    data = await file.read(docs.MAX_DOCUMENT_BYTES + 1)
    if len(data) > docs.MAX_DOCUMENT_BYTES:
        raise DocumentFileTooLarge(filename=file.filename or "file", size=len(data), limit=docs.MAX_DOCUMENT_BYTES)
    return docs.add_document_revision(
        engine,
        principal.actor,
        code,
        revision=revision,
        filename=file.filename or "file",
        data=data,
        media_type=file.content_type or "application/octet-stream",
        note=note,
        design_revision=design_revision,
        cad_sha256=cad_sha256,
        program_name=program_name,
    )


@router.post("/{code}/revisions/{revision}/approve", responses=problem_responses(401, 403, 404, 409),
             summary="Approve a draft revision, in force from its effective date")  # fmt: skip
def approve(
    code: str,
    revision: str,
    body: ApproveIn | None = None,
    principal: Principal = Depends(require("manage_documents")),
    engine: Engine = Depends(get_engine),
) -> dict[str, Any]:
    effective = body.effective_from if body else None
    return docs.approve_document_revision(engine, principal.actor, code, revision, effective_from=effective)


@router.get("/{code}/revisions/{revision}/file", responses=problem_responses(401, 404),
            summary="The file of a revision")  # fmt: skip
def revision_file(
    code: str, revision: str, _: Principal = Depends(require("view")), engine: Engine = Depends(get_engine)
) -> Response:
    with engine.connect() as conn:
        row = store.revision_row(conn, code, revision)
        data = store.content(conn, row.id)
    return Response(data, media_type=row.media_type, headers={
        "Content-Disposition": f'inline; filename="{row.filename.encode("ascii", "replace").decode()}"',
        "X-Content-SHA256": row.sha256, "Cache-Control": "private, max-age=300",
    })  # fmt: skip


@router.post("/confirmations", status_code=201, responses=problem_responses(401, 403, 404, 409, 422),
             summary="The operator read the revision in force for an order at a machine")  # fmt: skip
def confirm(
    body: ConfirmIn, principal: Principal = Depends(require("report_production")), engine: Engine = Depends(get_engine)
) -> dict[str, Any]:
    return docs.confirm_document(engine, principal.actor, body.document, body.revision, work_order=body.work_order,
                                 machine=body.machine)  # fmt: skip


@router.put("/dnc/{machine}", responses=problem_responses(401, 403, 422),
            summary="Where a machine's control takes its NC programs")  # fmt: skip
def set_target(
    machine: str,
    body: TargetIn,
    principal: Principal = Depends(require("manage_documents")),
    engine: Engine = Depends(get_engine),
) -> dict[str, Any]:
    return docs.set_dnc_target(engine, principal.actor, machine, url=body.url)


@router.post("/{code}/revisions/{revision}/send", responses=problem_responses(401, 403, 404, 409, 422, 503),
             summary="Send the NC program revision in force to a machine's control")  # fmt: skip
def send(
    code: str,
    revision: str,
    body: SendIn,
    principal: Principal = Depends(require("manage_documents")),
    engine: Engine = Depends(get_engine),
) -> dict[str, Any]:
    return docs.send_nc_program(engine, principal.actor, code, revision, machine=body.machine)
