"""The KPI report of a machine, a line or the site over a window: one shape for the CLI, the API and pages,
so that every screen shows the same figures computed the same way.

Every result (the window's and each bucket's) says which part of it had data: ``coverage`` (``from``, ``to`` and
the covered ``fraction`` of the window's machine-time) and ``partial`` (some of it had none: before the first
event, or after now).  A window or bucket without any data has null figures, never zeros."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from sqlalchemy import Connection

from shopfloor.analytics.kpi import labour_productivity, report
from shopfloor.errors import (
    BucketUnknown,
    HoursTooLong,
    LineUnknown,
    MachineUnknown,
    ScopeNotChosen,
    ShiftsTooLong,
    WindowReversed,
    WindowTooLong,
)
from shopfloor.model.intervals import Interval
from shopfloor.model.plant import Plant
from shopfloor.store import attendance
from shopfloor.store import kpi as kpi_store

BUCKETS = ("hour", "shift", "day")
MAX_DAYS = 3_660


def _round(value: Any) -> Any:
    # Rounded once, here, for every consumer: ratios to 6 decimals, seconds to microseconds.
    return round(value, 6) if isinstance(value, float) else value


def scope(plant: Plant, machine: str | None = None, line: str | None = None, site: bool = False) -> list[str]:
    """The machine codes of one machine, one line or the whole site; any other choice is refused."""
    if sum(1 for x in (machine, line) if x) + (1 if site else 0) != 1:
        raise ScopeNotChosen()
    if machine and machine not in {m.code for m in plant.machines}:
        raise MachineUnknown(machine=machine)
    if line and line not in {ln.code for ln in plant.lines}:
        raise LineUnknown(line=line, lines=[ln.code for ln in plant.lines])
    return kpi_store.scope_machines(plant, machine, line, site)


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
    """Elements and KPIs for the window (and per bucket with ``by``)."""
    if by is not None and by not in BUCKETS:
        raise BucketUnknown(by=by)
    machines = scope(plant, machine, line, site)
    total, cover = kpi_store.measure(conn, plant, machines, window, now)
    result: dict[str, Any] = {
        "scope": {"machine": machine, "line": line, "site": plant.site.code if site else None, "machines": machines},
        "from": window.start.isoformat(),
        "to": window.end.isoformat(),
        "timezone": plant.site.timezone,
        **{k: _round(v) for k, v in report(total, cover).items()},
        **labour(conn, machines, window, now, total.gq if not cover.empty else None),
    }
    if by:
        result["by"] = by
        result["buckets"] = [
            {
                "bucket": label,
                "from": iv.start.isoformat(),
                "to": iv.end.isoformat(),
                **{k: _round(v) for k, v in report(el, bucket_cover).items()},
                **labour(conn, machines, iv, now, el.gq if not bucket_cover.empty else None),
            }
            for label, iv, el, bucket_cover in kpi_store.measure_buckets(conn, plant, machines, window, by, now)
        ]
    return result


def labour(
    conn: Connection, machines: list[str], window: Interval, now: datetime | None, gq: int | None
) -> dict[str, float | None]:
    """Worker-hours signed in at ``machines`` in ``window`` (up to now) and labour productivity, good units per
    worker-hour (``shopfloor.analytics.kpi.labour_productivity``); None where nobody signed in."""
    seconds = attendance.worker_s(conn, machines, window, now or datetime.now(timezone.utc))
    return {"worker_h": _round(seconds / 3600), "labour_productivity": _round(labour_productivity(gq, seconds))}


def check_window(t0: datetime, t1: datetime, by: str | None = None) -> None:
    """A window that ends after it starts, of at most ten years (hourly buckets: 62 days; shifts: 400)."""
    if t1 <= t0:
        raise WindowReversed(start=t0.isoformat(), end=t1.isoformat())
    if by == "hour" and (t1 - t0).days > 62:
        raise HoursTooLong(days=62)
    if by == "shift" and (t1 - t0).days > 400:
        raise ShiftsTooLong(days=400)
    if (t1 - t0).days > MAX_DAYS:
        raise WindowTooLong(days=MAX_DAYS)


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
