"""Live SPC on watched process values: estimate phase I limits once, then raise an alarm for every rule
violation that a newly stored value completes.  Runs in the ingest writer's transaction.

Each watched value (``spc:`` on a process tag) gets an individuals chart: once ``baseline`` values are stored,
its centre and sigma (MR-bar / d2) are estimated from them and frozen (phase II from then on).  After each commit
the last values are tested with the chosen rule set; an alarm is unique per value, rule and completing point, so
checking the same points twice raises nothing new.
"""

from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import Connection, select
from sqlalchemy.dialects import postgresql, sqlite

from shopfloor.analytics import spc
from shopfloor.analytics.run_rules import evaluate
from shopfloor.model.plant import Plant
from shopfloor.model.tags import parse_tags
from shopfloor.store.locks import lock_name
from shopfloor.store.plant import machine_ids
from shopfloor.store.schema import alarms, measurements, spc_limits

WINDOW = 40  # enough points for the longest pattern (15 in a row) with margin


def watched(plant: Plant) -> dict[tuple[str, str], tuple[int, str]]:
    """(machine, value name) -> (baseline, rule set) for every process value with ``spc``."""
    products = {p.code for p in plant.products}
    out = {}
    for m in plant.machines:
        if not m.tags:
            continue
        for rule in parse_tags(m.code, m.tags, products).process:
            if rule.spc_baseline:
                out[(m.code, rule.name)] = (rule.spc_baseline, rule.spc_rules)
    return out


def check(
    conn: Connection,
    plant: Plant,
    touched: set[tuple[str, str]],
    config: dict[tuple[str, str], tuple[int, str]] | None = None,
) -> list[tuple[str, str]]:
    """Test the touched values; returns (machine, rule) of each new alarm."""
    config = watched(plant) if config is None else config
    ids = machine_ids(conn)
    raised: list[tuple[str, str]] = []
    now = datetime.now(timezone.utc)
    for machine, name in sorted(touched):
        if (machine, name) not in config:
            continue
        baseline, rules = config[(machine, name)]
        mid = ids[machine]
        lock_name(conn, "spc_limits", machine, name)
        ms = measurements.c
        limits = conn.execute(
            select(spc_limits).where(spc_limits.c.machine_id == mid, spc_limits.c.name == name)
        ).first()
        if limits is None:
            first = (
                conn.execute(
                    select(ms.value)
                    .where(ms.machine_id == mid, ms.name == name, ms.quality == "good")
                    .order_by(ms.ts)
                    .limit(baseline)
                )
                .scalars()
                .all()
            )
            if len(first) < baseline:
                continue
            chart, _ = spc.imr(first)
            conn.execute(
                spc_limits.insert().values(
                    machine_id=mid,
                    name=name,
                    centre=float(chart.centre[0]),
                    sigma=chart.extra["sigma"],
                    baseline_points=baseline,
                    estimated_at=now,
                )
            )
            centre, sigma = float(chart.centre[0]), chart.extra["sigma"]
        else:
            centre, sigma = limits.centre, limits.sigma
        recent = conn.execute(
            select(ms.ts, ms.value)
            .where(ms.machine_id == mid, ms.name == name, ms.quality == "good")
            .order_by(ms.ts.desc())
            .limit(WINDOW)
        ).all()[::-1]
        if len(recent) < 2 or sigma <= 0:
            continue
        chart, _ = spc.imr([r.value for r in recent], centre=centre, sigma=sigma)
        dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
        for v in evaluate(chart, rules):
            row = recent[v.index]
            stmt = (
                dialect.insert(alarms)
                .values(
                    machine_id=mid,
                    name=name,
                    rule=v.rule,
                    ts=row.ts,
                    value=float(row.value),
                    points=[recent[i].ts.isoformat() for i in v.points],
                    raised_at=now,
                )
                .on_conflict_do_nothing()
                .returning(alarms.c.id)
            )
            # RETURNING tells whether a row went in on both stores (rowcount does not, with RETURNING).
            if conn.execute(stmt).first() is not None:
                raised.append((machine, v.rule))
    return raised
