"""ISO 22400-2 KPIs over the API: the same report as ``shopfloor kpi --json``, with the part of the window that
had data (``coverage``, ``partial``); a window or bucket without data has null figures."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query
from pydantic import AwareDatetime
from sqlalchemy import Engine

from shopfloor.actions.kpi_report import check_window, kpi_report
from shopfloor.api.deps import Principal, get_engine, require
from shopfloor.api.errors import problem_responses
from shopfloor.model.calendar import local_midnight
from shopfloor.model.intervals import Interval
from shopfloor.store.plant import current_plant

router = APIRouter(prefix="/api/v1", tags=["kpi"])


@router.get(
    "/kpi",
    responses=problem_responses(401, 404, 422),
    summary="KPIs of a machine, a line or the site (ratios as fractions; null where undefined)",
    description=(
        "Time after now is not counted. `coverage` says which part of the window had data (`from`, `to`, and the "
        "covered `fraction` of the window's machine-time, from each machine's first event up to now); `partial` is "
        "true when some of it had none. A window or bucket without any data has every figure null, never 0."
    ),
)
def get_kpi(
    _: Principal = Depends(require("view")),
    engine: Engine = Depends(get_engine),
    machine: str | None = None,
    line: str | None = None,
    site: bool = False,
    start: Annotated[AwareDatetime | None, Query(alias="from", description="Default: today 00:00 plant time")] = None,
    end: Annotated[AwareDatetime | None, Query(alias="to", description="Exclusive; default: now")] = None,
    by: Literal["hour", "shift", "day"] | None = None,
) -> dict[str, Any]:
    with engine.connect() as conn:
        plant = current_plant(conn)
    now = datetime.now(timezone.utc)
    t1 = end.astimezone(timezone.utc) if end else now
    if start:
        t0 = start.astimezone(timezone.utc)
    else:
        t0 = local_midnight(datetime.now(plant.site.tz).date(), plant.site.tz)
    check_window(t0, t1, by)
    with engine.connect() as conn:
        return kpi_report(conn, plant, Interval(t0, t1), machine, line, site, by, now)
