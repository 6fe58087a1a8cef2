"""The documents page: controlled documents with their revisions (state, SHA-256, effective date, the design an
NC program was made from), upload and approval, the machines' DNC targets and sending a program.  Every form
calls an action and shows its refusal translated."""

from __future__ import annotations

from datetime import datetime, timezone

from fastapi import APIRouter, Depends, File, Form, Request, UploadFile
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import Engine

from shopfloor.actions import documents as docs
from shopfloor.api.deps import Principal, allowed, get_engine
from shopfloor.errors import DocumentFileTooLarge, DomainError
from shopfloor.model.documents import DocumentKind
from shopfloor.store import documents as store
from shopfloor.web.pages import form_action, page_context, page_user, plant_of, render, show_refusal

router = APIRouter(include_in_schema=False)


def _page(request: Request, principal: Principal, engine: Engine, refusal: DomainError | None = None) -> HTMLResponse:
    plant = plant_of(engine)
    now = datetime.now(timezone.utc)
    with engine.connect() as conn:
        listing = [store.document_dict(conn, code, now) for code in store.document_codes(conn)]
        targets = {m.code: store.target(conn, m.code) for m in plant.machines}
    ctx = page_context(
        request,
        principal,
        plant,
        documents=listing,
        kinds=[k.value for k in DocumentKind],
        machines=plant.machines,
        targets={m: docs.shown_target(t) if t else None for m, t in targets.items()},
        can_manage=allowed(principal, "manage_documents"),
    )
    status = show_refusal(ctx, refusal) if refusal is not None else 200
    return render(request, "documents.html", ctx, status)


@router.get("/documents")
def documents_page(
    request: Request, principal: Principal = Depends(page_user), engine: Engine = Depends(get_engine)
) -> HTMLResponse:
    return _page(request, principal, engine)


def _do(request: Request, principal: Principal, engine: Engine, csrf: str, work) -> Response:
    return form_action(
        principal, csrf, "manage_documents", work, "/documents", lambda exc: _page(request, principal, engine, exc)
    )


@router.post("/documents")
def new_document(
    request: Request,
    code: str = Form(..., min_length=1, max_length=64),
    title: str = Form("", max_length=200),
    kind: str = Form(..., max_length=24),
    item: str = Form("", max_length=64),
    operation_seq: int | None = Form(None, ge=1),
    machine: str = Form("", max_length=64),
    design_ref: str = Form("", max_length=200),
    csrf_token: str = Form(""),
    principal: Principal = Depends(page_user),
    engine: Engine = Depends(get_engine),
) -> Response:
    return _do(request, principal, engine, csrf_token, lambda: docs.create_document(
        engine, principal.actor, code=code.strip(), title=title.strip(), kind=kind, item=item.strip() or None,
        operation_seq=operation_seq, machine=machine or None, design_ref=design_ref.strip() or None))  # fmt: skip


@router.post("/documents/{code}/revisions")
async def new_revision(
    code: str,
    request: Request,
    file: UploadFile = File(...),
    revision: str = Form(..., min_length=1, max_length=32),
    note: str = Form("", max_length=2000),
    design_revision: str = Form("", max_length=64),
    cad_sha256: str = Form("", max_length=64),
    program_name: str = Form("", max_length=64),
    csrf_token: str = Form(""),
    principal: Principal = Depends(page_user),
    engine: Engine = Depends(get_engine),
) -> Response:
    data = await file.read(docs.MAX_DOCUMENT_BYTES + 1)

    def work():
        if len(data) > docs.MAX_DOCUMENT_BYTES:
            raise DocumentFileTooLarge(filename=file.filename or "file", size=len(data), limit=docs.MAX_DOCUMENT_BYTES)
        docs.add_document_revision(
            engine,
            principal.actor,
            code,
            revision=revision.strip(),
            filename=file.filename or "file",
            data=data,
            media_type=file.content_type or "application/octet-stream",
            note=note.strip() or None,
            design_revision=design_revision.strip() or None,
            cad_sha256=cad_sha256.strip() or None,
            program_name=program_name.strip() or None,
        )

    return _do(request, principal, engine, csrf_token, work)


@router.post("/documents/{code}/revisions/{revision}/approve")
def approve(
    code: str,
    revision: str,
    request: Request,
    csrf_token: str = Form(""),
    principal: Principal = Depends(page_user),
    engine: Engine = Depends(get_engine),
) -> Response:
    return _do(request, principal, engine, csrf_token,
               lambda: docs.approve_document_revision(engine, principal.actor, code, revision))  # fmt: skip


@router.post("/documents/dnc")
def dnc_target(
    request: Request,
    machine: str = Form(..., min_length=1, max_length=64),
    url: str = Form(..., min_length=1, max_length=500),
    csrf_token: str = Form(""),
    principal: Principal = Depends(page_user),
    engine: Engine = Depends(get_engine),
) -> Response:
    return _do(request, principal, engine, csrf_token,
               lambda: docs.set_dnc_target(engine, principal.actor, machine, url=url))  # fmt: skip


@router.post("/documents/{code}/revisions/{revision}/send")
def send(
    code: str,
    revision: str,
    request: Request,
    machine: str = Form(..., min_length=1, max_length=64),
    csrf_token: str = Form(""),
    principal: Principal = Depends(page_user),
    engine: Engine = Depends(get_engine),
) -> Response:
    return _do(request, principal, engine, csrf_token,
               lambda: docs.send_nc_program(engine, principal.actor, code, revision, machine=machine))  # fmt: skip
