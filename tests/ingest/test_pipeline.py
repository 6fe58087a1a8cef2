"""Signals -> mapping -> one writer -> store: counts once, keeps state across restarts, buffers while the
store is away and replays in order."""

import asyncio
import time
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError

from shopfloor.connectors.base import Quality, Signal, SignalBlock, expand_signals
from shopfloor.ingest.mapping import SignalMapper
from shopfloor.ingest.writer import IngestWriter, NotCommitted
from shopfloor.model.events import CountEvent, MachineState, StateChange
from shopfloor.model.plant import Plant
from shopfloor.store.plant import load_plant, save_plant
from shopfloor.store.schema import machine_events, measurements, quarantine

T0 = datetime(2026, 3, 2, 0, 0, tzinfo=timezone.utc)
PLANT = {
    "site": {"code": "S", "timezone": "Asia/Seoul"},
    "areas": [
        {
            "code": "A",
            "lines": [
                {
                    "code": "L",
                    "machines": [
                        {
                            "code": "M1",
                            "tags": {
                                "state": {"signal": "State", "map": {0: "idle", 1: "running", 2: "setup", 3: "down"}},
                                "total_count": {"signal": "Total", "bits": 16},
                                "scrap_count": {"signal": "Scrap", "bits": 16, "reason": "NG"},
                                "alarm": {"signal": "Alarm", "reasons": {101: "LASER_FAULT"}},
                                "product": {"default": "P"},
                                "process": [
                                    {
                                        "signal": "Power",
                                        "name": "laser_power",
                                        "compression": "swinging_door",
                                        "deviation": 1.0,
                                    }
                                ],
                            },
                        }
                    ],
                }
            ],
        }
    ],
    "products": [{"code": "P", "ideal_cycle_s": 1.0}],
}


def sig(tag, value, seconds, quality=Quality.GOOD):
    return Signal("test", "M1", tag, value, T0 + timedelta(seconds=seconds), quality, f"{tag}:{seconds}")


def test_mapper_turns_signals_into_events_and_measurements():
    mapper = SignalMapper(Plant.from_dict(PLANT))
    out = mapper.map(
        [
            sig("State", 1, 0),
            sig("Total", 65530, 0),
            sig("Scrap", 10, 0),
            sig("Total", 65535, 5),
            sig("Total", 4, 10),
            sig("Scrap", 12, 10),
            sig("Alarm", 101, 11),
            sig("Alarm", 0, 20),
            sig("State", 0, 30),
            sig("Power", 100.0, 0),
            sig("Power", 100.2, 1),
            sig("Power", 100.1, 2),
            sig("Power", 120.0, 3),
            sig("Unknown", 1, 3),
            sig("State", 99, 40),
            sig("Total", "abc", 41),
            sig("State", None, 42, Quality.BAD),
        ]
    )
    states = [(e.state, e.reason) for e in out.events if isinstance(e, StateChange)]
    assert states == [
        (MachineState.RUNNING, None),
        (MachineState.DOWN, "LASER_FAULT"),
        (MachineState.RUNNING, None),
        (MachineState.IDLE, None),
    ]
    counts = [(e.kind.value, e.quantity, e.product) for e in out.events if isinstance(e, CountEvent)]
    # 65530 -> 65535 -> 4 is 5 + 5 units across the 16-bit wrap.  The 2 scrap units read with the second total
    # increment are of those 5 units: good 3, so good + scrap always adds up to the total counter.
    assert counts == [("good", 5, "P"), ("good", 3, "P"), ("scrap", 2, "P")]
    more = mapper.map([sig("Total", 7, 50)])
    assert [(e.kind.value, e.quantity) for e in more.events] == [("good", 3)]
    assert [m.value for m in out.measurements] == [100.0, 100.1]  # 100.2 and 120.0 held by the filter
    assert out.ignored >= 2
    assert [reason for _, reason in out.anomalies] == [
        "state value 99 matches no rule of the mapping",
        "counter value 'abc' is not a whole number",
    ]


@pytest.fixture
def store(engine):
    plant = Plant.from_dict(PLANT)
    with engine.begin() as conn:
        save_plant(conn, plant, "test")
        plant = load_plant(conn)
    return engine, plant


def _count(engine, table):
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(table)).scalar()


def _good(engine):
    with engine.connect() as conn:
        return conn.execute(
            select(func.coalesce(func.sum(machine_events.c.quantity), 0)).where(machine_events.c.kind == "good")
        ).scalar()


