"""Store-and-forward disk buffer: keeps readings while the store is away and replays them in order.

Records are appended to segment files ``NNNNNNNN.seg`` as ``[length u32][crc32 u32][payload]`` and fsynced
before ``append`` returns, so a reading acknowledged to its source after ``append`` survives a crash.  A
``commit`` pointer says how far the records have been stored; fully committed segments are deleted.  The
pointer file holds two fixed slots (generation, segment, offset, crc32), written in place by turns and fsynced:
moving the pointer never needs free space, so a buffer whose disk is full can still be drained (which is what
frees the space), and a write torn by a crash leaves the other slot, one step behind, to replay from.

Recovery: a record cut short at the end of the last segment (a crash during its write, which was therefore
never acknowledged) is truncated away when the buffer opens.  A bad checksum anywhere else means the disk
corrupted acknowledged data: the segment is kept aside as ``NNNNNNNN.seg.corrupt`` with its good prefix
replayed, and the problem is reported in ``recovery_notes``, never silently dropped.

A full disk or the configured size limit makes ``append`` raise ``BufferFullError`` after undoing its
partial write: new data is refused, old data stays intact.
"""

from __future__ import annotations

import errno
import os
import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

_HEADER = struct.Struct("<II")
_SLOT = struct.Struct("<QQQI4x")  # generation, segment, offset, crc32 of the first three; padded to 32 bytes
SEGMENT_BYTES = 16 * 1024 * 1024
MAX_RECORD = 64 * 1024 * 1024


class BufferFullError(OSError):
    """The buffer cannot take more data (disk full or size limit); nothing already buffered was harmed."""


@dataclass(frozen=True, order=True, slots=True)
class Position:
    segment: int
    offset: int


