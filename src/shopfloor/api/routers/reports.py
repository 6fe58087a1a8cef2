"""Reports: the shift or daily production report of a line or the plant (JSON, PDF or Excel), in a language."""

from __future__ import annotations

import json
from datetime import date
from typing import Literal

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response
from sqlalchemy import Engine

from shopfloor.actions.improvement_report import improvement_pdf, improvement_report, improvement_xlsx, period
from shopfloor.actions.production_report import production_report, report_pdf, report_window, report_xlsx
from shopfloor.api.deps import Principal, get_engine, require
from shopfloor.api.errors import problem_responses
from shopfloor.errors import ReportLanguage, TargetInvalid
from shopfloor.i18n import LANGUAGES, Translator
from shopfloor.store.plant import current_plant

router = APIRouter(prefix="/api/v1/reports", tags=["reports"])
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def translator(lang: str, plant):
    if lang not in LANGUAGES:
        raise ReportLanguage(languages=list(LANGUAGES), lang=lang)
    t = Translator(lang, plant.site.tz)
    return t.gettext, t.datetime_iso


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
    with engine.connect() as conn:
        plant = current_plant(conn)
        gettext, when = translator(lang, plant)
        window = report_window(plant, day, shift)
        doc = production_report(conn, plant, window, line=line, no_reason=gettext("(no reason)"))
    name = f"production-{line or plant.site.code}-{day.isoformat()}{'-' + shift if shift else ''}"
    if format == "pdf":
        names = lambda code: plant.reason_name(code, lang)  # noqa: E731 - reasons and defects by their names
        return Response(report_pdf(doc, gettext, when, names), media_type="application/pdf",
                        headers={"Content-Disposition": f'inline; filename="{name}.pdf"'})  # fmt: skip
    if format == "xlsx":
        return Response(report_xlsx(doc, gettext), media_type=XLSX,
                        headers={"Content-Disposition": f'attachment; filename="{name}.xlsx"'})  # fmt: skip
    return Response(json.dumps(doc, ensure_ascii=False), media_type="application/json")


@router.get(
    "/improvement",
    response_class=Response,
    responses={
        **problem_responses(401, 404, 422),
        200: {"content": {"application/json": {}, "application/pdf": {}, XLSX: {}}},
    },  # fmt: skip
    summary="Before/after improvement report with the meaningfulness of each change",
    description="KPIs: output_per_hour, oee, operating_rate, ppm, first_pass_yield, scrap_ratio, on_time_delivery, "
    "order_lead_time, shipments_on_time (and labour_productivity). "
    "Periods are FROM..TO in local days of the site, both included.",
)
def improvement(
    baseline: str = Query(..., description="FROM..TO, e.g. 2026-01-01..2026-03-31"),
    after: str = Query(..., description="FROM..TO"),
    line: str | None = None,
    target: list[str] = Query([], description="KPI=NUMBER, repeatable, e.g. ppm=1500"),
    confidence: float = Query(0.95, gt=0.5, lt=1.0),
    format: Literal["json", "pdf", "xlsx"] = "json",
    lang: str = Query("en"),
    _: Principal = Depends(require("view")),
    engine: Engine = Depends(get_engine),
) -> Response:
    targets: dict[str, float] = {}
    for item in target:
        name, _sep, value = item.partition("=")
        try:
            targets[name.strip()] = float(value)
        except ValueError:
            raise TargetInvalid(target=item) from None
    with engine.connect() as conn:
        plant = current_plant(conn)
        gettext, when = translator(lang, plant)
        doc = improvement_report(
            conn, plant, period(plant, baseline), period(plant, after), line, targets, confidence=confidence
        )
    if format == "pdf":
        return Response(improvement_pdf(doc, gettext, when), media_type="application/pdf")
    if format == "xlsx":
        return Response(improvement_xlsx(doc, gettext), media_type=XLSX,
                        headers={"Content-Disposition": 'attachment; filename="improvement.xlsx"'})  # fmt: skip
    return Response(json.dumps(doc, ensure_ascii=False, default=str), media_type="application/json")
