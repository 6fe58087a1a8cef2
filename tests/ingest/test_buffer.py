"""The store-and-forward disk buffer: durable appends, ordered replay, crash recovery, full disk."""

import errno

import pytest

from shopfloor.ingest.buffer import BufferFullError, DiskBuffer


def test_records_replay_in_order_until_committed_and_survive_reopening(tmp_path):
    buf = DiskBuffer(tmp_path, segment_bytes=200)
    records = [f"reading {i}".encode() for i in range(50)]
    for i in range(0, 50, 5):
        buf.append(records[i : i + 5])
    assert buf.depth == 50
    assert len(list(tmp_path.glob("*.seg"))) > 1  # rotated
    first = buf.pending(limit=20)
    assert [r for _, r in first] == records[:20]
    buf.commit(first[-1][0])
    buf.close()
    again = DiskBuffer(tmp_path, segment_bytes=200)
    assert again.depth == 30
    assert [r for _, r in again.pending()] == records[20:]
    again.commit(again.pending()[-1][0])
    assert again.depth == 0 and again.pending() == []
    assert len(list(tmp_path.glob("*.seg"))) == 1


def test_a_record_cut_short_by_a_crash_is_removed_and_the_rest_kept(tmp_path):
    buf = DiskBuffer(tmp_path)
    buf.append([b"one", b"two"])
    buf.close()
    seg = next(tmp_path.glob("*.seg"))
    with open(seg, "ab") as fh:
        fh.write(b"\x20\x00\x00\x00\x11\x22")  # a header promising 32 bytes, then the crash
    again = DiskBuffer(tmp_path)
    assert [r for _, r in again.pending()] == [b"one", b"two"]
    assert "incomplete record" in again.recovery_notes[0]
    again.append([b"three"])
    assert [r for _, r in again.pending()] == [b"one", b"two", b"three"]


def test_corruption_in_the_middle_is_kept_aside_and_reported(tmp_path):
    buf = DiskBuffer(tmp_path)
    buf.append([b"alpha", b"bravo", b"charlie"])
    buf.close()
    seg = next(tmp_path.glob("*.seg"))
    data = bytearray(seg.read_bytes())
    data[8 + 5 + 8] ^= 0xFF  # first byte of "bravo"
    seg.write_bytes(bytes(data))
    again = DiskBuffer(tmp_path)
    assert [r for _, r in again.pending()] == [b"alpha"]
    assert "checksum error" in again.recovery_notes[0]
    assert list(tmp_path.glob("*.seg.corrupt"))


def test_the_size_limit_refuses_new_data_and_keeps_old(tmp_path):
    buf = DiskBuffer(tmp_path, max_bytes=100)
    buf.append([b"x" * 40])
    with pytest.raises(BufferFullError, match="limit"):
        buf.append([b"y" * 80])
    assert [r for _, r in buf.pending()] == [b"x" * 40]


def test_a_full_disk_undoes_the_partial_write(tmp_path, monkeypatch):
    buf = DiskBuffer(tmp_path)
    buf.append([b"kept"])
    real_write = buf._file.write

    def full_disk(data):
        real_write(data[:3])
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(buf._file, "write", full_disk)
    with pytest.raises(BufferFullError, match="disk full"):
        buf.append([b"lost-but-not-acknowledged"])
    monkeypatch.undo()
    buf.close()
    again = DiskBuffer(tmp_path)
    assert [r for _, r in again.pending()] == [b"kept"]
    assert again.recovery_notes == []
