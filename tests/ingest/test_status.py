"""What `shopfloor connectors status` reads: each worker's last saved status, stale once its process stopped
reporting (or stopped), never shown connected then."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from typer.testing import CliRunner

from shopfloor.cli import app
from shopfloor.connectors.base import ConnectorStatus
from shopfloor.ingest.service import load_status, save_status
from shopfloor.store.db import open_store


class _Source:
    def __init__(self, name: str):
        self.status = ConnectorStatus(name=name, protocol="mqtt", endpoint="127.0.0.1:1883", connected=True)


def test_a_worker_that_stopped_reporting_is_stale_and_not_connected(tmp_path):
    db = str(tmp_path / "s.db")
    engine = open_store(db)
    save_status(engine, [_Source("line")], buffered=2, worker="w1", every_s=5.0)
    save_status(engine, [_Source("press")], buffered=1, worker="w2", every_s=5.0)
    now = datetime.now(timezone.utc)
    fresh = load_status(engine, now)
    assert [(c["name"], c["worker"], c["connected"], c["stale"]) for c in fresh["connectors"]] == [
        ("line", "w1", True, False),
        ("press", "w2", True, False),
    ]
    assert fresh["buffered"] == 3
    later = load_status(engine, now + timedelta(seconds=16))  # three status saves missed
    assert [(c["connected"], c["stale"]) for c in later["connectors"]] == [(False, True), (False, True)]
    save_status(engine, [_Source("line")], buffered=0, worker="w1", stopped=True)  # a clean stop
    assert [c["stale"] for c in load_status(engine, now)["connectors"]] == [True, False]
    result = CliRunner().invoke(app, ["connectors", "status", "--db", db])
    assert result.exit_code == 0 and "STALE" in result.output
