"""The hub at the size of a national program: 3,000 factories with three years of monthly outcomes (108,000
signed months, some corrected, some withdrawn) on SQLite.  The office's dashboard (every project with its latest
month, per KPI baseline, target, value and attainment) and its roll-up (per program, year and sponsor: money per
party, factories reporting, mean attainment and targets met) as the hub computes them, each against a single SQL
statement over the same data that gives the same figures, in the same run.
"""

from __future__ import annotations

import json
import tempfile
from datetime import date, datetime, timezone
from pathlib import Path

import numpy as np
from sqlalchemy import insert, text

from bench.timing import best_of
from shopfloor.model.funding import Rule
from shopfloor.store import hub as store
from shopfloor.store.db import open_store
from shopfloor.store.schema import (
    factory_keys,
    ledger,
    organisations,
    outcome_reports,
    project_shares,
    projects,
    withdrawals,
)

KPIS = ("ppm", "output_per_hour", "operating_rate", "oee", "lead_time_h")

# The latest month of each factory that is neither superseded nor withdrawn, and per project the attainment of
# each KPI: (value - baseline) / (target - baseline).
WITHDRAWN = """AND NOT EXISTS (
    SELECT 1 FROM withdrawals w WHERE w.factory_id = r.factory_id AND w.kpi IS NULL
      AND (w.period IS NULL OR w.period = r.period) AND w.withdrawn_at >= r.received_at)"""
LATEST = """
WITH visible AS (
  SELECT r.factory_id, r.period, r.partial, r.kpis FROM outcome_reports r WHERE r.superseded = 0 {withdrawn}
), newest AS (
  SELECT factory_id, max(period) AS period FROM visible GROUP BY factory_id
), latest AS (
  SELECT v.* FROM visible v JOIN newest n ON n.factory_id = v.factory_id AND n.period = v.period
)
"""
ATTAINMENT = ", ".join(
    f"(json_extract(l.kpis, '$.{k}') - json_extract(p.baseline, '$.{k}')) * 1.0 / "
    f"nullif(json_extract(p.target, '$.{k}') - json_extract(p.baseline, '$.{k}'), 0) AS att_{k}"
    for k in KPIS
)
DASHBOARD_SQL = f"""{LATEST.format(withdrawn=WITHDRAWN)}
SELECT p.code, f.name, s.name, p.budget, l.period, l.partial, {ATTAINMENT}
FROM projects p JOIN organisations f ON f.id = p.factory_id JOIN organisations s ON s.id = p.sponsor_id
LEFT JOIN latest l ON l.factory_id = p.factory_id
ORDER BY p.code
"""
# The office's roll-up keeps what factories withdrew.
ROLLUP_SQL = f"""{LATEST.format(withdrawn="")},
per_project AS (
  SELECT g.code AS program, p.year, s.code AS sponsor, p.budget, l.factory_id AS reported, {ATTAINMENT}
  FROM projects p JOIN programs g ON g.id = p.program_id JOIN organisations s ON s.id = p.sponsor_id
  LEFT JOIN latest l ON l.factory_id = p.factory_id
), committed AS (
  SELECT p.program_id, p.year, p.sponsor_id, sh.party, sum(sh.amount) AS amount
  FROM project_shares sh JOIN projects p ON p.id = sh.project_id GROUP BY 1, 2, 3, 4
), contributed AS (
  SELECT p.program_id, p.year, p.sponsor_id, e.party, sum(e.amount) AS amount
  FROM ledger e JOIN projects p ON p.id = e.project_id WHERE e.kind = 'contribution' GROUP BY 1, 2, 3, 4
), money AS (
  SELECT g.code AS program, c.year, s.code AS sponsor, c.party, c.amount AS committed,
    coalesce(k.amount, 0) AS contributed
  FROM committed c JOIN programs g ON g.id = c.program_id JOIN organisations s ON s.id = c.sponsor_id
  LEFT JOIN contributed k ON k.program_id = c.program_id AND k.year = c.year AND k.sponsor_id = c.sponsor_id
    AND k.party = c.party
), money_json AS (
  SELECT program, year, sponsor, json_group_array(json_array(party, committed, contributed)) AS parties
  FROM money GROUP BY 1, 2, 3
)
SELECT pp.program, pp.year, pp.sponsor, count(*), sum(pp.budget), count(pp.reported),
  {", ".join(f"avg(pp.att_{k})" for k in KPIS)}, mj.parties
FROM per_project pp JOIN money_json mj ON mj.program = pp.program AND mj.year = pp.year AND mj.sponsor = pp.sponsor
GROUP BY pp.program, pp.year, pp.sponsor ORDER BY 1, 2, 3
"""


