"""Quality over the API: defect rates in PPM by product, machine, shift or defect code (Pareto)."""

from __future__ import annotations

from bisect import bisect_right
from datetime import datetime, timezone
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query
from pydantic import AwareDatetime
from sqlalchemy import Engine, select

from shopfloor.actions.kpi_report import check_window, scope
from shopfloor.analytics.defects import defect_rates
from shopfloor.api.deps import Principal, get_engine, require
from shopfloor.api.errors import problem_responses
from shopfloor.model.calendar import local_midnight
from shopfloor.model.events import CountEvent, CountKind
from shopfloor.model.intervals import Interval
from shopfloor.store.plant import current_plant
from shopfloor.store.schema import machine_events, machines

router = APIRouter(prefix="/api/v1/quality", tags=["quality"])


@router.get(
    "/defects",
    responses=problem_responses(401, 404, 422),
    summary="Defective units per million produced, by product, machine, shift or defect code (Pareto)",
)
def defects(
    _: Principal = Depends(require("view")),
    engine: Engine = Depends(get_engine),
    by: Literal["product", "machine", "shift", "defect"] = "defect",
    machine: str | None = None,
    line: str | None = None,
    start: Annotated[AwareDatetime | None, Query(alias="from", description="Default: today 00:00 plant time")] = None,
    end: Annotated[AwareDatetime | None, Query(alias="to", description="Exclusive; default: now")] = None,
) -> dict[str, Any]:
    with engine.connect() as conn:
        plant = current_plant(conn)
    now = datetime.now(timezone.utc)
    t1 = end.astimezone(timezone.utc) if end else now
    t0 = start.astimezone(timezone.utc) if start else local_midnight(datetime.now(plant.site.tz).date(), plant.site.tz)
    check_window(t0, t1)
    codes = scope(plant, machine, line, site=not (machine or line))
    me, m = machine_events.c, machines.c
    with engine.connect() as conn:
        rows = conn.execute(
            select(me.ts, m.code, me.kind, me.quantity, me.product, me.reason)
            .join(machines, m.id == me.machine_id)
            .where(me.kind != "state", me.ts >= t0, me.ts < t1, m.code.in_(codes))
        ).all()
    counts = [CountEvent(r.ts, r.code, CountKind(r.kind), int(r.quantity), r.product, r.reason) for r in rows]
    occurrences = plant.calendar.occurrences(plant.site.tz, Interval(t0, t1))
    starts = [o.span.start for o in occurrences]

    def shift_of(ev: CountEvent) -> str:
        i = bisect_right(starts, ev.ts) - 1
        return occurrences[i].key if i >= 0 and occurrences[i].span.contains(ev.ts) else "(no shift)"

    result = defect_rates(counts, by, shift_of)
    return {
        "from": t0.isoformat(),
        "to": t1.isoformat(),
        "by": by,
        "machines": codes,
        "rows": [r.to_dict() for r in result],
    }
