"""Imports are read before the write transaction and within a budget: a zip bomb and an oversized file are refused
before they are parsed, and a terminal tap during a large import is not kept waiting while the file is read."""

from __future__ import annotations

import io
import threading
import zipfile
from datetime import datetime, timezone

import pytest

from shopfloor.actions import events as event_actions
from shopfloor.actions import master_data
from shopfloor.errors import MasterDataRefused, TooManyRows, UnpacksTooLarge
from shopfloor.store import audit
from tests.lots_data import add_master_data


@pytest.fixture
def plant_store(engine):
    with engine.begin() as conn:
        add_master_data(conn)
    return engine


def _zip(name: str, chunk: bytes, times: int) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf, zf.open(name, "w", force_zip64=True) as f:
        for _ in range(times):
            f.write(chunk)
    return out.getvalue()


def _audited(engine) -> int:
    with engine.connect() as conn:
        return len(audit.entries(conn, 10_000))


def test_a_zip_bomb_is_refused_before_it_is_unpacked(plant_store, monkeypatch):
    bomb = _zip("items.csv", b"X" * 2**20, 250)  # 250 MiB of CSV in a zip of about 250 KiB
    assert len(bomb) < 2**20
    before = _audited(plant_store)

    def unpacked(*args, **kwargs):
        raise AssertionError("an entry was unpacked")

    monkeypatch.setattr(zipfile.ZipFile, "read", unpacked)
    monkeypatch.setattr(zipfile.ZipFile, "open", unpacked)
    with pytest.raises(MasterDataRefused) as refused:
        master_data.import_master(plant_store, "user:m", bomb, "master.zip")
    assert [p.error for p in refused.value.problems] == [UnpacksTooLarge(limit_mib=200)]
    assert _audited(plant_store) == before


def test_a_file_with_too_many_rows_is_refused_before_it_is_parsed(plant_store, monkeypatch):
    rows = _zip("items.csv", b"code,name,kind,unit\n" + b"P-1,x,part,pc\n" * 20_000, 20)  # 400,000 rows

    def checked(*args, **kwargs):
        raise AssertionError("the rows were checked")

    monkeypatch.setattr(master_data.MasterData, "problems", checked)
    with pytest.raises(MasterDataRefused) as refused:
        master_data.import_master(plant_store, "user:m", rows, "master.zip", max_rows=200_000)
    assert [p.error for p in refused.value.problems] == [TooManyRows(limit=200_000)]


def test_a_terminal_tap_during_a_large_import_does_not_wait_for_the_file_to_be_read(plant_store, monkeypatch):
    """The import is held in its reading phase until the tap is stored: were the file read inside the write
    transaction, the tap would wait for the import and the import for the tap, and the tap would never finish."""
    content = _zip("items.csv", b"code,name,kind,unit\nP-1,part,part,pc\nP-1,duplicate,part,pc\n", 1)
    reading, tapped = threading.Event(), threading.Event()
    read = master_data.read_master

    def slow_read(*args, **kwargs):
        parsed = read(*args, **kwargs)
        reading.set()
        tapped.wait(60)
        return parsed

    monkeypatch.setattr(master_data, "read_master", slow_read)
    outcome: list[object] = []

    def big_import():
        try:
            master_data.import_master(plant_store, "user:m", content, "master.zip")
        except MasterDataRefused as refused:
            outcome.append(refused)

    def tap():
        ts = datetime.now(timezone.utc).replace(microsecond=0)
        event_actions.record_events(plant_store, "user:op", [{"ts": ts, "machine": "WLD-01", "event": "good",
                                                              "quantity": 1}], "terminal")  # fmt: skip
        tapped.set()

    worker = threading.Thread(target=big_import)
    worker.start()
    assert reading.wait(60)
    tapper = threading.Thread(target=tap)
    tapper.start()
    tapper.join(30)
    stored_while_reading = tapped.is_set()
    tapped.set()
    worker.join(60)
    assert stored_while_reading, "the tap waited for the import's reading"
    assert len(outcome) == 1  # the duplicate code is refused at the check, after the reading