def _fill(engine, factories: int, sponsors: int, months: int, rng) -> None:
    now = datetime(2026, 12, 5, tzinfo=timezone.utc)
    with engine.begin() as conn:
        store.add_organisation(conn, "PO", "Program office", "office")
        store.add_program(conn, "SF", "Smart factory")
        for year in (2024, 2025, 2026):
            store.set_rule(conn, Rule.from_dict({"type": "basic", "year": year, "effective_from": f"{year}-01-01",
                                                 "parties": {"state": {"max_pct": 30}, "sponsor": {"min_pct": 30},
                                                             "sme": {"max_pct": 40}}}, "SF"))  # fmt: skip
        conn.execute(insert(organisations), [{"code": f"SP-{i:03d}", "name": f"Sponsor {i}", "kind": "sponsor",
                                              "timezone": "Asia/Seoul"} for i in range(sponsors)])  # fmt: skip
        conn.execute(insert(organisations), [{"code": f"F-{i:04d}", "name": f"공장 {i}", "kind": "factory",
                                              "timezone": "Asia/Seoul"} for i in range(factories)])  # fmt: skip
        ids = dict(conn.execute(text("SELECT code, id FROM organisations")).all())
        conn.execute(insert(factory_keys), [{"factory_id": ids[f"F-{i:04d}"], "public_key": i.to_bytes(32, "big"),
                                             "fingerprint": f"{i:016x}", "added_at": now, "added_by": "bench"}
                                            for i in range(factories)])  # fmt: skip
        baseline = {"ppm": 10_000.0, "output_per_hour": 40.0, "operating_rate": 0.6, "oee": 0.5, "lead_time_h": 72.0}
        target = {"ppm": 2_000.0, "output_per_hour": 50.0, "operating_rate": 0.8, "oee": 0.7, "lead_time_h": 48.0}
        conn.execute(insert(projects), [
            {"code": f"P-{i:04d}", "program_id": 1, "year": 2024 + i % 3, "project_type": "basic",
             "agreed_on": date(2024 + i % 3, 2, 1), "rule_id": 1 + i % 3, "factory_id": ids[f"F-{i:04d}"],
             "sponsor_id": ids[f"SP-{i % sponsors:03d}"], "budget": 100_000_000, "baseline": baseline,
             "target": target}
            for i in range(factories)
        ])  # fmt: skip
        split = (("state", 30_000_000), ("sponsor", 30_000_000), ("sme", 40_000_000))
        conn.execute(insert(project_shares), [{"project_id": i + 1, "party": party, "amount": amount}
                                              for i in range(factories) for party, amount in split])  # fmt: skip
        conn.execute(insert(ledger), [{"project_id": i + 1, "ts": now, "party": "state", "kind": "contribution",
                                       "amount": 30_000_000} for i in range(0, factories, 2)])  # fmt: skip
        rows = []
        for i in range(factories):
            fid = ids[f"F-{i:04d}"]
            ppm = 10_000 * np.exp(-rng.uniform(0.0, 0.08) * np.arange(months))
            for m in range(months):
                period = f"{2024 + m // 12}-{m % 12 + 1:02d}"
                kpis = {"ppm": round(float(ppm[m]), 1), "output_per_hour": round(40 + m * 0.3, 2),
                        "operating_rate": round(0.6 + m * 0.005, 4), "oee": round(0.5 + m * 0.005, 4),
                        "lead_time_h": round(72 - m * 0.5, 1)}  # fmt: skip
                versions = 2 if m % 12 == 5 else 1  # a month in each year corrected once
                for v in range(versions):
                    rows.append({"factory_id": fid, "key_id": i + 1, "period": period, "kpis": kpis,
                                 "partial": m == months - 1, "superseded": v < versions - 1,
                                 "payload": json.dumps(kpis), "signature": b"\0" * 64, "nonce": f"{i}-{m}-{v}",
                                 "signed_at": now, "received_at": now})  # fmt: skip
        for k in range(0, len(rows), 5000):
            conn.execute(insert(outcome_reports), rows[k : k + 5000])
        # one factory in a hundred took back its latest month
        conn.execute(insert(withdrawals), [{"factory_id": ids[f"F-{i:04d}"], "period": "2026-12", "kpi": None,
                                            "withdrawn_at": now} for i in range(0, factories, 100)])  # fmt: skip
        conn.execute(text("ANALYZE"))