def test_writer_commits_and_a_new_writer_continues_without_recounting(store, tmp_path):
    engine, plant = store

    async def scenario():
        w = IngestWriter(engine, plant, tmp_path / "buf", max_delay_s=0.01)
        await w.start()
        await w.submit([sig("State", 1, 0), sig("Total", 100, 0), sig("Power", 5.0, 0)])
        await w.submit([sig("Total", 110, 10), sig("Power", 5.1, 10), sig("State", 99, 11)])
        await w.stop()
        assert _good(engine) == 10
        # A restart (new writer, state from the store) and the same signals delivered again.
        w2 = IngestWriter(engine, plant, tmp_path / "buf", max_delay_s=0.01)
        await w2.start()
        await w2.submit([sig("Total", 110, 10), sig("Total", 115, 15)])
        await w2.stop()

    asyncio.run(scenario())
    assert _good(engine) == 15
    assert _count(engine, quarantine) == 1
    assert _count(engine, measurements) >= 1


def _outage(engine):
    """A switch, and a stand-in for ``engine.begin`` that fails like an unreachable store while it is on."""
    real_begin = engine.begin
    outage = {"on": False}

    def begin():
        if outage["on"]:
            raise OperationalError("INSERT", {}, Exception("store unreachable"))
        return real_begin()

    return outage, begin


def test_signals_are_buffered_while_the_store_is_away_and_replayed_in_order(store, tmp_path, monkeypatch):
    engine, plant = store
    outage, begin = _outage(engine)

    async def scenario():
        w = IngestWriter(engine, plant, tmp_path / "buf", max_delay_s=0.01, retry_s=0.05)
        await w.start()
        await w.submit([sig("State", 1, 0), sig("Total", 0, 0)])
        monkeypatch.setattr(engine, "begin", begin)
        outage["on"] = True
        for i in range(1, 6):
            await w.submit([sig("Total", i * 10, i * 10)])  # acknowledged: durably buffered
        assert w.buffered == 5 and not w.stats.store_available
        assert _good_unpatched() == 0
        outage["on"] = False
        for _ in range(100):
            await asyncio.sleep(0.05)
            if w.buffered == 0:
                break
        await w.submit([sig("Total", 60, 60)])
        await w.stop()
        return w

    def _good_unpatched():
        with engine.connect() as conn:
            return conn.execute(
                select(func.coalesce(func.sum(machine_events.c.quantity), 0)).where(machine_events.c.kind == "good")
            ).scalar()

    w = asyncio.run(scenario())
    assert w.stats.replayed_signals == 5
    assert _good(engine) == 60


def _with_plain_process_value(doc):
    """PLANT with an uncompressed process value (Speed -> weld_speed), the writer's hot path."""
    import copy

    doc = copy.deepcopy(doc)
    doc["areas"][0]["lines"][0]["machines"][0]["tags"]["process"].append({"signal": "Speed", "name": "weld_speed"})
    return doc


def test_a_process_value_that_is_not_finite_is_quarantined_and_the_rest_is_stored(engine, tmp_path):
    """NaN or an infinity (a PLC's "no reading") is no measurement: a store keeps NaN as NULL, which the
    measurements table refuses, and a commit that fails forever would hold back every later value."""
    plant = Plant.from_dict(_with_plain_process_value(PLANT))
    with engine.begin() as conn:
        save_plant(conn, plant, "test")
        plant = load_plant(conn)
    nan, inf = float("nan"), float("inf")

    async def scenario():
        w = IngestWriter(engine, plant, tmp_path / "buf")
        await w.start()
        await w.submit(
            [
                sig("Speed", 12.5, 0),
                sig("Speed", nan, 1),
                sig("Speed", -inf, 2),
                sig("Speed", "inf", 3),
                sig("Power", inf, 4),
                sig("Speed", 13.0, 5),
            ]
        )
        await w.stop()
        return w

    w = asyncio.run(scenario())
    with engine.connect() as conn:
        stored = conn.execute(select(measurements.c.name, measurements.c.value).order_by(measurements.c.ts)).all()
        reasons = sorted(conn.execute(select(quarantine.c.reason)).scalars())
    assert [tuple(r) for r in stored] == [("weld_speed", 12.5), ("weld_speed", 13.0)]
    assert reasons == [
        "M1/Power: process value inf is not a finite number",
        "M1/Speed: process value 'inf' is not a finite number",
        "M1/Speed: process value -inf is not a finite number",
        "M1/Speed: process value nan is not a finite number",
    ]
    assert w.stats.store_available and w.buffered == 0


