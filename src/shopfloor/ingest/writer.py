"""The ingest pipeline's single writer: Signals -> tag mapping -> events and measurements -> one transaction.

Connectors call ``await writer.submit(signals)``; it returns once the signals are committed to the store, or,
while the store is away, once they are fsynced to the disk buffer.  Only then may a connector acknowledge its
source.  One writer task per store batches submissions (everything queued while the last transaction ran, up
to ``max_rows`` signals, optionally lingering ``max_delay_s`` for more) into one
transaction, which also saves the mapper's state (counter baselines, compression filters), so a restart
continues exactly where the last commit left off.  While the disk buffer holds anything, new signals are
appended behind it, and a drain loop replays the buffer into the store in order.

A ``SignalBlock`` of plain process values (a Sparkplug DATA payload) is stored a column at a time, without a
Signal or a Measurement for each value; the disk buffer keeps its Signals.

A connector's own state (``ConnectorState``: Sparkplug births, aliases and sequence numbers, an MTConnect
cursor), handed over with the batch it describes, is written in the same transaction (or appended to the disk
buffer right behind that batch's Signals and replayed with them), so a restarted connector decodes exactly
what its source delivers again: ``saved_state`` gives it back, the buffer's records overlaying the store's.
"""

from __future__ import annotations

import asyncio
import gc
import json
import logging
import sqlite3
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timezone
from itertools import chain, repeat
from pathlib import Path
from typing import Any, NamedTuple

from sqlalchemy import Connection, Engine, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DBAPIError, OperationalError

from shopfloor.connectors.base import ConnectorState, Quality, Signal, SignalBlock, expand_signals, signal_count
from shopfloor.ingest.buffer import DiskBuffer
from shopfloor.ingest.mapping import Mapped, Measurement, MeasurementColumns, SignalMapper
from shopfloor.model.plant import Plant
from shopfloor.store import nc_monitor, rollups, spc_monitor, work_orders
from shopfloor.store.db import writing
from shopfloor.store.events import append_events
from shopfloor.store.plant import machine_ids
from shopfloor.store.schema import ingest_state, machine_ingest_state, quarantine, to_micros

log = logging.getLogger(__name__)
MAPPER_STATE_KEY = "mapper"


def tune_gc_for_ingest(gen0_threshold: int = 50_000) -> None:
    """Garbage-collector settings for a process that ingests machine data (``shopfloor ingest``, ``serve``,
    ``demo``).

    Ingest allocates a few small tuples per value, hundreds of thousands a second, nearly all freed within one
    batch.  With CPython's default first-generation threshold of 700 allocations the collector runs every few
    hundred values and, every hundred runs, walks every live object of the process.  ``gc.freeze()`` moves the
    objects alive at start-up (modules, the plant, the mapping) out of the collector's sight, and a threshold of
    ``gen0_threshold`` lets it run once per batch or so; cycles are still collected.  Measured with the
    ingest benchmark's payloads through decode, mapping and commit: 9.2 -> 7.4 us of CPU per value.
    """
    gc.freeze()
    _, gen1, gen2 = gc.get_threshold()
    gc.set_threshold(gen0_threshold, gen1, gen2)


def signal_to_json(sig: Signal) -> bytes:
    return json.dumps(
        [sig.source, sig.machine, sig.tag, sig.value, sig.ts.isoformat(), sig.quality.value, sig.source_id],
        separators=(",", ":"),
    ).encode()


def state_to_json(state: ConnectorState) -> bytes:
    """A disk-buffer record of connector state (an object, where a Signal's record is a list)."""
    return json.dumps({"connector_state": state}, separators=(",", ":")).encode()


def record_from_json(data: bytes) -> Signal | ConnectorState:
    """A disk-buffer record: a Signal, or the connector state handed over behind the Signals before it."""
    doc = json.loads(data)
    if isinstance(doc, dict):
        return doc["connector_state"]
    source, machine, tag, value, ts, quality, source_id = doc
    return Signal(source, machine, tag, value, datetime.fromisoformat(ts), Quality(quality), source_id)


