"""Inspection plans (characteristics), samples and their control charts, and nonconformance reports."""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Literal

from fastapi import APIRouter, Depends, File, Header, Query, UploadFile
from fastapi.responses import Response
from pydantic import AwareDatetime, BaseModel, Field
from sqlalchemy import Engine

from shopfloor.actions import quality as actions
from shopfloor.actions.quality_report import characteristic_pdf as render_characteristic_pdf
from shopfloor.api.body_guard import UPLOAD
from shopfloor.api.deps import Principal, get_engine, require
from shopfloor.api.errors import problem_responses
from shopfloor.errors import PayloadTooLarge
from shopfloor.store import inspections as insp
from shopfloor.store import ncr as ncr_store

router = APIRouter(prefix="/api/v1/quality", tags=["quality"])
KeyHeader = Header(None, alias="Idempotency-Key", max_length=100, description="The same key is done once")
MAX_SAMPLES_FILE = 20 * 2**20


class ChartOptionsIn(BaseModel):
    """Chart options; each left out takes the chart's default (see ``shopfloor spc --help``)."""

    nsigmas: float | None = Field(None, gt=0.5, le=6, description="Width of the limits in sigmas (L of the EWMA)")
    centre: float | None = Field(None, description="Known centre (EWMA/CUSUM target; p, c or u)")
    sigma: float | None = Field(None, gt=0, description="Known sigma of individual values")
    lam: float | None = Field(None, alias="lambda", gt=0, le=1, description="EWMA weight")
    ewma_limits: Literal["exact", "asymptotic"] | None = None
    k: float | None = Field(None, gt=0, le=10, description="CUSUM reference value, in sigmas")
    h: float | None = Field(None, gt=0, le=50, description="CUSUM decision interval, in sigmas")
    sigma_method: Literal["uwave", "pooled"] | None = None
    capability_on: Literal["phase1", "all"] | None = None
    capability_method: Literal["normal", "percentile", "boxcox"] | None = None

    model_config = {"populate_by_name": True}


class CharacteristicIn(BaseModel):
    product: str = Field(min_length=1, max_length=64)
    code: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9._/-]*$")
    name: str = Field(min_length=1, max_length=200)
    kind: Literal["variable", "attribute"]
    chart: Literal["xbar-r", "xbar-s", "imr", "ewma", "cusum", "p", "np", "c", "u"]
    unit: str | None = Field(None, max_length=16)
    nominal: float | None = None
    lsl: float | None = None
    usl: float | None = None
    sample_size: int = Field(ge=1, le=10_000)
    every_parts: int | None = Field(None, ge=1, le=10_000_000, description="Inspect every N parts")
    every_minutes: int | None = Field(None, ge=1, le=525_600, description="Inspect every N minutes")
    rules: str | None = Field(
        None,
        max_length=200,
        description="nelson, we or limits, optionally with rules and parameters (nelson:1,2=7,5=2/3); "
        "default: nelson, or only the limits for EWMA and CUSUM",
    )
    options: ChartOptionsIn | None = None
    valid_min: float | None = Field(None, description="Plausible range of a measurement (e.g. the gauge's range)")
    valid_max: float | None = None
    phase1: int | None = Field(
        None, ge=2, le=10_000, description="Subgroups that set the limits, which are then frozen"
    )
    operation_seq: int | None = Field(None, ge=1, le=2_147_483_647)
    machine: str | None = Field(None, max_length=64, description="With process_value: charted from the machine")
    process_value: str | None = Field(None, max_length=64)
    active: bool = True


class SampleIn(BaseModel):
    measurements: list[float | str] | None = Field(None, max_length=25, description="Variables: the subgroup")
    inspected: int | None = Field(None, ge=1, le=1_000_000_000, description="Attributes: units inspected")
    nonconforming: int | None = Field(
        None, ge=0, le=1_000_000_000, description="Attributes: nonconforming units or defects"
    )
    defect: str | None = Field(None, max_length=64)
    lot: str | None = Field(None, max_length=64)
    work_order: str | None = Field(None, max_length=64)
    machine: str | None = Field(None, max_length=64)
    ts: AwareDatetime | None = Field(None, description="When it was measured; default now")
    source: Literal["terminal", "api"] = "api"


class ReasonIn(BaseModel):
    reason: str = Field(min_length=1, max_length=2000)


class ExclusionIn(BaseModel):
    reason: str | None = Field(
        None, max_length=2000, description="The assignable cause; null takes the sample back into the limits"
    )


class NcrIn(BaseModel):
    description: str = Field(min_length=1, max_length=4000)
    lot: str | None = Field(None, max_length=64)
    qty: Decimal | None = Field(None, gt=0, le=10**12, description="Nonconforming quantity of the lot")
    work_order: str | None = Field(None, max_length=64)
    machine: str | None = Field(None, max_length=64)
    characteristic_id: int | None = Field(None, ge=1, le=2_147_483_647)
    defect: str | None = Field(None, max_length=64)


class DispositionIn(BaseModel):
    disposition: Literal["scrap", "rework", "use_as_is", "return_to_supplier"]
    note: str = Field(min_length=1, max_length=2000)


@router.get("/characteristics", responses=problem_responses(401), summary="Inspection characteristics")
def list_characteristics(
    product: str | None = None,
    machine: str | None = Query(None, description="Those inspected at this machine"),
    _: Principal = Depends(require("view")),
    engine: Engine = Depends(get_engine),
) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        return [c.to_dict() for c in insp.characteristics(conn, product, machine)]