def test_stored_process_values_are_the_doubles_that_were_read(engine):
    """Bit for bit, whatever the magnitude: random IEEE 754 bit patterns, decimals and float32 values.  Only the
    sign of a zero is not kept (SQLite stores a whole-number REAL as an integer): -0.0 comes back as 0.0."""
    import random
    import struct

    from shopfloor.connectors.sparkplug.codec import float32
    from shopfloor.ingest.mapping import Measurement
    from shopfloor.ingest.writer import insert_measurements
    from shopfloor.store.plant import machine_ids

    plant = Plant.from_dict(PLANT)
    with engine.begin() as conn:
        save_plant(conn, plant, "test")
    rng = random.Random(22400)
    values: list[float] = []
    while len(values) < 3000:
        v = struct.unpack("<d", rng.getrandbits(64).to_bytes(8, "little"))[0]
        if v - v == 0.0:
            values.append(v)
    values += [round(rng.uniform(-1e4, 1e4), rng.randint(0, 6)) for _ in range(3000)]
    values += [float32(rng.uniform(0, 5000)) for _ in range(3000)]
    values += [0.0, -0.0, 5e-324, 1.7976931348623157e308, -2.2250738585072014e-308, 0.1, 1 / 3]
    rows = [Measurement(T0 + timedelta(microseconds=i), "M1", "laser_power", v) for i, v in enumerate(values)]
    with engine.begin() as conn:
        assert insert_measurements(conn, rows, machine_ids(conn)) == len(rows)
        # Stored already: written again with the same values, nothing added.
        assert insert_measurements(conn, rows[:10], machine_ids(conn)) == 10
    with engine.connect() as conn:
        stored = conn.execute(select(measurements.c.value).order_by(measurements.c.ts)).scalars().all()
    assert [struct.pack("<d", v + 0.0) for v in stored] == [struct.pack("<d", v + 0.0) for v in values]


def block(tags_values, seconds, machine="M1"):
    """A SignalBlock of ``tags_values`` at one instant, as the Sparkplug host makes of a plain DATA payload."""
    return two_instants([(t, v, seconds) for t, v in tags_values], machine)


def two_instants(tags_values_seconds, machine="M1"):
    """A block whose metrics carry timestamps of their own."""
    instants = {s: T0 + timedelta(seconds=s) for _, _, s in tags_values_seconds}
    ms = {s: int(t.timestamp() * 1000) for s, t in instants.items()}
    return SignalBlock(
        "test",
        machine,
        [t for t, _, _ in tags_values_seconds],
        [v for _, v, _ in tags_values_seconds],
        [ms[s] for _, _, s in tags_values_seconds],
        {ms[s]: t for s, t in instants.items()},
        "blk:",
    )


def _stored(engine):
    with engine.connect() as conn:
        rows = conn.execute(
            select(measurements.c.name, measurements.c.ts, measurements.c.value, measurements.c.quality).order_by(
                measurements.c.ts, measurements.c.name
            )
        ).all()
        events = conn.execute(
            select(machine_events.c.kind, machine_events.c.ts, machine_events.c.quantity).order_by(
                machine_events.c.ts, machine_events.c.kind
            )
        ).all()
        reasons = sorted(conn.execute(select(quarantine.c.reason)).scalars())
    return [tuple(r) for r in rows], [tuple(e) for e in events], reasons