@dataclass
class WriterStats:
    committed_signals: int = 0
    committed_events: int = 0
    committed_measurements: int = 0
    duplicate_events: int = 0
    anomalies: int = 0
    alarms_raised: int = 0
    buffered_signals: int = 0
    replayed_signals: int = 0
    transactions: int = 0
    store_available: bool = True
    last_error: str | None = None
    last_commit_at: datetime | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def _upsert_state(conn: Connection, key: str, state: dict[str, Any]) -> None:
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    now = datetime.now(timezone.utc)
    stmt = dialect.insert(ingest_state).values(key=key, state=state, updated_at=now)
    conn.execute(stmt.on_conflict_do_update(index_elements=["key"], set_={"state": state, "updated_at": now}))


def load_mapper_state(engine: Engine, key: str = MAPPER_STATE_KEY) -> dict[str, Any] | None:
    with engine.connect() as conn:
        return conn.execute(select(ingest_state.c.state).where(ingest_state.c.key == key)).scalar()


# Rows per INSERT statement on SQLite: one statement of many rows is one step of the SQLite engine, which the
# sqlite3 module runs without holding the GIL, so decoding the next batch goes on meanwhile; an executemany
# takes the GIL back between every two rows, and each time the writer comes back for it, it may wait for the
# decoding thread.  5,000 rows x 5 values stay under SQLite's variable limit since 3.32 (32,766; the older 999 is
# read at run time).  Measured raw: 5,000-row statements 550,000-590,000 rows/s, 500-row 450,000-480,000,
# executemany 410,000-470,000.
_ROWS_PER_INSERT = 5000
_INSERT = "INSERT INTO measurements (machine_id, name, ts, value, quality) VALUES "
# Two readings of one value at one instant (a Sparkplug birth and the DATA sent in the same millisecond): the later
# one in the stream is the value, so a reading replaces what the store holds for its instant.  A copy delivered
# again writes the same value.
_UPSERT = " ON CONFLICT (machine_id, name, ts) DO UPDATE SET value = excluded.value, quality = excluded.quality"
_SQL_FOR_ROWS: dict[int, str] = {}  # rows -> the INSERT of that many rows


def insert_measurements(
    conn: Connection,
    rows: list[Measurement],
    ids: dict[str, int],
    columns: list[MeasurementColumns] = (),  # type: ignore[assignment]
    flat: list[Any] | None = None,
) -> int:
    """Insert measurements (``rows``, and ``columns`` a block at a time); a reading of a value at an instant the
    store already holds replaces it (the later reading in the stream is the value at that instant).  ``flat``: on
    SQLite, the statement parameters of ``columns`` if already made (``sqlite_parameters``).  Returns the rows
    written (new or replaced).

    Every value must be finite (the mapper quarantines NaN and infinities)."""
    count = len(rows) + sum(len(c.names) for c in columns)
    if not count:
        return 0
    if conn.dialect.name == "sqlite":
        if flat is None:
            flat = sqlite_parameters(rows, columns, ids)
        elif rows:
            flat = flat + sqlite_parameters(rows, (), ids)  # type: ignore[arg-type]
        return _sqlite_insert_rows(conn, flat, count)
    return _pg_copy_rows(conn, rows, columns, ids, count)


