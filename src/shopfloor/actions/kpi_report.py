"""The KPI report of a machine, a line or the site over a window: one shape for the CLI, the API and pages,
so that every screen shows the same figures computed the same way.

Every result (the window's and each bucket's) says which part of it had data: ``coverage`` (``from``, ``to`` and
the covered ``fraction`` of the window's machine-time) and ``partial`` (some of it had none: before the first
event, or after now).  A window or bucket without any data has null figures, never zeros."""

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
    total, cover = kpi_store.measure(conn, plant, machines, window, now)
    result: dict[str, Any] = {
        "scope": {"machine": machine, "line": line, "site": plant.site.code if site else None, "machines": machines},
        "from": window.start.isoformat(),
        "to": window.end.isoformat(),
        "timezone": plant.site.timezone,
        **{k: _round(v) for k, v in report(total, cover).items()},
    }
    if by:
        result["by"] = by
        result["buckets"] = [
            {
                "bucket": label,
                "from": iv.start.isoformat(),
                "to": iv.end.isoformat(),
                **{k: _round(v) for k, v in report(el, bucket_cover).items()},
            }
            for label, iv, el, bucket_cover in kpi_store.measure_buckets(conn, plant, machines, window, by, now)
        ]
    return result


def coverage_note(result: dict[str, Any], t=lambda s: s, when=lambda iso: iso[:16].replace("T", " ")) -> str | None:
    """A sentence marking a partial period of a report (with the part that had data), None for a complete one.

    ``result`` is a report or a bucket of one (with ``coverage`` and ``partial``); ``t`` translates, ``when``
    formats an ISO timestamp."""
    if not result["partial"]:
        return None
    cover = result["coverage"]
    if not cover["fraction"]:
        return t("No data in this period")
    return t("Partial period: data from {start} to {end} ({share} of the period)").format(
        start=when(cover["from"]), end=when(cover["to"]), share=f"{cover['fraction'] * 100:.1f} %"
    )
