"""Master data in the store (SQLite and PostgreSQL): replace in one go, reason codes as a plant version, lots
protect the codes they use."""

from __future__ import annotations

import dataclasses
from datetime import datetime, timezone

import pytest
from sqlalchemy import func, insert, select

from shopfloor.actions.demo import sample_plant
from shopfloor.errors import MasterCodesInUse, MasterDataRefused, MasterNeedsPlant
from shopfloor.model.master import BomLine, Item, Location, MasterData, Operation, Partner
from shopfloor.store import audit
from shopfloor.store.master import customer, item, load_master, location, save_master, supplier
from shopfloor.store.plant import current_plant, save_plant
from shopfloor.store.schema import lots, plant_imports

DATA = MasterData(
    items=(
        Item("DRUM-A", "건조기 드럼 A", "finished", "ea", "세탁기용 드럼"),
        Item("SHEET", "Thép không gỉ tấm 0,6 mm", "raw", "kg"),
        Item("SHELL", "Vỏ trống", "wip", "ea"),
    ),
    bom_lines=(BomLine("DRUM-A", "SHELL", 1.0), BomLine("SHELL", "SHEET", 2.5, 4.0)),
    operations=(
        Operation("DRUM-A", 10, "WELD", "Hàn laser", "WLD-01", 42.0, 300.0),
        Operation("SHELL", 10, "ROLL", "압연", "WELD", 12.5),
    ),
    suppliers=(Partner("POSCO", "(주)포스코", "KR", "구매팀"), Partner("VNSTEEL", "Tổng công ty Thép Việt Nam", "VN")),
    customers=(Partner("LGE", "LG전자", "KR", "+82 2 3777 1114"),),
    locations=(Location("QA-HOLD", "Khu cách ly", "quarantine"), Location("RM-01", "원자재 창고", "store")),
)


def add_lot(conn, code: str, item_code: str, location_code: str | None = None, supplier_code: str | None = None):
    conn.execute(
        insert(lots).values(
            code=code,
            item=item_code,
            qty_milli=1000,
            status="available",
            location=location_code,
            supplier=supplier_code,
            created_at=datetime(2026, 3, 2, tzinfo=timezone.utc),
        )
    )


def test_master_data_round_trips_through_the_store(engine):
    with engine.begin() as conn:
        summary = save_master(conn, DATA, "test")
    assert summary == {
        "items": 3,
        "bom_lines": 2,
        "operations": 2,
        "suppliers": 2,
        "customers": 1,
        "locations": 2,
        "downtime_reasons": 0,
        "defect_codes": 0,
        "plant_updated": False,
    }
    with engine.connect() as conn:
        assert load_master(conn) == DATA.sorted()
        assert load_master(conn).items[0].name == "건조기 드럼 A"
        assert audit.entries(conn) == []  # the store writes; the action (actions.master_data) audits


def test_lookups_by_code(engine):
    with engine.begin() as conn:
        save_master(conn, DATA, "test")
    with engine.connect() as conn:
        assert item(conn, "SHEET") == DATA.items[1]
        assert location(conn, "RM-01") == DATA.locations[1]
        assert supplier(conn, "VNSTEEL") == DATA.suppliers[1]
        assert customer(conn, "LGE") == DATA.customers[0]
        assert item(conn, "NOPE") is None and location(conn, "NOPE") is None
        assert supplier(conn, "LGE") is None and customer(conn, "POSCO") is None


def test_saving_again_replaces_everything(engine):
    with engine.begin() as conn:
        save_master(conn, DATA, "test")
    smaller = MasterData(
        items=(dataclasses.replace(DATA.items[0], name="Drum A (new)"), Item("NEW", "Mới", "consumable", "l")),
        bom_lines=(BomLine("DRUM-A", "NEW", 0.25),),
        locations=(Location("RM-01", "Raw store", "store"),),
    )
    with engine.begin() as conn:
        save_master(conn, smaller, "test")
    with engine.connect() as conn:
        assert load_master(conn) == smaller.sorted()


def test_empty_store_without_plant_has_no_reason_codes(engine):
    with engine.connect() as conn:
        assert load_master(conn) == MasterData()