# PostgreSQL: the rows go in by COPY in binary format, straight into the table, inside a savepoint.  Should a row
# meet one the store already holds (or another of the same batch), the savepoint is rolled back and the batch goes
# through a staging table of the session instead: COPY into it, then one INSERT ... SELECT that keeps the latest
# reading of each instant and replaces what the store holds.  A multi-row INSERT with parameters cost some 31 us of
# CPU a value, mostly psycopg parsing each statement of 1,000 rows again (beyond its statement cache); COPY sends
# the values as they are, about 2 us a value.
_COPY_COLUMNS = "(machine_id, name, ts, value, quality)"
_COPY_TYPES = ["int4", "text", "timestamptz", "float8", "text"]
_STAGE = "shopfloor_measurements_stage"
_STAGE_CREATE = (
    f"CREATE TEMPORARY TABLE IF NOT EXISTS {_STAGE} (seq int8 NOT NULL, machine_id int4 NOT NULL, name text NOT NULL,"
    " ts timestamptz NOT NULL, value float8 NOT NULL, quality text NOT NULL) ON COMMIT DELETE ROWS"
)
_STAGE_MERGE = (
    f"INSERT INTO measurements {_COPY_COLUMNS} SELECT DISTINCT ON (machine_id, name, ts) machine_id, name, ts,"
    f" value, quality FROM {_STAGE} ORDER BY machine_id, name, ts, seq DESC" + _UPSERT
)


def _copy_rows(cursor: Any, sql: str, types: list[str], rows: list[Measurement], columns: list[MeasurementColumns],
               ids: dict[str, int], numbered: bool) -> None:  # fmt: skip
    """Write the rows of ``rows`` and ``columns`` with one COPY (``numbered``: each with its place first)."""
    seq = 0
    with cursor.copy(sql) as copy:
        copy.set_types(types)
        write = copy.write_row
        if numbered:
            for ts, machine, name, value, quality in rows:
                write((seq, ids[machine], name, ts, value, quality))
                seq += 1
            for machine, names, stamps, times, values in columns:
                mid = ids[machine]
                for k, name, value in zip(stamps, names, values):
                    write((seq, mid, name, times[k], value, "good"))
                    seq += 1
            return
        for ts, machine, name, value, quality in rows:
            write((ids[machine], name, ts, value, quality))
        for machine, names, stamps, times, values in columns:
            mid = ids[machine]
            if len(times) == 1:  # one instant for the whole block, as one scan of a PLC gives
                (ts,) = times.values()
                for name, value in zip(names, values):
                    write((mid, name, ts, value, "good"))
            else:
                for k, name, value in zip(stamps, names, values):
                    write((mid, name, times[k], value, "good"))


def _pg_copy_rows(
    conn: Connection, rows: list[Measurement], columns: list[MeasurementColumns], ids: dict[str, int], count: int
) -> int:
    from psycopg import errors as psycopg_errors  # only a PostgreSQL store needs the driver (SQLite ingest skips it)

    raw = conn.connection.driver_connection
    with raw.cursor() as cur:
        cur.execute("SAVEPOINT shopfloor_copy")
        try:
            _copy_rows(cur, f"COPY measurements {_COPY_COLUMNS} FROM STDIN (FORMAT BINARY)", _COPY_TYPES, rows,
                       columns, ids, numbered=False)  # fmt: skip
        except psycopg_errors.UniqueViolation:
            cur.execute("ROLLBACK TO SAVEPOINT shopfloor_copy")
        else:
            cur.execute("RELEASE SAVEPOINT shopfloor_copy")
            return count
        cur.execute("RELEASE SAVEPOINT shopfloor_copy")
        cur.execute(_STAGE_CREATE)
        cur.execute("TRUNCATE shopfloor_measurements_stage")  # the table _STAGE names
        _copy_rows(cur, f"COPY {_STAGE} (seq, machine_id, name, ts, value, quality) FROM STDIN (FORMAT BINARY)",
                   ["int8", *_COPY_TYPES], rows, columns, ids, numbered=True)  # fmt: skip
        cur.execute(_STAGE_MERGE)
        return cur.rowcount


