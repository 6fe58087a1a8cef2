"""The KPI report of a machine, a line or the site over a window: one shape for the CLI, the API and pages,
so that every screen shows the same figures computed the same way."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection

from shopfloor.analytics.kpi import report
from shopfloor.model.intervals import Interval
from shopfloor.model.plant import Plant
from shopfloor.store import kpi as kpi_store

BUCKETS = ("hour", "shift", "day")


def _round(value: Any) -> Any:
    # Rounded once, here, for every consumer: ratios to 6 decimals, seconds to microseconds.
    return round(value, 6) if isinstance(value, float) else value


def kpi_report(
    conn: Connection,
    plant: Plant,
    window: Interval,
    machine: str | None = None,
    line: str | None = None,
    site: bool = False,
    by: str | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Elements and KPIs for the window (and per bucket with ``by``); raises StoreError for a bad scope."""
    if by is not None and by not in BUCKETS:
        raise ValueError(f"by {by!r}: expected hour, shift or day")
    machines = kpi_store.scope_machines(plant, machine, line, site)
    total = kpi_store.elements(conn, plant, machines, window, now)
    result: dict[str, Any] = {
        "scope": {"machine": machine, "line": line, "site": plant.site.code if site else None, "machines": machines},
        "from": window.start.isoformat(),
        "to": window.end.isoformat(),
        "timezone": plant.site.timezone,
        **{k: _round(v) for k, v in report(total).items()},
    }
    if by:
        result["by"] = by
        result["buckets"] = [
            {
                "bucket": label,
                "from": iv.start.isoformat(),
                "to": iv.end.isoformat(),
                **{k: _round(v) for k, v in report(el).items()},
            }
            for label, iv, el in kpi_store.bucketed(conn, plant, machines, window, by, now)
        ]
    return result