def test_reason_and_defect_codes_are_saved_as_a_new_plant_version(engine):
    with engine.begin() as conn:
        save_plant(conn, sample_plant(), "test")
    with engine.connect() as conn:
        before = load_master(conn)
    assert before.downtime_reasons == sample_plant().downtime_reasons
    changed = dataclasses.replace(DATA, downtime_reasons=("LASER_FAULT", "NO_ORDER"), defect_codes=("POROSITY", "BURR"))
    with engine.begin() as conn:
        assert save_master(conn, changed, "quality")["plant_updated"] is True
    with engine.connect() as conn:
        plant = current_plant(conn)
        assert plant.downtime_reasons == ("LASER_FAULT", "NO_ORDER")
        assert plant.defect_codes == ("POROSITY", "BURR")
        assert [m.code for m in plant.machines] == [m.code for m in sample_plant().machines]
        assert load_master(conn) == changed.sorted()
        versions = conn.execute(select(func.count()).select_from(plant_imports)).scalar()
    assert versions == 2
    with engine.begin() as conn:
        assert save_master(conn, changed, "quality")["plant_updated"] is False
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(plant_imports)).scalar() == 2


def test_reason_codes_without_a_plant_are_refused(engine):
    with engine.begin() as conn:
        with pytest.raises(MasterNeedsPlant):
            save_master(conn, dataclasses.replace(DATA, defect_codes=("BURR",)), "test")
    with engine.connect() as conn:
        assert load_master(conn) == MasterData()


def test_work_centres_must_be_machines_or_lines_of_the_plant(engine):
    with engine.begin() as conn:
        save_plant(conn, sample_plant(), "test")
    data = dataclasses.replace(DATA, downtime_reasons=sample_plant().downtime_reasons)
    data = dataclasses.replace(data, defect_codes=sample_plant().defect_codes)
    bad = dataclasses.replace(data, operations=(dataclasses.replace(DATA.operations[0], work_centre="PRESS-9"),))
    with engine.begin() as conn:
        with pytest.raises(MasterDataRefused, match="routings: row 2, column work_centre: 'PRESS-9' is not a machine"):
            save_master(conn, bad, "test")
        save_master(conn, data, "test")
    with engine.connect() as conn:
        assert load_master(conn) == data.sorted()


def test_invalid_data_is_refused_and_nothing_is_saved(engine):
    with engine.begin() as conn:
        save_master(conn, DATA, "test")
    bad = dataclasses.replace(DATA, bom_lines=DATA.bom_lines + (BomLine("SHEET", "DRUM-A", 1.0),))
    with engine.begin() as conn:
        with pytest.raises(MasterDataRefused, match="BOM cycle: DRUM-A -> SHELL -> SHEET -> DRUM-A"):
            save_master(conn, bad, "test")
    with engine.connect() as conn:
        assert load_master(conn) == DATA.sorted()


def test_codes_that_lots_use_are_never_deleted(engine):
    with engine.begin() as conn:
        save_master(conn, DATA, "test")
        add_lot(conn, "LOT-1", "SHEET", "RM-01", "POSCO")
        add_lot(conn, "LOT-2", "SHELL", "QA-HOLD")
    without = MasterData(items=(DATA.items[0],), locations=(DATA.locations[0],))
    with engine.begin() as conn:
        with pytest.raises(MasterCodesInUse) as caught:
            save_master(conn, without, "test")
    assert caught.value == MasterCodesInUse(codes="items SHEET, SHELL; locations RM-01; suppliers POSCO")
    with engine.connect() as conn:
        assert load_master(conn) == DATA.sorted()


def test_an_item_a_lot_uses_may_change_its_name_and_lose_its_bill(engine):
    with engine.begin() as conn:
        save_master(conn, DATA, "test")
        add_lot(conn, "LOT-1", "SHEET", "RM-01", "POSCO")
    renamed = dataclasses.replace(
        DATA,
        items=tuple(dataclasses.replace(i, name="Inox 0.6") if i.code == "SHEET" else i for i in DATA.items),
        bom_lines=(),
    )
    with engine.begin() as conn:
        save_master(conn, renamed, "test")
    with engine.connect() as conn:
        assert item(conn, "SHEET").name == "Inox 0.6"
        assert load_master(conn).bom_lines == ()
