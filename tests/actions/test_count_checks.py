"""Operator counts against the ideal cycle time, counts typed on a machine that counts itself, and performance
above 100 % flagged with its likely cause; on SQLite and PostgreSQL.

By hand, product P with an ideal cycle of 2,400 s; M1 has no counter, M2 counts with its PLC:
- M1 running from T0 (its first known state, within one shift of the calendar).  At T0 + 60 min, 5 good typed:
  at most floor((3,600 + 2,400 - 0) / 2,400) = 2 units in the span, so 5 needs a confirmation and a supervisor;
  2 good pass.  At T0 + 61 min, 2 scrap: floor((3,660 + 2,400 - 2 x 2,400) / 2,400) = floor(1,260 / 2,400) = 0
  more, so they need approval too: refused without one, refused with the operator's own badge or a wrong PIN,
  stored with the supervisor's badge and PIN (audited with who approved and the bound of 0).
- The production report of T0 .. T0 + 3 h up to T0 + 62 min: M1 made 4 units x 2,400 s = 9,600 s of ideal time
  in 62 min of running time (3,720 s): performance 9,600 / 3,720 = 258.1 %, flagged, and with it the plant's.
- On M2 a typed good count is stored as a correction of its counter (source ``pop-correction:``, audit
  ``pop.correction``).
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select

from shopfloor.actions import events as event_actions
from shopfloor.actions.production_report import production_report
from shopfloor.actions.terminal import PopEntry, record_terminal_entries, record_terminal_entry
from shopfloor.analytics.kpi import KpiElements, kpis, over_100
from shopfloor.errors import CountApprovalRequired, CountImplausible
from shopfloor.model.intervals import Interval
from shopfloor.model.plant import Plant
from shopfloor.store import accounts, audit
from shopfloor.store.plant import load_plant, machine_ids, save_plant
from shopfloor.store.schema import machine_events, sign_in_throttle

PLANT = {
    "site": {"code": "S", "name": "Counts", "timezone": "UTC"},
    "areas": [{"code": "A", "lines": [{"code": "L", "machines": [
        {"code": "M1"},
        {"code": "M2", "tags": {"good_count": {"signal": "Good", "bits": 16}, "product": {"default": "P"}}},
    ]}]}],
    "products": [{"code": "P", "ideal_cycle_s": 2400}],
    "calendar": {"shifts": [
        {"name": "A", "start": "00:00", "end": "12:00", "days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]},
        {"name": "B", "start": "12:00", "end": "00:00", "days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]},
    ]},
}  # fmt: skip


@pytest.fixture
def counted(engine):
    with engine.begin() as conn:
        save_plant(conn, Plant.from_dict(PLANT), "t")
        accounts.create_user(conn, "op", "operator", pin="1111", badge="B-OP")
        accounts.create_user(conn, "sup", "supervisor", password="supervisor-pass-1", pin="2222", badge="B-SUP")
    t0 = (datetime.now(timezone.utc) - timedelta(hours=2)).replace(second=0, microsecond=0)
    if t0.hour in (11, 23):  # keep T0 .. T0 + 62 min within one shift (A 00-12, B 12-24 UTC)
        t0 -= timedelta(hours=2)
    event_actions.record_events(engine, "user:t", [{"ts": t0, "machine": "M1", "event": "state", "state": "running"}],
                                "api:t")  # fmt: skip
    return engine, t0


def entry(ts, machine, action, qty, **kw) -> PopEntry:
    return PopEntry(uuid.uuid4().hex, ts, machine, action, qty, defect="BURR" if action == "scrap" else None,
                    product="P", **kw)  # fmt: skip


def stored_units(engine) -> int:
    from sqlalchemy import select

    with engine.connect() as conn:
        return conn.execute(select(func.coalesce(func.sum(machine_events.c.quantity), 0))).scalar()


def test_a_count_the_ideal_cycle_cannot_explain_needs_confirmation_and_a_supervisor(counted):
    engine, t0 = counted
    at60 = t0 + timedelta(minutes=60)
    with pytest.raises(CountImplausible) as refused:
        record_terminal_entry(engine, "op", entry(at60, "M1", "good", 5))
    assert refused.value == CountImplausible(quantity=5, minutes="60.0", cycle="2400", allowed=2)
    assert stored_units(engine) == 0
    assert record_terminal_entry(engine, "op", entry(at60, "M1", "good", 2))["approved_by"] is None
    at61 = t0 + timedelta(minutes=61)
    with pytest.raises(CountImplausible):
        record_terminal_entry(engine, "op", entry(at61, "M1", "scrap", 2))
    with pytest.raises(CountApprovalRequired):
        record_terminal_entry(engine, "op", entry(at61, "M1", "scrap", 2, confirmed=True))
    with pytest.raises(CountApprovalRequired):  # an operator does not approve, least of all their own count
        record_terminal_entry(engine, "op", entry(at61, "M1", "scrap", 2, confirmed=True, approver="B-OP",
                                                  approver_pin="1111"))  # fmt: skip
    with pytest.raises(CountApprovalRequired):  # a wrong PIN
        record_terminal_entry(engine, "op", entry(at61, "M1", "scrap", 2, confirmed=True, approver="B-SUP",
                                                  approver_pin="9999"))  # fmt: skip
    assert stored_units(engine) == 2
    with engine.connect() as conn:  # the wrong PIN is a try counted against the supervisor's account, as at sign-in
        th = sign_in_throttle.c
        failed = conn.execute(select(th.failures).where(th.key == accounts.account_key(conn, "B-SUP"))).scalar()
    assert failed == 1
    done = record_terminal_entry(engine, "op", entry(at61, "M1", "scrap", 2, confirmed=True, approver="B-SUP",
                                                     approver_pin="2222"))  # fmt: skip
    assert done["approved_by"] == "sup" and stored_units(engine) == 4
    with engine.connect() as conn:
        last = audit.entries(conn, 1)[0]
        assert last["action"] == "pop.scrap"
        assert last["detail"]["implausible_count"] == {"approved_by": "sup", "allowed": 0, "minutes": 61.0,
                                                       "cycle_s": 2400.0}  # fmt: skip
        plant = load_plant(conn)
        doc = production_report(conn, plant, Interval(t0, t0 + timedelta(hours=3)), now=at61 + timedelta(minutes=1))
    m1 = {m["machine"]: m for m in doc["machines"]}["M1"]
    assert m1["effectiveness"] == pytest.approx(9600 / 3720)
    assert doc["over_100"] == ["(all)", "M1"]


def test_counts_of_one_batch_are_checked_in_turn_and_a_resent_one_counts_once(counted):
    """Three good units typed at T0 + 60 min in one batch: the first two fit the bound of 2, the third sees them
    and is refused.  At T0 + 100 min, floor((6,000 + 2,400 - 2 x 2,400) / 2,400) = 1 more: a batch that resends
    the first (a duplicate, its unit counted once) and brings one new unit stores the new one."""
    engine, t0 = counted
    at60 = t0 + timedelta(minutes=60)
    first = entry(at60, "M1", "good", 1)
    out = record_terminal_entries(engine, [("op", first), ("op", entry(at60 + timedelta(seconds=1), "M1", "good", 1)),
                                           ("op", entry(at60 + timedelta(seconds=2), "M1", "good", 1))])  # fmt: skip
    assert [o["duplicate"] for o in out[:2]] == [False, False]
    assert out[2] == CountImplausible(quantity=1, minutes="60.0", cycle="2400", allowed=0)
    at100 = t0 + timedelta(minutes=100)
    out = record_terminal_entries(engine, [("op", first), ("op", entry(at100, "M1", "good", 1))])
    assert [o["duplicate"] for o in out] == [True, False]
    assert stored_units(engine) == 3


def test_a_count_typed_on_a_machine_that_counts_is_a_correction(counted):
    engine, t0 = counted
    done = record_terminal_entry(engine, "op", entry(t0 + timedelta(minutes=5), "M2", "good", 1))
    assert done["correction"] is True
    from sqlalchemy import select

    with engine.connect() as conn:
        source = conn.execute(select(machine_events.c.source).where(machine_events.c.kind == "good")).scalar()
        last = audit.entries(conn, 1)[0]
    assert source == "pop-correction:op"
    assert (last["action"], last["detail"]["action"], last["detail"]["correction_of_counter"]) == (
        "pop.correction", "good", True)  # fmt: skip


def test_performance_above_100_percent_is_flagged():
    """By hand: APT 3,600 s, ideal time 7,200 s, PBT 3,600 s, all good: A = 1, E = 2, QR = 1, OEE = 2."""
    k = kpis(KpiElements(pbt_s=3600, apt_s=3600, ideal_s=7200, pq=3, gq=3))
    assert (k["effectiveness"], k["oee"]) == (2.0, 2.0)
    assert over_100(k) == ["effectiveness", "oee"]
    assert over_100(kpis(KpiElements(pbt_s=3600, apt_s=3600, ideal_s=3600, pq=1, gq=1))) == []


SPREAD = {
    "site": {"code": "S", "name": "Spread", "timezone": "UTC"},
    "areas": [{"code": "A", "lines": [{"code": "L", "machines": [
        *({"code": f"A{i}"} for i in range(5)), *({"code": f"B{i}"} for i in range(5)),
    ]}]}],
    "products": [{"code": "P", "ideal_cycle_s": 600}, {"code": "Q", "ideal_cycle_s": 300}],
    "calendar": PLANT["calendar"],
}  # fmt: skip


def test_a_batch_over_many_machines_answers_as_its_taps_sent_one_by_one(engine, monkeypatch):
    """What a batch reads of its machines (latest product, order spans, first state, units counted) is read for
    all of them at once, a few machines a statement here: each of its taps is answered as the same tap sent on its
    own.  Machines A0..A4 get taps one at a time, B0..B4 the same taps in one batch: good and scrap counts with and
    without a product (the machine's latest then counts), over their bound, a start in the middle, a resend."""
    import shopfloor.actions.terminal as terminal

    monkeypatch.setattr(terminal, "_PREFETCH_CHUNK", 2)
    with engine.begin() as conn:
        save_plant(conn, Plant.from_dict(SPREAD), "t")
        accounts.create_user(conn, "op", "operator", pin="1111", badge="B-OP")
    t0 = (datetime.now(timezone.utc) - timedelta(hours=2)).replace(second=0, microsecond=0)
    if t0.hour in (10, 11, 22, 23):  # keep T0 .. T0 + 70 min within one shift
        t0 -= timedelta(hours=3)
    first = [
        {"ts": t0 + timedelta(minutes=i), "machine": f"{g}{i}", "event": "state", "state": "running"}
        for g in "AB"
        for i in range(4)
    ]  # fmt: skip; machine 4 has no state: no bound
    event_actions.record_events(engine, "user:t", first, "api:t")
    taps: list[tuple[str, int, str, int, str | None]] = []  # (minute, machine, action, quantity, product)
    for i in range(5):
        taps += [(30, i, "good", 2, "P"), (31, i, "good", 1, None), (40, i, "scrap", 1 + i, None),
                 (50, i, "good", 9, "Q")]  # fmt: skip
    taps.insert(7, (35, 1, "start", 0, None))
    keys = {}

    def pop(group: str, minute: int, i: int, action: str, qty: int, product: str | None) -> PopEntry:
        key = keys.setdefault((minute, i, action), uuid.uuid4().hex)
        return PopEntry(f"{group}{key}", t0 + timedelta(minutes=minute), f"{group}{i}", action, qty or None,
                        defect="BURR" if action == "scrap" else None, product=product)  # fmt: skip

    def outcome(o):  # a refusal with its parameters, or whether the tap was a duplicate
        return o["duplicate"] if isinstance(o, dict) else o

    one_by_one = []
    for t in taps:
        try:
            one_by_one.append(outcome(record_terminal_entry(engine, "op", pop("A", *t))))
        except Exception as exc:  # noqa: BLE001 - compared with the batch's
            one_by_one.append(outcome(exc))
    batch = [outcome(o) for o in record_terminal_entries(engine, [("op", pop("B", *t)) for t in taps])]
    assert batch == one_by_one
    assert any(isinstance(o, CountImplausible) for o in batch) and batch.count(False) >= 10
    resent = [outcome(o) for o in record_terminal_entries(engine, [("op", pop("B", *t)) for t in taps[:6]])]
    assert resent == [True if o is False else o for o in batch[:6]]
    with engine.connect() as conn:
        me, code_of = machine_events.c, {mid: code for code, mid in machine_ids(conn).items()}
        rows = conn.execute(select(me.machine_id, me.kind, func.sum(me.quantity)).group_by(me.machine_id, me.kind))
        units = {(code_of[mid], kind): q for mid, kind, q in rows if kind != "state"}
    a = {(m[1:], kind): q for (m, kind), q in units.items() if m[0] == "A"}
    b = {(m[1:], kind): q for (m, kind), q in units.items() if m[0] == "B"}
    assert a == b and sum(b.values()) > 0


def test_a_count_without_a_product_is_for_the_machines_latest_product(engine):
    """By hand: on A0, good Q at T0 + 10 min, scrap P at T0 + 20 min, rework R at T0 + 15 min stored last (later
    by arrival, earlier in time) and a good count naming no product at T0 + 25 min: the latest count that names a
    product is the scrap, so a tap naming none is for P.  On A1, two counts at the same instant: the one stored
    last (P) holds.  On A2, no count: the product of its tag mapping, none here.  All in one batch."""
    from shopfloor.model.events import CountEvent, CountKind
    from shopfloor.store.db import writing
    from shopfloor.store.events import append_events

    with engine.begin() as conn:
        plant = Plant.from_dict({**SPREAD, "products": [*SPREAD["products"], {"code": "R"}]})
        save_plant(conn, plant, "t")
        accounts.create_user(conn, "op", "operator", pin="1111", badge="B-OP")
    t0 = datetime.now(timezone.utc).replace(microsecond=0) - timedelta(hours=1)
    good, scrap, rework = CountKind.GOOD, CountKind.SCRAP, CountKind.REWORK
    earlier = [("A0", 10, good, "Q"), ("A0", 20, scrap, "P"), ("A0", 15, rework, "R"), ("A0", 25, good, None),
               ("A1", 5, good, "Q"), ("A1", 5, scrap, "P")]  # fmt: skip
    with writing(engine) as conn:
        for machine, minute, kind, product in earlier:  # one at a time: ids in this order
            append_events(conn, [CountEvent(t0 + timedelta(minutes=minute), machine, kind, 1, product,
                                            "BURR" if kind is not CountKind.GOOD else None, "t")])  # fmt: skip
    taps = [("op", PopEntry(uuid.uuid4().hex, t0 + timedelta(minutes=30 + i), m, "good", 1)) for i, m in
            enumerate(["A0", "A1", "A2"])]  # fmt: skip
    assert all(o["stored"] for o in record_terminal_entries(engine, taps))
    with engine.connect() as conn:
        me, ids = machine_events.c, machine_ids(conn)
        stored = {m: conn.execute(select(me.product).where(me.machine_id == ids[m], me.ts == t.ts)).scalar_one()
                  for (_, t), m in zip(taps, ["A0", "A1", "A2"])}  # fmt: skip
    assert stored == {"A0": "P", "A1": "P", "A2": None}