def run(quick: bool = False) -> list[dict]:
    factories, sponsors, months = (60, 6, 12) if quick else (3000, 60, 36)
    rng = np.random.default_rng(3)
    with tempfile.TemporaryDirectory() as tmp:
        engine = open_store(str(Path(tmp) / "hub.db"))
        _fill(engine, factories, sponsors, months, rng)
        office = store.Viewer("office", None)
        with engine.connect() as conn:

            def dashboard() -> list:
                return store.dashboard(conn, office)

            def rollup() -> list:
                return store.rollup(conn, office)

            def dashboard_sql() -> list:
                return conn.execute(text(DASHBOARD_SQL)).all()

            def rollup_sql() -> list:
                return conn.execute(text(ROLLUP_SQL)).all()

            _check(dashboard(), dashboard_sql(), rollup(), rollup_sql(), factories)
            timings = {f.__name__: best_of(f, 5) for f in (dashboard, dashboard_sql, rollup, rollup_sql)}
        engine.dispose()
    size = f"{factories} factories x {months} months"
    return [
        {"name": f"office dashboard, every project's latest month ({size})", "value": timings["dashboard"] * 1000,
         "unit": "ms", "baseline": timings["dashboard_sql"] * 1000,
         "baseline_unit": "ms for the same figures in one SQL statement",
         "ratio": timings["dashboard"] / timings["dashboard_sql"]},
        {"name": f"office roll-up per program, year and sponsor ({size})", "value": timings["rollup"] * 1000,
         "unit": "ms", "baseline": timings["rollup_sql"] * 1000,
         "baseline_unit": "ms for the same figures in one SQL statement",
         "ratio": timings["rollup"] / timings["rollup_sql"]},
    ]  # fmt: skip


def _close(a, b) -> bool:
    return (a is None and b is None) or (a is not None and b is not None and abs(a - b) < 1e-9)


def _check(shown: list, direct: list, groups: list, grouped: list, factories: int) -> None:
    """The hub and the single statements give the same figures (or the comparison would mean nothing)."""
    if len(shown) != factories or len(direct) != factories:
        raise AssertionError("the dashboard and the single statement disagree on the projects")
    for row, sql in zip(shown, direct, strict=True):
        latest = row["latest"] or {}
        if (row["project"], latest.get("period")) != (sql[0], sql[4]):
            raise AssertionError(f"{row['project']}: latest month {latest.get('period')} against {sql[4]}")
        for k, att in zip(KPIS, sql[6:], strict=True):
            if not _close(row["kpis"][k]["attainment"], att):
                raise AssertionError(f"{row['project']} {k}: {row['kpis'][k]['attainment']} against {att}")
    for g, sql in zip(groups, grouped, strict=True):
        if (g["program"], g["year"], g["sponsor"], g["projects"], g["budget"], g["reporting"]) != tuple(sql[:6]):
            raise AssertionError(f"roll-up {g['sponsor']} {g['year']}: {g} against {sql[:6]}")
        for k, mean in zip(KPIS, sql[6:11], strict=True):
            if not _close(g["kpis"][k]["mean_attainment"], mean):
                raise AssertionError(f"roll-up {g['sponsor']} {k}: {g['kpis'][k]['mean_attainment']} against {mean}")
        money = {party: (committed, contributed) for party, committed, contributed in json.loads(sql[11])}
        if money != {p: (m["committed"], m["contributed"]) for p, m in g["parties"].items()}:
            raise AssertionError(f"roll-up {g['sponsor']} {g['year']}: money {g['parties']} against {money}")
