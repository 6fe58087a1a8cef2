"""Reports: the shift or daily production report of a line or the plant (JSON, PDF or Excel), in a language."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response
from sqlalchemy import Engine

from shopfloor.api.deps import Principal, get_engine, require
from shopfloor.api.errors import Problem, problem_responses
from shopfloor.api.routers.plant import plant_or_404
from shopfloor.store.plant import StoreError

router = APIRouter(prefix="/api/v1/reports", tags=["reports"])
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def translator(lang: str, plant):
    from shopfloor.web.i18n import LANGUAGES, Translator

    if lang not in LANGUAGES:
        raise Problem(422, "Invalid request", f"lang must be one of {', '.join(LANGUAGES)}")
    t = Translator(lang, plant.site.tz)
    return t.gettext, lambda iso: t.datetime(datetime.fromisoformat(iso))


@router.get(
    "/production",
    response_class=Response,
    responses={
        **problem_responses(401, 404, 422),
        200: {"content": {"application/json": {}, "application/pdf": {}, XLSX: {}}},
    },  # fmt: skip
    summary="Shift or daily production report: output against plan, OEE, downtime, defects, orders finished",
)
def production(
    day: date = Query(..., description="Local day of the site"),
    shift: str | None = Query(None, description="A shift's name; the whole day when omitted"),
    line: str | None = Query(None, description="A line's code; the whole plant when omitted"),
    format: Literal["json", "pdf", "xlsx"] = "json",
    lang: str = Query("en", description="Language of the PDF and workbook: en, ko or vi"),
    _: Principal = Depends(require("view")),
    engine: Engine = Depends(get_engine),
) -> Response:
    import json

    from shopfloor.actions.production_report import (
        ReportError,
        production_report,
        report_pdf,
        report_window,
        report_xlsx,
    )

    plant = plant_or_404(engine)
    gettext, when = translator(lang, plant)
    try:
        window = report_window(plant, day, shift)
        with engine.connect() as conn:
            doc = production_report(conn, plant, window, line=line, no_reason=gettext("(no reason)"))
    except (ReportError, StoreError) as exc:
        raise Problem(422, "Invalid request", str(exc)) from None
    name = f"production-{line or plant.site.code}-{day.isoformat()}{'-' + shift if shift else ''}"
    if format == "pdf":
        return Response(report_pdf(doc, gettext, when), media_type="application/pdf",
                        headers={"Content-Disposition": f'inline; filename="{name}.pdf"'})  # fmt: skip
    if format == "xlsx":
        return Response(report_xlsx(doc, gettext), media_type=XLSX,
                        headers={"Content-Disposition": f'attachment; filename="{name}.xlsx"'})  # fmt: skip
    return Response(json.dumps(doc, ensure_ascii=False), media_type="application/json")