@pytest.mark.parametrize("as_blocks", [False, True])
def test_signal_blocks_are_stored_exactly_as_their_signals_would_be(engine, tmp_path, as_blocks):
    """A block of plain process values is stored a column at a time; a block with anything else in it (a state,
    a counter, a compressed value, NaN, a string, an unknown tag) is mapped Signal by Signal.  Either way the
    store ends up as it would from the same Signals one by one."""
    plant = Plant.from_dict(_with_plain_process_value(PLANT))
    with engine.begin() as conn:
        save_plant(conn, plant, "test")
        plant = load_plant(conn)
    batches = [
        [block([("Speed", 10.0)], 0), block([("State", 1), ("Total", 100), ("Speed", 10.5)], 1)],
        [block([("Speed", 11.0)], 2), sig("Total", 103, 3), block([("Speed", float("nan")), ("Power", 5.0)], 4)],
        [block([("Speed", 12.0), ("Unknown", 1.0)], 5), block([("Speed", "fast")], 6), block([("Speed", 13.0)], 7)],
        [block([("Speed", 13.0)], 7)],  # delivered again: stored once
        [two_instants([("Speed", 14.0, 8), ("Speed", 15.0, 9), ("Speed", 16.0, 8.5)])],
    ]
    if not as_blocks:
        batches = [expand_signals(b) for b in batches]

    async def scenario():
        w = IngestWriter(engine, plant, tmp_path / "buf")
        await w.start()
        for batch in batches:
            await w.submit(batch)
        await w.stop()
        return w

    w = asyncio.run(scenario())
    rows, events, reasons = _stored(engine)
    speed = [(r[0], r[2]) for r in rows if r[0] == "weld_speed"]
    assert speed == [("weld_speed", v) for v in (10.0, 10.5, 11.0, 12.0, 13.0, 14.0, 16.0, 15.0)]
    assert [(e[0], e[2]) for e in events] == [("state", None), ("good", 3)]
    assert reasons == [
        "M1/Speed: process value 'fast' is not a number",
        "M1/Speed: process value nan is not a finite number",
    ]
    # The block delivered again is written again (the same values): one row more written than stored.
    assert w.stats.committed_signals == 16 and w.stats.committed_measurements == len(rows) + 1


def test_blocks_received_while_the_store_is_away_are_buffered_as_signals_and_replayed(store, tmp_path, monkeypatch):
    engine, plant = store
    plant = Plant.from_dict(_with_plain_process_value(PLANT))
    with engine.begin() as conn:
        save_plant(conn, plant, "test")
        plant = load_plant(conn)
    outage, begin = _outage(engine)
    outage["on"] = True

    async def scenario():
        w = IngestWriter(engine, plant, tmp_path / "buf", retry_s=0.05)
        await w.start()
        monkeypatch.setattr(engine, "begin", begin)
        await w.submit([block([("Speed", 1.0), ("Total", 5)], 0), block([("Speed", 2.0)], 1)])
        assert w.buffered == 3 and w.stats.buffered_signals == 3
        outage["on"] = False
        for _ in range(100):
            await asyncio.sleep(0.05)
            if w.buffered == 0:
                break
        await w.stop()
        return w

    w = asyncio.run(scenario())
    assert w.stats.replayed_signals == 3
    rows, _, _ = _stored(engine)
    assert [(r[0], r[2]) for r in rows] == [("weld_speed", 1.0), ("weld_speed", 2.0)]


def test_a_block_of_plain_values_is_mapped_to_columns_and_others_value_by_value():
    from shopfloor.ingest.mapping import MeasurementColumns

    mapper = SignalMapper(Plant.from_dict(_with_plain_process_value(PLANT)))
    plain = block([("Speed", 1.0), ("Speed", 2.5)], 0)
    mixed = block([("Speed", 3.0), ("State", 1)], 1)
    out = mapper.map([plain, mixed])
    assert out.columns == [MeasurementColumns("M1", ["weld_speed"] * 2, plain.stamps, plain.times, [1.0, 2.5])]
    assert out.columns[0].rows() == mapper.map(plain.signals()).measurements
    assert [(m.name, m.value) for m in out.measurements] == [("weld_speed", 3.0)]
    assert [type(e).__name__ for e in out.events] == ["StateChange"]
    assert mapper.map([block([("Speed", 1.0)], 0, machine="M9")]).ignored == 1  # no such machine


def test_a_batch_handed_over_behind_one_that_fails_is_not_committed_before_it(store, tmp_path, monkeypatch):
    """``hand_over`` lets a connector queue its next batch while the last one commits.  If that commit fails,
    the batch queued behind it fails too, though the store answers again: committed first, it would be
    stored out of order.  Handed over again in order, both are committed, in order."""
    engine, plant = store
    real_begin, calls = engine.begin, []

    def begin():
        calls.append(1)
        if len(calls) == 1:
            time.sleep(0.3)  # a store that times out, once
            raise OperationalError("INSERT", {}, Exception("store unreachable"))
        return real_begin()

    monkeypatch.setattr(engine, "begin", begin)
    first, second = [sig("State", 1, 0), sig("Total", 100, 0)], [sig("Total", 110, 10)]

    async def scenario():
        w = IngestWriter(engine, plant, None)  # no disk buffer: a commit that fails, fails
        await w.start()
        a = w.hand_over(first)
        await asyncio.sleep(0.1)  # the writer is in a's transaction
        b = w.hand_over(second, after=a)
        outcomes = await asyncio.gather(a, b, return_exceptions=True)
        a2 = w.hand_over(first)
        b2 = w.hand_over(second, after=a2)
        await asyncio.gather(a2, b2)
        await w.stop()
        return outcomes

    failed_a, failed_b = asyncio.run(scenario())
    assert isinstance(failed_a, RuntimeError) and "no disk buffer" in str(failed_a)
    assert isinstance(failed_b, NotCommitted)
    assert _good(engine) == 10


