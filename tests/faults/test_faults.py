"""Faults of the parts beside the processes: a disk that fills up under the buffer, and a machine whose clock
jumps.  Each test states what was sent and proves that what was acknowledged is stored once.  (The store and the
broker stopped and restarted under the real `shopfloor ingest` process: test_ingest_faults.py.)"""

from __future__ import annotations

import asyncio
import errno

import pytest

from shopfloor.ingest.buffer import BufferFullError, DiskBuffer
from shopfloor.ingest.writer import IngestWriter
from tests.ingest.test_pipeline import _good, sig
from tests.ingest.test_pipeline import store as store  # noqa: F401,PLC0414 - the fixture


def test_a_full_disk_refuses_new_records_and_keeps_the_old_ones_intact(tiny_disk):
    buf = DiskBuffer(tiny_disk / "buffer", segment_bytes=4096)  # segments roll over as the disk fills
    written = 0
    with pytest.raises(BufferFullError) as info:
        for i in range(10_000):
            buf.append([f"record {i:05d} ".encode() * 8])
            written += 1
    assert info.value.errno in (errno.ENOSPC, errno.EDQUOT) and "disk full" in str(info.value)
    assert written > 0
    buf.close()
    again = DiskBuffer(tiny_disk / "buffer")  # what was written before the disk filled is all there, in order
    records = [r for _, r in again.pending()]
    assert len(records) == written and records[-1].startswith(f"record {written - 1:05d}".encode())
    assert again.recovery_notes == []
    again.close()


def test_a_buffer_whose_disk_is_full_can_still_be_drained_and_takes_records_again(tiny_disk):
    """Moving the commit pointer needs no free space (two slots written in place): the records of a full disk are
    committed, their segments deleted, and the buffer takes new records; reopened, it has none pending."""
    buf = DiskBuffer(tiny_disk / "buffer", segment_bytes=4096)
    with pytest.raises(BufferFullError):
        for i in range(10_000):
            buf.append([f"record {i:05d} ".encode() * 8])
    pending = buf.pending()
    buf.commit(pending[-1][0])  # stored: the space comes back
    assert buf.depth == 0
    buf.append([b"after the disk was full"])
    buf.close()
    again = DiskBuffer(tiny_disk / "buffer")
    assert [r for _, r in again.pending()] == [b"after the disk was full"] and again.recovery_notes == []
    again.close()


def test_a_clock_that_jumps_back_and_forth_counts_every_part_once(store, tmp_path):  # noqa: F811
    """Sent: the counter 100 -> 160 in steps of 10 while the machine's clock jumps back an hour, then forward a
    day, then back to normal.  Stored: 60 good parts; each event at the time the machine stamped it."""
    engine, plant = store
    seconds = [0, 10, -3600, -3590, 86_400, 86_410, 20]

    async def scenario():
        w = IngestWriter(engine, plant, tmp_path / "buf")
        await w.start()
        for i, at in enumerate(seconds):
            await w.submit([sig("State", 1, at), sig("Total", 100 + 10 * i, at)])
        # The same readings delivered again (a reconnect): nothing new.
        for i, at in enumerate(seconds):
            await w.submit([sig("Total", 100 + 10 * i, at)])
        await w.stop()

    asyncio.run(scenario())
    assert _good(engine) == 60