class DiskBuffer:
    def __init__(self, directory: Path, max_bytes: int = 1 << 34, segment_bytes: int = SEGMENT_BYTES):
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.max_bytes = max_bytes
        self.segment_bytes = segment_bytes
        self.recovery_notes: list[str] = []
        self._committed = self._read_commit()
        pointer = self.directory / "commit"
        if not pointer.exists() or pointer.stat().st_size != 2 * _SLOT.size:
            try:
                self._create_commit_file()  # now, while there is space: later moves of the pointer need none
            except OSError as exc:
                if exc.errno not in (errno.ENOSPC, errno.EDQUOT):
                    raise
        self._recover()
        segments = self._segments()
        self._current = segments[-1] if segments else max(self._committed.segment, 1)
        path = self._path(self._current)
        # Unbuffered: a write that fails (a full disk) leaves nothing behind in a Python buffer to be flushed
        # later, half-written, by close().
        self._file = open(path, "ab", buffering=0)  # noqa: SIM115 - kept open for appends
        self._size = self._file.tell()
        self._pending = sum(1 for _ in self._scan(self._committed))

    # -- files ---------------------------------------------------------------------------------------------
    def _path(self, segment: int) -> Path:
        return self.directory / f"{segment:08d}.seg"

    def _segments(self) -> list[int]:
        return sorted(int(p.name[:8]) for p in self.directory.glob("*.seg") if p.name[:8].isdigit())

    def _read_commit(self) -> Position:
        path = self.directory / "commit"
        self._generation = 0
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            return Position(0, 0)
        if len(data) != 2 * _SLOT.size:
            try:  # the text pointer of earlier versions, "segment offset"
                seg, off = data.decode().split()
                return Position(int(seg), int(off))
            except (UnicodeDecodeError, ValueError):
                self.recovery_notes.append("commit pointer unreadable: replaying the whole buffer (stored rows dedupe)")
                return Position(0, 0)
        best: tuple[int, Position] | None = None
        for i in range(2):
            generation, seg, off, crc = _SLOT.unpack_from(data, i * _SLOT.size)
            if crc == zlib.crc32(_SLOT.pack(generation, seg, off, 0)[:24]) and (best is None or generation > best[0]):
                best = (generation, Position(seg, off))
        if best is None:
            self.recovery_notes.append("commit pointer unreadable: replaying the whole buffer (stored rows dedupe)")
            return Position(0, 0)
        self._generation = best[0]
        return best[1]

    def _write_commit(self, pos: Position) -> None:
        """Write the pointer into the older of the two slots, in place (no new space needed), and fsync it."""
        path = self.directory / "commit"
        if not path.exists() or path.stat().st_size != 2 * _SLOT.size:
            self._create_commit_file()
        generation = self._generation + 1
        packed = _SLOT.pack(generation, pos.segment, pos.offset, 0)
        slot = _SLOT.pack(generation, pos.segment, pos.offset, zlib.crc32(packed[:24]))
        fd = os.open(path, os.O_WRONLY)
        try:
            os.pwrite(fd, slot, (generation % 2) * _SLOT.size)
            os.fsync(fd)
        finally:
            os.close(fd)
        self._generation = generation

    def _create_commit_file(self) -> None:
        """The two-slot pointer file, made once (while there is space) with the pointer as it stands."""
        pos, generation = self._committed, self._generation
        packed = _SLOT.pack(generation, pos.segment, pos.offset, 0)
        slot = _SLOT.pack(generation, pos.segment, pos.offset, zlib.crc32(packed[:24]))
        tmp = self.directory / "commit.tmp"
        with open(tmp, "wb") as fh:
            fh.write(slot + slot)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self.directory / "commit")
        _fsync_dir(self.directory)

    def _recover(self) -> None:
        segments = self._segments()
        for seg in segments:
            path = self._path(seg)
            good = 0
            with open(path, "rb") as fh:
                data = fh.read()
            while good + _HEADER.size <= len(data):
                length, crc = _HEADER.unpack_from(data, good)
                end = good + _HEADER.size + length
                if length > MAX_RECORD or end > len(data):
                    break
                if zlib.crc32(data[good + _HEADER.size : end]) != crc:
                    break
                good = end
            if good == len(data):
                continue
            last = seg == segments[-1]
            torn_tail = last and _is_torn_tail(data, good)
            if torn_tail:
                with open(path, "r+b") as fh:
                    fh.truncate(good)
                    fh.flush()
                    os.fsync(fh.fileno())
                self.recovery_notes.append(
                    f"{path.name}: removed an incomplete record at byte {good} (interrupted write)"
                )
            else:
                aside = path.with_suffix(".seg.corrupt")
                os.replace(path, aside)
                with open(path, "wb") as fh:
                    fh.write(data[:good])
                    fh.flush()
                    os.fsync(fh.fileno())
                self.recovery_notes.append(
                    f"{path.name}: checksum error at byte {good}; the segment is kept as {aside.name}, "
                    f"its {good} good bytes are replayed"
                )

    # -- writing -------------------------------------------------------------------------------------------
    def append(self, records: list[bytes]) -> Position:
        """Append records durably; returns the position after the last one."""
        payload = b"".join(_HEADER.pack(len(r), zlib.crc32(r)) + r for r in records)
        if any(len(r) > MAX_RECORD for r in records):
            raise ValueError(f"a buffer record is limited to {MAX_RECORD} bytes")
        if self.size_bytes() + len(payload) > self.max_bytes:
            raise BufferFullError(
                errno.ENOSPC,
                f"disk buffer limit of {self.max_bytes} bytes reached; new data refused until the store is back",
            )
        if self._size > 0 and self._size + len(payload) > self.segment_bytes:
            try:
                self._rotate()
            except OSError as exc:
                if exc.errno in (errno.ENOSPC, errno.EDQUOT):
                    raise BufferFullError(exc.errno, f"disk full while buffering in {self.directory}: new data "
                                          "refused, buffered data intact") from exc  # fmt: skip
                raise
        start = self._size
        try:
            view, done = memoryview(payload), 0
            while done < len(payload):
                n = self._file.write(view[done:])
                if not n:
                    raise OSError(errno.ENOSPC, "no space left on the device")
                done += n
            os.fsync(self._file.fileno())
        except OSError as exc:
            # Undo the partial write so the segment ends on a whole record.
            try:
                self._file.truncate(start)
                self._file.seek(start)
                os.fsync(self._file.fileno())
            except OSError:
                pass
            if exc.errno in (errno.ENOSPC, errno.EDQUOT):
                raise BufferFullError(
                    exc.errno, f"disk full while buffering in {self.directory}: new data refused, buffered data intact"
                ) from exc
            raise
        self._size = start + len(payload)
        self._pending += len(records)
        return Position(self._current, self._size)

    def _rotate(self) -> None:
        # The next segment is opened before the current one is closed: on a full disk nothing changes.
        nxt = open(self._path(self._current + 1), "ab", buffering=0)  # noqa: SIM115
        self._file.close()
        self._file, self._current = nxt, self._current + 1
        self._size = 0
        _fsync_dir(self.directory)

    # -- reading -------------------------------------------------------------------------------------------
    def _scan(self, start: Position) -> Iterator[tuple[Position, bytes]]:
        for seg in self._segments():
            if seg < start.segment:
                continue
            offset = start.offset if seg == start.segment else 0
            with open(self._path(seg), "rb") as fh:
                fh.seek(offset)
                data = fh.read()
            pos = 0
            while pos + _HEADER.size <= len(data):
                length, _crc = _HEADER.unpack_from(data, pos)
                end = pos + _HEADER.size + length
                if end > len(data):
                    break
                yield Position(seg, offset + end), data[pos + _HEADER.size : end]
                pos = end

    def pending(self, limit: int | None = None) -> list[tuple[Position, bytes]]:
        """Records not committed yet, oldest first (at most ``limit``)."""
        out = []
        for item in self._scan(self._committed):
            out.append(item)
            if limit is not None and len(out) >= limit:
                break
        return out

    def commit(self, pos: Position) -> None:
        """Mark every record up to ``pos`` as stored; delete segments no longer needed."""
        if pos <= self._committed:
            return
        done = sum(1 for p, _ in self._scan(self._committed) if p <= pos)
        self._write_commit(pos)
        self._committed = pos
        self._pending -= done
        for seg in self._segments():
            if seg < pos.segment:
                self._path(seg).unlink(missing_ok=True)

    @property
    def depth(self) -> int:
        """How many records wait to be stored."""
        return self._pending

    def size_bytes(self) -> int:
        return sum(self._path(s).stat().st_size for s in self._segments())

    def close(self) -> None:
        self._file.close()


def _is_torn_tail(data: bytes, good: int) -> bool:
    """Whether the bad bytes after ``good`` are the file's last record, cut short or half-written."""
    if len(data) - good < _HEADER.size:
        return True
    length, _ = _HEADER.unpack_from(data, good)
    return good + _HEADER.size + length >= len(data)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
