"""Backup and restore: a store moves from SQLite to PostgreSQL and back with every row and the same KPIs."""

from datetime import datetime, timedelta, timezone

import pytest
from typer.testing import CliRunner

from shopfloor.actions.demo import sample_plant
from shopfloor.cli import app
from shopfloor.errors import StoreNotEmpty
from shopfloor.model.intervals import Interval
from shopfloor.simulator.history import simulate_history
from shopfloor.store import accounts, kpi, rollups
from shopfloor.store.backup import backup, restore
from shopfloor.store.db import open_store
from shopfloor.store.events import append_events
from shopfloor.store.plant import load_plant, save_plant

runner = CliRunner()


def _fill(engine):
    plant = sample_plant()
    start = datetime(2026, 3, 1, 15, tzinfo=timezone.utc)
    with engine.begin() as conn:
        save_plant(conn, plant, "test")
        plant = load_plant(conn)
        result = append_events(conn, simulate_history(plant, Interval(start, start + timedelta(days=1)), 5))
        rollups.invalidate(conn, result.earliest)
        rollups.refresh(conn, plant)
        accounts.create_user(conn, "lee", "admin", password="admin-password-1")
    return plant, Interval(start, start + timedelta(days=1))


def test_a_store_moves_between_backends_with_every_row(engine, tmp_path):
    source = open_store(str(tmp_path / "source.db"))
    plant, window = _fill(source)
    path = tmp_path / "store.backup.gz"
    counts = backup(source, path)
    assert counts["machine_events"] > 100 and counts["users"] == 1
    restored = restore(engine, path)  # into SQLite and into PostgreSQL (the engine fixture)
    assert restored == counts
    with source.connect() as a, engine.connect() as b:
        assert kpi.elements(a, plant, [m.code for m in plant.machines], window) == kpi.elements(
            b, load_plant(b), [m.code for m in plant.machines], window
        )
        assert accounts.check_password(b, "lee", "admin-password-1") is not None
    with engine.begin() as conn:  # ids keep counting after the restored ones
        accounts.create_user(conn, "kim", "operator", pin="1234")
    with pytest.raises(StoreNotEmpty):
        restore(engine, path)


def test_damaged_and_foreign_files_are_refused_and_the_cli_says_so(tmp_path):
    target = str(tmp_path / "t.db")
    bad = tmp_path / "x.gz"
    bad.write_bytes(b"not gzip")
    r = runner.invoke(app, ["restore", str(bad), "--db", target])
    assert r.exit_code == 2 and "not a shopfloor backup" in r.output
    source = str(tmp_path / "s.db")
    _fill(open_store(source))
    r = runner.invoke(app, ["backup", str(tmp_path / "b.gz"), "--db", source])
    assert r.exit_code == 0, r.output
    r = runner.invoke(app, ["restore", str(tmp_path / "b.gz"), "--db", target])
    assert r.exit_code == 0 and "restored" in r.output
