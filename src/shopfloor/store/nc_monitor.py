"""The NC program a machine reports running, checked against the approved program for the operation it runs.

The program in force is the NC program document of the running order's item (and of this machine, or of the
operation done at it) whose approved revision is in force (``store.documents``); its revision names the program
as the control reports it (``program_name``, else the file name without its extension).  A machine running
another program raises a process alarm (rule ``nc_program``) on its board tile, once until it is acknowledged.
Without an approved program for the operation there is nothing to compare, and nothing is raised.
"""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import PurePosixPath
from typing import Any

from sqlalchemy import Connection, func, select
from sqlalchemy.dialects import postgresql, sqlite

from shopfloor.model.plant import Plant
from shopfloor.store import documents, work_orders
from shopfloor.store.plant import machine_ids
from shopfloor.store.schema import alarms

RULE = "nc_program"


def program_names(revision: dict[str, Any]) -> set[str]:
    """The names a control may report for a program revision: its program name, its file name with and
    without extension."""
    names = {revision["filename"], PurePosixPath(revision["filename"]).stem}
    if revision.get("program_name"):
        names.add(revision["program_name"])
    return {n.strip().upper() for n in names if n}


def expected(conn: Connection, plant: Plant, machine: str, at: datetime) -> tuple[str | None, list[dict[str, Any]]]:
    """The running order at ``machine`` and the NC programs in force for it."""
    order = work_orders.running_on(conn, machine)
    programs = documents.approved_programs(conn, plant, order.product if order else None, machine, at)
    return (order.code if order else None), programs


def check(conn: Connection, plant: Plant, reports: list[tuple[datetime, str, str]]) -> list[int]:
    """Raise an alarm for each report of a program other than the approved one; returns the alarm ids."""
    ids = machine_ids(conn)
    raised = []
    for ts, machine, reported in reports:
        if machine not in ids:
            continue
        order, programs = expected(conn, plant, machine, ts)
        if not programs:
            continue
        allowed = set().union(*(program_names(p["revision"]) for p in programs))
        if reported.strip().upper() in allowed:
            continue
        name = f"program {reported}"[:64]
        a = alarms.c
        already = conn.execute(
            select(func.count()).where(a.machine_id == ids[machine], a.rule == RULE, a.name == name, a.ack_at.is_(None))
        ).scalar()
        if already:
            continue
        points = (
            [f"reported {reported}"]
            + [
                f"approved {p['revision'].get('program_name') or p['revision']['filename']} ({p['code']} rev "
                f"{p['revision']['revision']})"
                for p in programs
            ]
            + ([f"order {order}"] if order else [])
        )
        dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
        row = conn.execute(
            dialect.insert(alarms)
            .values(machine_id=ids[machine], name=name, rule=RULE, ts=ts, value=0.0, points=points,
                    raised_at=datetime.now(timezone.utc))
            .on_conflict_do_nothing()  # the same report delivered again (a replayed buffer)
            .returning(alarms.c.id)
        ).scalar()  # fmt: skip
        if row is not None:
            raised.append(row)
    return raised