@router.post(
    "/characteristics",
    status_code=201,
    responses=problem_responses(401, 403, 404, 422),
    summary="Create a characteristic, or change the one with the same product and code",
)
def save_characteristic(
    body: CharacteristicIn,
    principal: Principal = Depends(require("manage_quality")),
    engine: Engine = Depends(get_engine),
) -> dict[str, Any]:
    spec = body.model_dump(exclude={"options"})
    spec["options"] = body.options.model_dump(by_alias=True, exclude_none=True) if body.options else None
    return actions.save_characteristic(engine, principal.actor, spec)


@router.get(
    "/characteristics/{cid}",
    responses=problem_responses(401, 404),
    summary="A characteristic's control chart: limits per point, violations, capability, frozen or not",
)
def characteristic_chart(
    cid: int,
    limit: int = Query(100, ge=2, le=2000, description="Latest subgroups shown"),
    _: Principal = Depends(require("view")),
    engine: Engine = Depends(get_engine),
) -> dict[str, Any]:
    with engine.connect() as conn:
        return insp.chart(conn, insp.get(conn, cid), limit)


@router.get(
    "/characteristics/{cid}/chart.pdf",
    response_class=Response,
    responses={**problem_responses(401, 404), 200: {"content": {"application/pdf": {}}}},
    summary="The characteristic's control chart, violations and capability as PDF",
)
def characteristic_pdf(
    cid: int,
    limit: int = Query(100, ge=2, le=2000),
    _: Principal = Depends(require("view")),
    engine: Engine = Depends(get_engine),
) -> Response:
    with engine.connect() as conn:
        doc = insp.chart(conn, insp.get(conn, cid), limit)
    return Response(render_characteristic_pdf(doc), media_type="application/pdf")


@router.get("/characteristics/{cid}/samples", responses=problem_responses(401, 404), summary="Latest samples")
def list_samples(
    cid: int,
    limit: int = Query(200, ge=1, le=2000),
    _: Principal = Depends(require("view")),
    engine: Engine = Depends(get_engine),
) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        return insp.samples(conn, insp.get(conn, cid), limit)


@router.post(
    "/characteristics/{cid}/samples",
    status_code=201,
    responses=problem_responses(401, 403, 404, 422),
    summary="Record a sample; the answer lists the rule violations its point completes",
)
def record_sample(
    cid: int,
    body: SampleIn,
    principal: Principal = Depends(require("record_inspections")),
    engine: Engine = Depends(get_engine),
    key: str | None = KeyHeader,
) -> dict[str, Any]:
    return actions.record_sample(engine, principal.actor, cid, key=key, **body.model_dump())


@router.post(
    "/characteristics/{cid}/samples/{sid}/void",
    responses=problem_responses(401, 403, 404, 409, 422),
    summary="Void a sample (a wrong entry): kept with the reason, never charted again",
)
def void_sample(
    cid: int,
    sid: int,
    body: ReasonIn,
    principal: Principal = Depends(require("manage_quality")),
    engine: Engine = Depends(get_engine),
) -> dict[str, Any]:
    return actions.void_sample(engine, principal.actor, cid, sid, reason=body.reason)


@router.post(
    "/characteristics/{cid}/samples/{sid}/exclude",
    responses=problem_responses(401, 403, 404, 409, 422),
    summary="Leave a sample out of the phase I limits for an assignable cause (it stays on the chart), or take it back",
)
def exclude_sample(
    cid: int,
    sid: int,
    body: ExclusionIn,
    principal: Principal = Depends(require("manage_quality")),
    engine: Engine = Depends(get_engine),
) -> dict[str, Any]:
    return actions.exclude_sample(engine, principal.actor, cid, sid, reason=body.reason)


@router.post(
    "/samples/import",
    responses=problem_responses(401, 403, 413, 422),
    summary="Samples from a CSV file; refused whole, with the line of each problem",
    description="Columns: product, characteristic, ts, values (or value1..valueN) or inspected and nonconforming, "
    "and optionally defect, lot, work_order, machine, key. A 422 answer lists the problems in `problems`.",
    openapi_extra=UPLOAD,
)
def import_samples(
    file: UploadFile = File(...),
    principal: Principal = Depends(require("record_inspections")),
    engine: Engine = Depends(get_engine),
) -> dict[str, Any]:
    content = file.file.read(MAX_SAMPLES_FILE + 1)
    if len(content) > MAX_SAMPLES_FILE:
        raise PayloadTooLarge(limit=f"{MAX_SAMPLES_FILE // 2**20} MiB")
    return actions.import_sample_file(engine, principal.actor, content, file.filename or "samples.csv")


@router.get("/ncrs", responses=problem_responses(401), summary="Nonconformance reports, newest first")
def list_ncrs(
    status: Literal["open", "closed"] | None = None,
    lot: str | None = None,
    _: Principal = Depends(require("view")),
    engine: Engine = Depends(get_engine),
) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        return ncr_store.listing(conn, status, lot)


@router.post(
    "/ncrs",
    status_code=201,
    responses=problem_responses(401, 403, 404, 422),
    summary="Open an NCR; its lot, if in use, goes on hold",
)
def open_ncr(
    body: NcrIn,
    principal: Principal = Depends(require("report_nonconformance")),
    engine: Engine = Depends(get_engine),
    key: str | None = KeyHeader,
) -> dict[str, Any]:
    return actions.open_ncr(engine, principal.actor, key=key, **body.model_dump())


@router.post(
    "/ncrs/{code}/disposition",
    responses=problem_responses(401, 403, 404, 409, 422),
    summary="Decide an NCR: scrap, rework, use as is or return to supplier; acts on its lot and closes it",
)
def dispose(
    code: str,
    body: DispositionIn,
    principal: Principal = Depends(require("manage_quality")),
    engine: Engine = Depends(get_engine),
) -> dict[str, Any]:
    return actions.dispose_ncr(engine, principal.actor, code, disposition=body.disposition, note=body.note)