def sqlite_parameters(rows: list[Measurement], columns: list[MeasurementColumns], ids: dict[str, int]) -> list[Any]:
    """The parameters of SQLite INSERTs of measurements, five per row (machine id, name, microseconds, value,
    quality): the hot path of ingest, each distinct instant converted once."""
    micros: dict[datetime, int] = {}
    flat: list[Any] = []
    extend = flat.extend
    for ts, machine, name, value, quality in rows:
        us = micros.get(ts)
        if us is None:
            us = micros[ts] = to_micros(ts)
        extend((ids[machine], name, us, value, quality))
    for machine, names, stamps, times, values in columns:
        if len(times) == 1:  # one instant for the whole block, as one scan of a PLC gives
            (ts,) = times.values()
            us = micros.get(ts)
            if us is None:
                us = micros[ts] = to_micros(ts)
            instants = repeat(us)
        else:
            instants = map({k: to_micros(t) for k, t in times.items()}.__getitem__, stamps)
        extend(chain.from_iterable(zip(repeat(ids[machine]), names, instants, values, repeat("good"))))
    return flat


def _sqlite_insert_rows(conn: Connection, flat: list[Any], count: int) -> int:
    """``count`` rows of five values each (``flat``), as few statements as the variable limit allows.

    SQLite compiles a statement of 5,000 rows in about five times the time it then takes to run it, and the
    sqlite3 module keeps compiled statements by their text: so every statement has one of a few sizes, the full
    one and powers of two for the rest, compiled once per connection."""
    per = min(_ROWS_PER_INSERT, _sqlite_variable_limit(conn) // 5)
    inserted, start = 0, 0
    while start < count:
        left = count - start
        rows = per if left >= per else 1 << (left.bit_length() - 1)
        sql = _SQL_FOR_ROWS.get(rows)
        if sql is None:
            sql = _SQL_FOR_ROWS[rows] = _INSERT + ",".join(["(?,?,?,?,?)"] * rows) + _UPSERT
        inserted += conn.exec_driver_sql(sql, tuple(flat[start * 5 : (start + rows) * 5])).rowcount
        start += rows
    return inserted


def _sqlite_variable_limit(conn: Connection) -> int:
    raw = conn.connection.driver_connection
    getlimit = getattr(raw, "getlimit", None)
    return getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER) if getlimit is not None else 999


class NotCommitted(RuntimeError):
    """A batch left uncommitted because the batch handed over before it failed: hand both over again."""


class _Item(NamedTuple):
    signals: list[Signal | SignalBlock]
    prepared: _Prepared | None
    fut: asyncio.Future[None]
    after: asyncio.Future[None] | None
    state: ConnectorState | None


class _Prepared(NamedTuple):
    rest: list[Signal | SignalBlock]  # what the mapper maps in the transaction
    columns: list[MeasurementColumns]  # blocks of plain values, stored as they are
    flat: list[Any] | None  # on SQLite, the INSERT parameters of ``columns``


def _merge_prepared(parts: list[_Prepared | None]) -> _Prepared | None:
    """The preparations of the batches of one transaction as one (None unless every batch has one)."""
    if not parts or any(p is None for p in parts):
        return None
    if len(parts) == 1:
        return parts[0]
    rest = [s for p in parts for s in p.rest]  # type: ignore[union-attr]
    columns = [c for p in parts for c in p.columns]  # type: ignore[union-attr]
    flats = [p.flat for p in parts if p.columns]  # type: ignore[union-attr]
    flat = None if any(f is None for f in flats) else list(chain.from_iterable(flats))  # type: ignore[arg-type]
    return _Prepared(rest, columns, flat)


class WriterEmit:
    """A connector's ``emit`` into the writer (``IngestWriter.emit_for_connector``): awaiting it submits a
    batch (with the connector's state, when given); ``hand_over`` queues one without waiting (see
    ``IngestWriter.hand_over``); ``saved_state`` gives back what a connector committed before."""

    def __init__(self, writer: IngestWriter, on_commit: Callable[[list[Signal | SignalBlock]], None] | None):
        self.writer, self.on_commit = writer, on_commit

    async def __call__(self, signals: list[Signal | SignalBlock], state: ConnectorState | None = None) -> None:
        await self.writer.submit(signals, state)
        if self.on_commit is not None and signals:
            self.on_commit(signals)

    def saved_state(self, prefix: str) -> ConnectorState:
        return self.writer.saved_state(prefix)

    def hand_over(
        self,
        signals: list[Signal | SignalBlock],
        after: asyncio.Future[None] | None = None,
        state: ConnectorState | None = None,
    ) -> asyncio.Future[None]:
        fut = self.writer.hand_over(signals, after, state)
        if self.on_commit is not None and signals:
            on_commit = self.on_commit
            fut.add_done_callback(lambda f: None if f.cancelled() or f.exception() else on_commit(signals))
        return fut


