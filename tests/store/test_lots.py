"""Lots on both stores: every action and status rule, lot arithmetic, idempotent requests, and trace through
more than five levels with splits and merges."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import insert, select

from shopfloor.errors import DomainError
from shopfloor.model.lots import LotStatus, from_milli, to_milli
from shopfloor.store import lots, trace
from shopfloor.store import work_orders as wo
from shopfloor.store.schema import items, lot_links, lot_movements
from tests.lots_data import add_master_data, five_levels, start_order


@pytest.fixture
def store(engine):
    with engine.begin() as conn:
        plant = add_master_data(conn)
    return engine, plant


def test_quantities_are_exact_thousandths():
    assert to_milli("12.5") == 12_500 and to_milli(3) == 3_000 and to_milli("0,25") == 250
    assert from_milli(12_500) == Decimal("12.5") and str(from_milli(3_000)) == "3"
    for bad, reason in [
        ("1.0005", "more than three decimals"),
        ("abc", "not a number"),
        (-1, "more than zero"),
        (0, "more than zero"),
        (float("nan"), "finite"),
        (True, "not a number"),
    ]:
        with pytest.raises(DomainError, match=reason):
            to_milli(bad)


def test_receive_keeps_supplier_lot_and_certificate_and_numbers_lots(store):
    engine, _ = store
    with engine.begin() as conn:
        a = lots.receive(
            conn,
            "COIL",
            "1250.5",
            "clerk",
            location="WH",
            supplier="POSCO",
            supplier_lot="P-77812",
            certificate={"certificate": "MTC-2026-118", "heat": "H4471", "tensile_mpa": "412"},
        )
        b = lots.receive(conn, "COIL", 800, "clerk", location="WH", supplier="POSCO")
        c = lots.receive(conn, "WIRE", 50, "clerk", code="WIRE-0001", supplier="HYOSUNG")
    assert a.qty == "1250.5" and a.unit == "kg" and a.status is LotStatus.ACTIVE
    assert a.code.startswith("R") and b.code != a.code and c.code == "WIRE-0001"
    assert a.certificate["heat"] == "H4471" and a.supplier_lot == "P-77812"
    with engine.begin() as conn:
        moves = lots.movements(conn, a.code)
    assert [(m["kind"], m["qty"], m["balance"], m["actor"]) for m in moves] == [
        ("receive", "1250.5", "1250.5", "clerk")
    ]


@pytest.mark.parametrize(
    "kwargs, reason",
    [
        ({"item": "NOPE"}, "unknown item NOPE"),
        ({"qty": 0}, "more than zero"),
        ({"location": "MOON"}, "unknown location MOON"),
        ({"supplier": "ACME"}, "unknown supplier ACME"),
        ({"code": "DUP"}, "lot DUP exists already"),
    ],
)
def test_receive_refuses_what_is_not_known(store, kwargs, reason):
    engine, _ = store
    with engine.begin() as conn:
        lots.receive(conn, "COIL", 1, "clerk", code="DUP")
    args = {"item": "COIL", "qty": 5, "code": None} | kwargs
    with engine.begin() as conn, pytest.raises(DomainError, match=reason):
        lots.receive(conn, args.pop("item"), args.pop("qty"), "clerk", **args)


def test_no_negative_stock_and_final_statuses(store):
    engine, plant = store
    with engine.begin() as conn:
        lot = lots.receive(conn, "COIL", 10, "clerk", code="C1", location="WH")
        order = start_order(conn, plant, "WO-1", "SHELL")
        with pytest.raises(DomainError, match="has 10 kg: cannot take 10.5"):
            lots.issue(conn, "C1", "10.5", order, "op")
        lots.issue(conn, "C1", 4, order, "op")
        assert lots.get(conn, "C1").qty == "6"
        done = lots.issue(conn, "C1", None, order, "op")  # the rest
        assert done.qty == "0" and done.status is LotStatus.CONSUMED
        for action in (
            lambda: lots.issue(conn, "C1", 1, order, "op"),
            lambda: lots.split(conn, "C1", [1], "op"),
            lambda: lots.hold(conn, "C1", "suspect", "qa"),
            lambda: lots.ship(conn, "C1", 1, "LGE", "op"),
        ):
            with pytest.raises(DomainError, match="lot C1 is consumed: cannot .* \\(it is final\\)"):
                action()
    assert lot.qty == "10"


def test_hold_blocks_use_until_released_with_a_reason(store):
    engine, plant = store
    with engine.begin() as conn:
        lots.receive(conn, "COIL", 10, "clerk", code="C1", location="WH")
        order = start_order(conn, plant, "WO-1", "SHELL")
        with pytest.raises(DomainError, match="needs a reason"):
            lots.hold(conn, "C1", " ", "qa")
        held = lots.hold(conn, "C1", "tensile test failed", "qa")
        assert held.status is LotStatus.HOLD
        with pytest.raises(
            DomainError, match="lot C1 is hold: cannot issue \\(it can: adjust, move, release, return, scrap\\)"
        ):
            lots.issue(conn, "C1", 1, order, "op")
        with pytest.raises(DomainError, match="cannot hold"):
            lots.hold(conn, "C1", "again", "qa")
        moved = lots.move(conn, "C1", "QA", "qa")  # held material goes to quarantine
        assert moved.location == "QA" and moved.status is LotStatus.HOLD
        released = lots.release(conn, "C1", "retest passed", "qa")
        assert released.status is LotStatus.ACTIVE
        with pytest.raises(DomainError, match="cannot release"):
            lots.release(conn, "C1", "again", "qa")
        lots.issue(conn, "C1", 1, order, "op")
        kinds = [m["kind"] for m in lots.movements(conn, "C1")]
    assert kinds == ["receive", "hold", "move", "release", "issue"]


def test_issue_needs_a_running_or_released_order_and_an_item_of_its_bom(store):
    engine, plant = store
    with engine.begin() as conn:
        lots.receive(conn, "WIRE", 10, "clerk", code="W1")
        lots.receive(conn, "COIL", 10, "clerk", code="C1")
        start_order(conn, plant, "WO-P", "SHELL", start=False)
        wo.create(conn, plant, "WO-PLANNED", "SHELL", 5, "planner")
        with pytest.raises(DomainError, match="WO-PLANNED is planned"):
            lots.issue(conn, "C1", 1, "WO-PLANNED", "op")
        with pytest.raises(DomainError, match="item WIRE is not in the BOM of SHELL \\(components: COIL\\)"):
            lots.issue(conn, "W1", 1, "WO-P", "op")
        with pytest.raises(DomainError, match="no work order WO-X"):
            lots.issue(conn, "C1", 1, "WO-X", "op")
        lots.issue(conn, "C1", 1, "WO-P", "op")  # released is enough


def test_split_and_merge_conserve_quantity(store):
    engine, _ = store
    with engine.begin() as conn:
        lots.receive(conn, "COIL", "100.5", "clerk", code="C1", supplier="POSCO", supplier_lot="P-1", location="WH")
        parent, a, b = lots.split(conn, "C1", ["30.25", 20], "op", location="LINE-1")
        assert (parent.qty, a.qty, b.qty) == ("50.25", "30.25", "20")
        assert (a.code, b.code) == ("C1-1", "C1-2") and a.supplier_lot == "P-1" and a.location == "LINE-1"
        with pytest.raises(DomainError, match="has 50.25 kg: cannot split off 60"):
            lots.split(conn, "C1", [30, 30], "op")
        rest = lots.split(conn, "C1", ["50.25"], "op")
        assert rest[0].status is LotStatus.CONSUMED and rest[1].qty == "50.25"
        lots.receive(conn, "WIRE", 1, "clerk", code="W1")
        with pytest.raises(DomainError, match="different items"):
            lots.merge(conn, ["C1-1", "W1"], "op")
        with pytest.raises(DomainError, match="at least two different lots"):
            lots.merge(conn, ["C1-1", "C1-1"], "op")
        merged = lots.merge(conn, ["C1-1", "C1-2", "C1-3"], "op", code="M1")
        assert merged.qty == "100.5" and merged.supplier == "POSCO"
        assert all(lots.get(conn, c).status is LotStatus.CONSUMED for c in ("C1-1", "C1-2", "C1-3"))
        total_links = conn.execute(select(lot_links.c.kind, lot_links.c.qty_milli)).all()
    assert sorted(q for k, q in total_links if k == "merge") == [20_000, 30_250, 50_250]


@settings(max_examples=25, deadline=None)
@given(st.lists(st.integers(min_value=1, max_value=10_000), min_size=1, max_size=6), st.integers(0, 5_000))
def test_any_split_then_merge_gives_back_the_quantity(tmp_path_factory, parts, rest):
    from shopfloor.store.db import open_store

    engine = open_store(str(tmp_path_factory.mktemp("lots") / "s.db"))
    with engine.begin() as conn:
        conn.execute(insert(items).values(code="COIL", name="coil", kind="raw", unit="kg"))
        total = sum(parts) + rest
        lots.receive(conn, "COIL", Decimal(total) / 1000, "t", code="C")
        out = lots.split(conn, "C", [Decimal(p) / 1000 for p in parts], "t")
        assert sum(lot.qty_milli for lot in out) == total
        codes = [lot.code for lot in out if lot.qty_milli > 0]
        if len(codes) >= 2:
            merged = lots.merge(conn, codes, "t")
            assert merged.qty_milli == total
    engine.dispose()


def test_a_repeated_request_key_changes_nothing(store):
    engine, plant = store
    with engine.begin() as conn:
        first = lots.receive(conn, "COIL", 10, "clerk", key="tap-1")
        again = lots.receive(conn, "COIL", 10, "clerk", key="tap-1")
        order = start_order(conn, plant, "WO-1", "SHELL")
        lots.issue(conn, first.code, 3, order, "op", key="tap-2")
        lots.issue(conn, first.code, 3, order, "op", key="tap-2")  # double tap on the terminal
        s1 = lots.split(conn, first.code, [1, 1], "op", key="tap-3")
        s2 = lots.split(conn, first.code, [1, 1], "op", key="tap-3")
        with pytest.raises(DomainError, match="already used for a split, not a hold"):
            lots.hold(conn, first.code, "x", "qa", key="tap-3")
        count = len(conn.execute(select(lot_movements.c.id)).all())
    assert again.code == first.code and [x.code for x in s1] == [x.code for x in s2]
    assert lots.get(engine.connect(), first.code).qty == "5"
    assert count == 5  # receive, issue, split, two split-offs


def test_ship_scrap_and_count(store):
    engine, _ = store
    with engine.begin() as conn:
        lots.receive(conn, "DRUM-A", 10, "clerk", code="F1", location="WH")
        with pytest.raises(DomainError, match="unknown customer"):
            lots.ship(conn, "F1", 1, "NOPE", "ship")
        lots.ship(conn, "F1", 6, "LGE", "ship", shipment="DN-1001")
        lots.scrap(conn, "F1", 1, "qa", defect="DENT")
        counted = lots.adjust(conn, "F1", 2, "cycle count", "clerk")
        assert counted.qty == "2"
        gone = lots.ship(conn, "F1", None, "LGE", "ship", shipment="DN-1002")
        assert gone.status is LotStatus.SHIPPED
        moves = lots.movements(conn, "F1")
        stock = lots.inventory(conn)
    assert [(m["kind"], m["qty"], m["balance"]) for m in moves] == [
        ("receive", "10", "10"),
        ("ship", "-6", "4"),
        ("scrap", "-1", "3"),
        ("adjust", "-1", "2"),
        ("ship", "-2", "0"),
    ]
    assert stock == []


def test_inventory_by_location_separates_held_stock(store):
    engine, _ = store
    with engine.begin() as conn:
        lots.receive(conn, "COIL", 10, "c", code="A", location="WH")
        lots.receive(conn, "COIL", "2.5", "c", code="B", location="WH")
        lots.receive(conn, "COIL", 4, "c", code="C", location="WH")
        lots.hold(conn, "C", "suspect", "qa")
        by_loc = lots.inventory(conn)
        by_item = lots.inventory(conn, by="item")
    assert by_loc == [{"location": "WH", "item": "COIL", "unit": "kg", "lots": 3, "on_hand": "12.5", "on_hold": "4"}]
    assert by_item == [{"item": "COIL", "unit": "kg", "lots": 3, "on_hand": "12.5", "on_hold": "4"}]


def test_backward_trace_reaches_every_supplier_lot_through_six_levels(store):
    engine, plant = store
    with engine.begin() as conn:
        five_levels(conn, plant)
        t = trace.trace(conn, "FG-1-1", trace.BACKWARD)
    found = {n["code"]: n for n in t.lots()}
    assert set(found) == {
        "FG-1-1", "FG-1", "DRUM-1", "SHELL-1", "WIRE-1", "COIL-M", "COIL-A-1", "COIL-B", "COIL-A"
    }  # fmt: skip
    assert found["COIL-A"]["depth"] == 6 and found["COIL-A"]["supplier_lot"] == "P-1"
    assert found["COIL-A"]["supplier_name"] == "포스코" and found["WIRE-1"]["depth"] == 3
    edges = {(e["from"], e["to"]): e for e in t.edges}
    assert edges[("SHELL-1", "DRUM-1")]["work_order"] == "WO-2" and edges[("SHELL-1", "DRUM-1")]["qty"] == "50"
    assert edges[("COIL-A-1", "COIL-M")]["kind"] == "merge" and edges[("COIL-A", "COIL-A-1")]["kind"] == "split"
    orders = {o["code"]: o for o in t.orders}
    assert set(orders) == {"WO-1", "WO-2", "WO-3"} and "op-2" in orders["WO-2"]["people"]
    assert orders["WO-1"]["machine"] == "WLD-01" and orders["WO-1"]["started"] and orders["WO-1"]["ended"]


def test_forward_trace_finds_every_lot_and_shipment_made_from_a_raw_lot(store):
    engine, plant = store
    with engine.begin() as conn:
        five_levels(conn, plant)
        t = trace.trace(conn, "COIL-B", trace.FORWARD)
        unrelated = trace.trace(conn, "COIL-X", trace.FORWARD)
    assert {n["code"] for n in t.lots()} == {"COIL-B", "COIL-M", "SHELL-1", "DRUM-1", "FG-1", "FG-1-1", "FG-1-2"}
    (shipment,) = t.shipments()
    assert shipment["customer"] == "LGE" and shipment["shipment"] == "DN-77" and shipment["qty"] == "20"
    assert ("FG-1-1", shipment["id"]) in {(e["from"], e["to"]) for e in t.edges}
    assert [n["code"] for n in unrelated.lots()] == ["COIL-X"] and unrelated.edges == []


def test_produce_links_every_input_issued_to_the_order(store):
    engine, plant = store
    with engine.begin() as conn:
        lots.receive(conn, "COIL", 10, "c", code="A")
        lots.receive(conn, "COIL", 10, "c", code="B")
        start_order(conn, plant, "WO-1", "SHELL")
        lots.issue(conn, "A", 4, "WO-1", "op")
        lots.issue(conn, "A", 2, "WO-1", "op")
        lots.issue(conn, "B", 10, "WO-1", "op")
        out = lots.produce(conn, "WO-1", 6, "op")
        with pytest.raises(DomainError, match="WO-2 is released"):
            start_order(conn, plant, "WO-2", "SHELL", start=False)
            lots.produce(conn, "WO-2", 1, "op")
        links = conn.execute(select(lot_links.c.parent_id, lot_links.c.qty_milli, lot_links.c.machine)).all()
    assert out.code.startswith("W") and out.work_order == "WO-1" and out.machine == "WLD-01"
    assert sorted(q for _, q, _ in links) == [6_000, 10_000] and {m for *_, m in links} == {"WLD-01"}
