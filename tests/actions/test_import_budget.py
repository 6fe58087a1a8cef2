"""Imports are read before the write transaction and within a budget: a zip bomb and an oversized file are refused
before they are parsed, and a terminal tap during a large import is not kept waiting while the file is read."""

from __future__ import annotations

import io
import threading
import time
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


def test_a_zip_bomb_is_refused_before_it_is_unpacked(plant_store):
    bomb = _zip("items.csv", b"X" * 2**20, 250)  # 250 MiB of CSV in a zip of about 250 KiB
    assert len(bomb) < 2**20
    before = _audited(plant_store)
    started = time.monotonic()
    with pytest.raises(MasterDataRefused) as refused:
        master_data.import_master(plant_store, "user:m", bomb, "master.zip")
    assert time.monotonic() - started < 1
    assert [p.error for p in refused.value.problems] == [UnpacksTooLarge(limit_mib=200)]
    assert _audited(plant_store) == before


def test_a_file_with_too_many_rows_is_refused_before_it_is_parsed(plant_store):
    rows = _zip("items.csv", b"code,name,kind,unit\n" + b"P-1,x,part,pc\n" * 20_000, 20)  # 400,000 rows
    started = time.monotonic()
    with pytest.raises(MasterDataRefused) as refused:
        master_data.import_master(plant_store, "user:m", rows, "master.zip", max_rows=200_000)
    assert time.monotonic() - started < 2
    assert [p.error for p in refused.value.problems] == [TooManyRows(limit=200_000)]


def test_a_terminal_tap_during_a_large_import_does_not_wait_for_the_file_to_be_read(plant_store):
    lines = [b"code,name,kind,unit"] + [b"P-%d,part %d,part,pc" % (i, i) for i in range(120_000)]
    lines.append(b"P-1,duplicate,part,pc")  # refused at the check, so the test measures the reading only
    content = _zip("items.csv", b"\n".join(lines) + b"\n", 1)
    started = time.monotonic()
    master_data.read_master(content, "master.zip")
    reading = time.monotonic() - started
    assert reading > 1, "the file should take a while to read for this test to mean anything"

    done = threading.Event()

    def big_import():
        try:
            master_data.import_master(plant_store, "user:m", content, "master.zip")
        except MasterDataRefused:
            pass
        done.set()

    worker = threading.Thread(target=big_import)
    worker.start()
    time.sleep(reading / 4)
    tap = time.monotonic()
    ts = datetime.now(timezone.utc).replace(microsecond=0)
    event_actions.record_events(plant_store, "user:op", [{"ts": ts, "machine": "WLD-01", "event": "good",
                                                          "quantity": 1}], "terminal")  # fmt: skip
    waited = time.monotonic() - tap
    still_reading = not done.is_set()
    worker.join(120)
    assert still_reading and waited < reading / 4, (waited, reading)