def test_the_connector_emit_tells_of_each_batch_once_committed(store, tmp_path):
    engine, plant = store
    told = []

    async def scenario():
        w = IngestWriter(engine, plant, tmp_path / "buf")
        await w.start()
        emit = w.emit_for_connector(told.append)
        await emit([sig("Total", 100, 0)])
        await emit.hand_over([sig("Total", 105, 5)])
        await emit.hand_over([])
        await w.stop()

    asyncio.run(scenario())
    assert [[s.value for s in batch] for batch in told] == [[100], [105]]
    assert _good(engine) == 5


def test_two_readings_of_a_value_at_one_instant_keep_the_later_one(engine, tmp_path):
    """A Sparkplug birth repeats a value at the birth's instant and the DATA sent in the same millisecond brings the
    next one: the later reading in the stream is the value at that instant, in one batch or across two."""
    plant = Plant.from_dict(_with_plain_process_value(PLANT))
    with engine.begin() as conn:
        save_plant(conn, plant, "test")
        plant = load_plant(conn)

    async def scenario():
        w = IngestWriter(engine, plant, tmp_path / "buf")
        await w.start()
        await w.submit([sig("Speed", 10.0, 0), sig("Speed", 11.0, 0)])
        await w.submit([sig("Speed", 12.0, 1)])
        await w.submit([sig("Speed", 13.0, 1)])
        await w.stop()

    asyncio.run(scenario())
    rows, _, _ = _stored(engine)
    assert [(r[0], r[2]) for r in rows if r[0] == "weld_speed"] == [("weld_speed", 11.0), ("weld_speed", 13.0)]


def test_measurements_in_rows_and_blocks_replace_what_is_stored_and_the_later_reading_wins(engine):
    """``insert_measurements`` with rows and blocks of columns: new instants are added, an instant the store holds
    is replaced, and of two readings of one instant in the same call the later one is kept (on PostgreSQL the fast
    COPY meets the stored row and the batch goes through the staging table instead)."""
    from shopfloor.ingest.mapping import Measurement, MeasurementColumns
    from shopfloor.ingest.writer import insert_measurements
    from shopfloor.store.plant import machine_ids

    plant = Plant.from_dict(PLANT)
    with engine.begin() as conn:
        save_plant(conn, plant, "test")
    t = [T0 + timedelta(seconds=s) for s in range(3)]
    with engine.begin() as conn:
        ids = machine_ids(conn)
        first = MeasurementColumns("M1", ["a", "b", "a"], [0, 0, 1], {0: t[0], 1: t[1]}, [1.0, 2.0, 3.0])
        assert insert_measurements(conn, [Measurement(t[2], "M1", "a", 4.0)], ids, [first]) == 4
    with engine.begin() as conn:
        again = MeasurementColumns("M1", ["a", "a", "c"], [0, 0, 0], {0: t[0]}, [10.0, 11.0, 5.0])
        written = insert_measurements(conn, [Measurement(t[2], "M1", "a", 40.0)], ids, [again])
        # PostgreSQL writes one row per instant (a at t0, c at t0, a at t2); SQLite counts each reading it wrote.
        assert written == (3 if engine.dialect.name == "postgresql" else 4)
    with engine.connect() as conn:
        stored = conn.execute(
            select(measurements.c.name, measurements.c.ts, measurements.c.value).order_by(
                measurements.c.ts, measurements.c.name
            )
        ).all()
    assert [(n, ts.astimezone(timezone.utc), v) for n, ts, v in stored] == [
        ("a", t[0], 11.0), ("b", t[0], 2.0), ("c", t[0], 5.0), ("a", t[1], 3.0), ("a", t[2], 40.0)
    ]  # fmt: skip
