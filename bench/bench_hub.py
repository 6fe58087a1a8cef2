"""The hub's program dashboard with 1,000 factories and three years of monthly outcomes (36,000 signed reports):
the office's view (program totals, every project's latest shared figures and improvement since its baseline) as
the hub computes it, against the same latest-figures aggregate in one SQL statement, in the same run.
"""

from __future__ import annotations

import json
import tempfile
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
from sqlalchemy import insert, text

from bench.timing import best_of
from shopfloor.model.funding import Rule
from shopfloor.store import hub as store
from shopfloor.store.db import open_store
from shopfloor.store.schema import consents, organisations, outcome_reports, projects

ONE_SQL = """
SELECT p.code, f.code, s.code, r.period, r.kpis
FROM outcome_reports r
JOIN consents c ON c.id = r.consent_id AND c.withdrawn_at IS NULL
JOIN projects p ON p.factory_id = r.factory_id AND p.sponsor_id = r.sponsor_id
JOIN organisations f ON f.id = r.factory_id
JOIN organisations s ON s.id = r.sponsor_id
WHERE r.id IN (
    SELECT max(r2.id) FROM outcome_reports r2
    JOIN (SELECT factory_id, sponsor_id, max(period) AS period FROM outcome_reports GROUP BY factory_id, sponsor_id) m
      ON m.factory_id = r2.factory_id AND m.sponsor_id = r2.sponsor_id AND m.period = r2.period
    GROUP BY r2.factory_id, r2.sponsor_id
)
"""


def run(quick: bool = False) -> list[dict]:
    factories, sponsors, months = (50, 5, 12) if quick else (1000, 50, 36)
    rng = np.random.default_rng(3)
    with tempfile.TemporaryDirectory() as tmp:
        engine = open_store(str(Path(tmp) / "hub.db"))
        now = datetime(2026, 11, 1, tzinfo=timezone.utc)
        with engine.begin() as conn:
            store.add_organisation(conn, "PO", "Program office", "office")
            store.add_program(conn, "SF", "Smart factory")
            for year in (2024, 2025, 2026):
                store.set_rule(conn, "SF", Rule(year, "basic", 30, 30, 10**12))
            conn.execute(insert(organisations), [{"code": f"SP-{i:03d}", "name": f"Sponsor {i}", "kind": "sponsor"}
                                                 for i in range(sponsors)])  # fmt: skip
            conn.execute(insert(organisations), [{"code": f"F-{i:04d}", "name": f"Factory {i}", "kind": "factory"}
                                                 for i in range(factories)])  # fmt: skip
            ids = dict(conn.execute(text("SELECT code, id FROM organisations")).all())
            conn.execute(
                insert(projects),
                [
                    {"code": f"P-{i:04d}", "program_id": 1, "year": 2024 + i % 3, "level": "basic",
                     "factory_id": ids[f"F-{i:04d}"], "sponsor_id": ids[f"SP-{i % sponsors:03d}"],
                     "budget": 100_000_000, "state_amount": 30_000_000, "sponsor_amount": 30_000_000,
                     "factory_amount": 40_000_000, "baseline": {"ppm": 10_000.0, "output_per_hour": 40.0},
                     "target": {"ppm": 2_000.0}}
                    for i in range(factories)
                ],
            )  # fmt: skip
            conn.execute(
                insert(consents),
                [{"factory_id": ids[f"F-{i:04d}"], "sponsor_id": ids[f"SP-{i % sponsors:03d}"],
                  "kpis": ["output_per_hour", "ppm"], "granularity": "month", "granted_at": now}
                 for i in range(factories)],
            )  # fmt: skip
            rows = []
            for i in range(factories):
                ppm = 10_000 * np.exp(-rng.uniform(0.0, 0.08) * np.arange(months))
                for m in range(months):
                    period = f"{2024 + m // 12}-{m % 12 + 1:02d}"
                    kpis = {"ppm": round(float(ppm[m]), 1), "output_per_hour": round(40 + m * 0.2, 2)}
                    rows.append(
                        {"factory_id": ids[f"F-{i:04d}"], "sponsor_id": ids[f"SP-{i % sponsors:03d}"],
                         "consent_id": i + 1, "period": period, "kpis": kpis, "payload": json.dumps(kpis),
                         "signature": b"\0" * 64, "nonce": f"{i}-{m}", "signed_at": now, "received_at": now}
                    )  # fmt: skip
            for k in range(0, len(rows), 5000):
                conn.execute(insert(outcome_reports), rows[k : k + 5000])
            conn.execute(text("ANALYZE"))
        office = store.Viewer("office", None)
        with engine.connect() as conn:

            def dashboard() -> list:
                store.totals(conn, office, "SF")
                return store.improvements(conn, office)

            def one_sql() -> list:
                return conn.execute(text(ONE_SQL)).all()

            shown, direct = dashboard(), one_sql()
            if len(shown) != factories or len(direct) != factories:
                raise AssertionError("the dashboard and the single statement disagree on the projects")
            dash_s, sql_s = best_of(dashboard, 5), best_of(one_sql, 5)
        engine.dispose()
    return [
        {
            "name": f"program dashboard of the office ({factories} factories x {months} months of reports)",
            "value": dash_s * 1000,
            "unit": "ms",
            "baseline": sql_s * 1000,
            "baseline_unit": "ms for the latest figures in one SQL statement",
            "ratio": dash_s / sql_s,
        }
    ]