class IngestWriter:
    def __init__(
        self,
        engine: Engine,
        plant: Plant,
        buffer_dir: Path | None = None,
        max_rows: int = 20_000,
        max_delay_s: float = 0.0,
        retry_s: float = 1.0,
        state_key: str = MAPPER_STATE_KEY,
    ):
        """``state_key`` names where this writer keeps its mapping state (counter baselines, compression
        filters): ingest workers that run different connectors on one store each keep their own."""
        self.engine = engine
        self.plant = plant
        self.max_rows = max_rows
        self.max_delay_s = max_delay_s
        self.retry_s = retry_s
        self.state_key = state_key
        saved = load_mapper_state(engine, state_key)
        self.mapper = SignalMapper(plant, saved)
        self._saved_state = saved  # the mapper state as last committed: unchanged, it is not written again
        self._watched = spc_monitor.watched(plant)
        self.buffer = DiskBuffer(buffer_dir) if buffer_dir is not None else None
        if self.buffer is not None:
            for note in self.buffer.recovery_notes:
                log.warning("disk buffer recovery: %s", note)
        self.stats = WriterStats()
        self._queue: asyncio.Queue[_Item] = asyncio.Queue()
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="shopfloor-writer")
        self._task: asyncio.Task[None] | None = None
        self._ids = self._machine_ids_or_empty()
        self._sqlite = engine.dialect.name == "sqlite"
        self._state_rows: set[int] = set()  # machines whose machine_ingest_state row is known to exist

    def use_plant(self, plant: Plant) -> None:
        """Map with a changed plant (machines or tags added on the pages) from the next batch on; the counter
        baselines and filters of the machines already known are kept."""
        mapper = SignalMapper(plant, self.mapper.state())
        self.plant, self.mapper, self._watched = plant, mapper, spc_monitor.watched(plant)
        self._ids = self._machine_ids_or_empty()

    def _machine_ids_or_empty(self) -> dict[str, int]:
        try:
            with self.engine.connect() as conn:
                return machine_ids(conn)
        except (OperationalError, DBAPIError):
            return {}

    # -- public ---------------------------------------------------------------------------------------------
    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="shopfloor-ingest-writer")

    async def replay(self) -> None:
        """Store what the disk buffer holds now, if the store answers (what is left is replayed later)."""
        if self.buffered:
            try:
                await asyncio.get_running_loop().run_in_executor(self._executor, self._drain)
            except Exception:  # noqa: BLE001 - the records stay buffered; the writer task tries again
                log.exception("replaying the disk buffer failed; trying again later")

    async def stop(self) -> None:
        """Write what is queued, then stop."""
        if self._task is None:
            return
        await self._queue.join()
        self._task.cancel()
        try:
            await self._task
        except asyncio.CancelledError:
            pass
        self._executor.shutdown(wait=True)
        if self.buffer is not None:
            self.buffer.close()

    async def submit(self, signals: list[Signal | SignalBlock], state: ConnectorState | None = None) -> None:
        """Return once ``signals`` (and ``state``) are committed or durably buffered; raise if neither was
        possible."""
        if signals or state:
            await self.hand_over(signals, None, state)

    def hand_over(
        self,
        signals: list[Signal | SignalBlock],
        after: asyncio.Future[None] | None = None,
        state: ConnectorState | None = None,
    ) -> asyncio.Future[None]:
        """Queue ``signals`` and return at once the future of their commit (or durable buffering).

        A connector may hand over its next batch before the last one is committed, so that the writer finds it
        waiting (and its blocks already turned into parameters) when that commit ends: batches are committed
        in the order they were handed over, and one handed over ``after`` a batch whose commit then failed is
        not committed either (its future fails too), so retrying them in order keeps the order."""
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if not signals and not state:
            fut.set_result(None)
            return fut
        signals = list(signals)
        self._queue.put_nowait(_Item(signals, self._prepare(signals), fut, after, state or None))
        return fut

    def saved_state(self, prefix: str) -> ConnectorState:
        """The connector state committed under keys starting with ``prefix``: the store's, overlaid by state
        records still waiting in the disk buffer (they are newer)."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(ingest_state.c.key, ingest_state.c.state).where(ingest_state.c.key.startswith(prefix))
            ).all()
        found: ConnectorState = {key: state for key, state in rows}
        if self.buffer is not None and self.buffer.depth:
            for _, record in self.buffer.pending():
                if record[:1] == b"{":
                    doc = record_from_json(record)
                    found.update({k: v for k, v in doc.items() if k.startswith(prefix)})  # type: ignore[union-attr]
        return {k: v for k, v in found.items() if v is not None}

    def emit_for_connector(self, on_commit: Callable[[list[Signal | SignalBlock]], None] | None = None) -> WriterEmit:
        """The ``emit`` to give one connector: ``submit``, and ``hand_over`` for a connector that overlaps
        decoding with commits; ``on_commit`` is told of each batch once it is committed."""
        return WriterEmit(self, on_commit)

    async def quarantine(self, source: str, reason: str, payload: bytes) -> None:
        """Keep input that could not be used, with the reason, so nothing received is silently lost."""

        def store() -> None:
            with writing(self.engine) as conn:
                conn.execute(
                    quarantine.insert().values(
                        received_at=datetime.now(timezone.utc), source=source, reason=reason[:2000], payload=payload
                    )
                )

        await asyncio.get_running_loop().run_in_executor(self._executor, store)
        self.stats.anomalies += 1

    @property
    def buffered(self) -> int:
        return self.buffer.depth if self.buffer is not None else 0

    # -- the writer task ------------------------------------------------------------------------------------
    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        last_drain = 0.0
        while True:
            try:
                first = await asyncio.wait_for(self._queue.get(), timeout=self.retry_s)
            except TimeoutError:
                first = None
            batch: list[_Item] = []
            rows = self._accept(first, batch) if first is not None else 0
            # Group commit: everything submitted while the last transaction ran goes into the next one.
            while first is not None and rows < self.max_rows and not self._queue.empty():
                rows += self._accept(self._queue.get_nowait(), batch)
            deadline = time.monotonic() + self.max_delay_s
            while first is not None and rows < self.max_rows:
                timeout = deadline - time.monotonic()
                if timeout <= 0:
                    break
                try:
                    item = await asyncio.wait_for(self._queue.get(), timeout=timeout)
                except TimeoutError:
                    break
                rows += self._accept(item, batch)
            if self.buffered and time.monotonic() - last_drain >= self.retry_s:
                last_drain = time.monotonic()
                try:
                    await loop.run_in_executor(self._executor, self._drain)
                except Exception:  # noqa: BLE001 - the writer task must outlive it; the records stay buffered
                    log.exception("replaying the disk buffer failed; trying again")
            if batch:
                signals = [s for item in batch for s in item.signals]
                prepared = _merge_prepared([item.prepared for item in batch])
                states: ConnectorState = {}
                for item in batch:
                    if item.state:
                        states.update(item.state)
                try:
                    await loop.run_in_executor(self._executor, self._write_or_buffer, signals, prepared, states)
                except Exception as exc:  # noqa: BLE001 - handed to every waiting submitter
                    for item in batch:
                        if not item.fut.done():
                            item.fut.set_exception(exc)
                else:
                    for item in batch:
                        if not item.fut.done():
                            item.fut.set_result(None)
                for _ in batch:
                    self._queue.task_done()

    def _accept(self, item: _Item, batch: list[_Item]) -> int:
        """Add ``item`` to the batch, or fail it at once if it was handed over after a batch that failed; the
        number of signals it adds."""
        after = item.after
        if after is not None and after.done() and (after.cancelled() or after.exception() is not None):
            if not item.fut.done():
                item.fut.set_exception(NotCommitted("not committed: a batch handed over before it was not"))
            self._queue.task_done()
            return 0
        batch.append(item)
        return signal_count(item.signals) or 1

    def _prepare(self, signals: list[Signal | SignalBlock]) -> _Prepared | None:
        """What of a batch needs no transaction: its blocks of plain values as columns (the mapper's
        ``take_columns``, which reads no state) and, on SQLite, their statement parameters."""
        if not self._ids or self.buffered:
            return None
        try:
            rest, columns = self.mapper.take_columns(signals)
            flat = sqlite_parameters([], columns, self._ids) if columns and self._sqlite else None
        except Exception:  # noqa: BLE001 - whatever it is, the transaction meets it again and reports it
            return None
        return _Prepared(rest, columns, flat)

    def _write_or_buffer(
        self,
        signals: list[Signal | SignalBlock],
        prepared: _Prepared | None = None,
        states: ConnectorState | None = None,
    ) -> None:
        if not self.buffered:
            try:
                self._commit(signals, prepared, states)
                return
            except (OperationalError, DBAPIError) as exc:
                self._store_lost(exc)
        if self.buffer is None:
            raise RuntimeError("the store is unavailable and no disk buffer is configured: data refused")
        records = [signal_to_json(s) for s in expand_signals(signals)]
        if states:
            records.append(state_to_json(states))
        self.buffer.append(records)
        self.stats.buffered_signals += signal_count(signals)

    def _store_lost(self, exc: Exception) -> None:
        if self.stats.store_available:
            log.error("store unavailable, buffering to disk: %s", exc)
        self.stats.store_available = False
        self.stats.last_error = str(exc).splitlines()[0][:500]

    def _drain(self) -> None:
        assert self.buffer is not None
        while self.buffer.depth:
            records = self.buffer.pending(limit=self.max_rows)
            signals: list[Signal | SignalBlock] = []
            states: ConnectorState = {}
            for _, r in records:
                item = record_from_json(r)
                if item.__class__ is Signal:
                    signals.append(item)  # type: ignore[arg-type]
                else:
                    states.update(item)  # type: ignore[arg-type]
            try:
                self._commit(signals, None, states)
            except (OperationalError, DBAPIError) as exc:
                self._store_lost(exc)
                return
            self.buffer.commit(records[-1][0])
            self.stats.replayed_signals += len(signals)
        if not self.stats.store_available:
            log.warning("store available again; disk buffer replayed")
        self.stats.store_available = True

    def _load_machine_states(self, conn: Connection, codes: list[str]) -> dict[str, dict[str, Any]]:
        """Each machine's state as the store holds it (locked for this transaction), loaded into the mapper.

        A machine seen for the first time gets its row first (empty, inserted unless another worker's already
        is), so the lock is always on a row: two workers that meet a new machine at once take turns on it like
        on any other, where reading "no row" and inserting one each would make the second fail on the key."""
        if not codes:
            return {}
        ms = machine_ingest_state.c
        by_id = {self._ids[c]: c for c in codes}
        new = [i for i in by_id if i not in self._state_rows]
        if new:
            dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
            conn.execute(
                dialect.insert(machine_ingest_state).on_conflict_do_nothing(index_elements=["machine_id"]),
                [{"machine_id": i, "state": {}} for i in sorted(new)],
            )
        rows = conn.execute(
            select(ms.machine_id, ms.state)
            .where(ms.machine_id.in_(list(by_id)))
            .order_by(ms.machine_id)
            .with_for_update()
        ).all()
        loaded = {}
        for machine_id, state in rows:
            if state:  # an empty row: no worker has stored this machine's state yet, the mapper keeps its own
                self.mapper.load_machine_state(by_id[machine_id], state)
            loaded[by_id[machine_id]] = state
        return loaded

    def _save_machine_states(self, conn: Connection, codes: list[str], loaded: dict[str, dict[str, Any]]) -> None:
        """Write back the states that changed (a machine that only sent plain process values keeps its row); the
        rows exist and are locked (``_load_machine_states``)."""
        ms = machine_ingest_state.c
        for code in codes:
            state = self.mapper.machine_state(code)
            if state != loaded.get(code):
                conn.execute(update(machine_ingest_state).where(ms.machine_id == self._ids[code]).values(state=state))

    def _committed_state_rows(self, codes: list[str]) -> None:
        self._state_rows.update(self._ids[c] for c in codes)

    def _commit(
        self,
        signals: list[Signal | SignalBlock],
        prepared: _Prepared | None = None,
        states: ConnectorState | None = None,
    ) -> Mapped:
        """Map and store ``signals`` in one transaction; the mapper moves on only if it commits.

        The state of each machine in the batch (counter baselines, filters, current state) is read from the
        store under a row lock and written back in the same transaction: several workers that receive one
        machine's messages (a shared MQTT subscription) take turns on it and count each part once.  Blocks of
        plain process values touch no state: their machines are not locked for them."""
        before = self.mapper.state()
        try:
            with writing(self.engine) as conn:
                if not self._ids:
                    self._ids = machine_ids(conn)
                if prepared is None:
                    prepared = _Prepared(*self.mapper.take_columns(signals), None)
                rest, columns, flat = prepared
                codes = sorted({s.machine for s in rest if s.machine in self._ids})
                loaded = self._load_machine_states(conn, codes)
                mapped = self.mapper.map(rest)
                if mapped.columns:  # columns the mapper took itself: no parameters were made for them
                    flat = None
                mapped.columns[:0] = columns
                self._save_machine_states(conn, codes, loaded)
                result = append_events(conn, work_orders.attribute(conn, mapped.events))
                stored = insert_measurements(conn, mapped.measurements, self._ids, mapped.columns, flat)
                raised = []
                if self._watched and (mapped.measurements or mapped.columns):
                    touched = {(m.machine, m.name) for m in mapped.measurements}
                    touched.update((c.machine, n) for c in mapped.columns for n in set(c.names))
                    raised = spc_monitor.check(conn, self.plant, touched, self._watched)
                if mapped.programs:  # the NC program running against the approved one
                    raised = [*raised, *nc_monitor.check(conn, self.plant, mapped.programs)]
                for sig, reason in mapped.anomalies:
                    conn.execute(
                        quarantine.insert().values(
                            received_at=datetime.now(timezone.utc),
                            source=sig.source,
                            reason=f"{sig.machine}/{sig.tag}: {reason}",
                            payload=signal_to_json(sig),
                        )
                    )
                after = self.mapper.state()
                if after != self._saved_state:
                    _upsert_state(conn, self.state_key, after)
                for key, doc in (states or {}).items():
                    _upsert_state(conn, key, doc)
                if result.earliest:
                    rollups.invalidate(conn, result.earliest)
                    rollups.refresh(conn, self.plant, sorted(result.earliest))
        except BaseException:
            self.mapper.load_state(before)
            raise
        self._saved_state = after
        self._committed_state_rows(codes)
        s = self.stats
        s.committed_signals += signal_count(signals)
        s.committed_events += result.inserted
        s.duplicate_events += result.duplicates
        s.committed_measurements += stored
        s.anomalies += len(mapped.anomalies)
        s.alarms_raised += len(raised)
        s.transactions += 1
        s.store_available = True
        s.last_commit_at = datetime.now(timezone.utc)
        return mapped
