"""Inspection characteristics, samples and charts, and nonconformance reports with their dispositions, on both
stores."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import numpy as np
import pytest

from shopfloor.analytics import spc
from shopfloor.model.lots import LotStatus
from shopfloor.store import inspections as insp
from shopfloor.store import lots
from shopfloor.store import ncr as ncr_store
from tests.lots_data import add_master_data

T0 = datetime(2026, 3, 2, 0, 0, tzinfo=timezone.utc)


@pytest.fixture
def store(engine):
    with engine.begin() as conn:
        plant = add_master_data(conn)
    return engine, plant


def _bead(conn, plant, **kw):
    spec = {
        "product": "DRUM-A",
        "code": "BEAD-W",
        "name": "Weld bead width",
        "kind": "variable",
        "chart": "xbar-r",
        "unit": "mm",
        "nominal": 2.0,
        "lsl": 1.7,
        "usl": 2.3,
        "sample_size": 5,
        "every_parts": 50,
        "phase1": 20,
    } | kw
    return insp.save_characteristic(conn, plant, spec)


@pytest.mark.parametrize(
    "change, reason",
    [
        ({"chart": "p"}, "a variable is charted with"),
        ({"sample_size": 1}, "needs subgroups of 2 to 25"),
        ({"chart": "imr"}, "sample_size must be 1"),
        ({"lsl": 2.5}, "lsl 2.5 must be below usl 2.3"),
        ({"nominal": 3.0}, "nominal 3 lies outside"),
        ({"product": "NOPE"}, "unknown product 'NOPE'"),
        ({"machine": "WLD-01"}, "names both machine and process_value"),
        ({"operation_seq": 10}, "DRUM-A has no operation 10"),
        ({"rules": "westgard"}, "the set is nelson, we or limits"),
        ({"phase1": 1}, "phase1 needs at least 2"),
        ({"usl": float("nan")}, "usl must be a finite number"),
    ],
)
def test_a_characteristic_that_cannot_work_is_refused_with_the_reason(store, change, reason):
    engine, plant = store
    with engine.begin() as conn, pytest.raises(insp.InspectionError, match=reason):
        _bead(conn, plant, **change)


def test_xbar_r_limits_are_frozen_after_phase_one_and_a_shift_is_flagged(store):
    engine, plant = store
    rng = np.random.default_rng(5)
    with engine.begin() as conn:
        char = _bead(conn, plant)
        groups = rng.normal(2.0, 0.05, size=(30, 5)).round(4)
        groups[27] += 0.2  # a shifted subgroup in phase II
        for i, g in enumerate(groups[:25]):
            insp.record(conn, char, "qa", measurements_=list(g), ts=T0 + timedelta(hours=i))
        phase1 = spc.xbar_r(groups[:20].tolist())[0]
        doc = insp.chart(conn, char)
        assert doc["limits"] == "frozen"
        assert doc["charts"][0]["centre"] == pytest.approx(float(phase1.centre[0]))
        assert doc["charts"][0]["ucl"] == pytest.approx(float(phase1.ucl[0]))
        for i, g in enumerate(groups[25:], start=25):
            answer = insp.record(conn, char, "qa", measurements_=list(g), ts=T0 + timedelta(hours=i))
            if i == 27:
                assert any(v["rule"] == "nelson1" for v in answer["violations"])
        doc = insp.chart(conn, char)
    assert doc["charts"][0]["ucl"] == pytest.approx(float(phase1.ucl[0]))  # still the phase I limits
    assert 27 in {v["index"] for v in doc["charts"][0]["violations"]}
    assert doc["capability"]["cpk"] is not None and len(doc["ts"]) == 30


def test_samples_are_checked_and_a_repeated_key_is_one_sample(store):
    engine, plant = store
    with engine.begin() as conn:
        char = _bead(conn, plant)
        for kwargs, reason in [
            ({"measurements_": [2.0, 2.1]}, "takes 5 value"),
            ({"measurements_": [2.0, 2.1, "x", 2.0, 2.0]}, "value 3 'x' is not a number"),
            ({"measurements_": [2.0] * 5, "lot": "NOPE"}, "no lot 'NOPE'"),
            ({"measurements_": [2.0] * 5, "source": "fax"}, "source must be one of"),
        ]:
            with pytest.raises(insp.InspectionError, match=reason):
                insp.record(conn, char, "qa", **kwargs)
        insp.record(conn, char, "qa", measurements_=["2,01", 2.0, 1.99, 2.02, 2.0], key="tap-1")
        insp.record(conn, char, "qa", measurements_=["2,01", 2.0, 1.99, 2.02, 2.0], key="tap-1")
        assert insp.sample_count(conn, char) == 1
        assert insp.samples(conn, char)[0]["measurements"][0] == 2.01


def test_p_chart_from_attribute_samples_with_varying_sizes(store):
    engine, plant = store
    with engine.begin() as conn:
        char = insp.save_characteristic(
            conn,
            plant,
            {"product": "DRUM-A", "code": "VISUAL", "name": "Visual check", "kind": "attribute", "chart": "p",
             "sample_size": 50},
        )  # fmt: skip
        counts, sizes = [3, 2, 4, 1, 2, 3, 15], [50, 40, 60, 50, 45, 50, 50]
        for i, (c, n) in enumerate(zip(counts, sizes)):
            insp.record(conn, char, "qa", inspected=n, nonconforming=c, ts=T0 + timedelta(hours=i))
        with pytest.raises(insp.InspectionError, match="60 nonconforming of 50 inspected"):
            insp.record(conn, char, "qa", inspected=50, nonconforming=60)
        doc = insp.chart(conn, char)
    expected = spc.p_chart(counts, sizes)
    assert doc["charts"][0]["ucl"] == pytest.approx([float(x) for x in expected.ucl])
    assert doc["limits"] == "all" and 6 in {v["index"] for v in doc["charts"][0]["violations"]}


def test_a_characteristic_from_process_values_charts_the_stored_measurements(store):
    from sqlalchemy import insert, select

    from shopfloor.store.schema import machines, measurements

    engine, plant = store
    with engine.begin() as conn:
        char = insp.save_characteristic(
            conn,
            plant,
            {"product": "DRUM-A", "code": "LASER-P", "name": "Laser power", "kind": "variable", "chart": "imr",
             "sample_size": 1, "machine": "WLD-01", "process_value": "laser_power", "lsl": 1900, "usl": 2100},
        )  # fmt: skip
        mid = conn.execute(select(machines.c.id).where(machines.c.code == "WLD-01")).scalar_one()
        values = [2000 + (i % 7) - 3 for i in range(40)]
        conn.execute(
            insert(measurements),
            [
                {
                    "machine_id": mid,
                    "name": "laser_power",
                    "ts": T0 + timedelta(seconds=i),
                    "value": v,
                    "quality": "good",
                }
                for i, v in enumerate(values)
            ],
        )
        with pytest.raises(insp.InspectionError, match="nothing to record by hand"):
            insp.record(conn, char, "qa", measurements_=[2000])
        doc = insp.chart(conn, char, limit=30)
    assert doc["charts"][0]["values"] == values[-30:] and doc["capability"]["pp"] is not None


def test_an_ncr_holds_its_lot_and_the_disposition_acts_on_it(store):
    engine, plant = store
    with engine.begin() as conn:
        lots.receive(conn, "COIL", 100, "clerk", code="C1", supplier="POSCO")
        lots.receive(conn, "COIL", 100, "clerk", code="C2", supplier="POSCO")
        lots.receive(conn, "COIL", 100, "clerk", code="C3")
        with pytest.raises(ncr_store.NcrError, match="name the lot, work order or machine"):
            ncr_store.open_ncr(conn, "scratches", "qa")
        with pytest.raises(ncr_store.NcrError, match="has 100 kg: 150 cannot be nonconforming"):
            ncr_store.open_ncr(conn, "scratches", "qa", lot="C1", qty=150)
        a = ncr_store.open_ncr(conn, "edge cracks on 30 kg", "qa", lot="C1", qty=30, defect="CRACK", key="k1")
        assert ncr_store.open_ncr(conn, "edge cracks on 30 kg", "qa", lot="C1", qty=30, key="k1") == a
        assert lots.get(conn, "C1").status is LotStatus.HOLD
        closed = ncr_store.dispose(conn, a["code"], "scrap", "cracked coil ends cut off", "qa-lead")
        assert closed["status"] == "closed" and lots.get(conn, "C1").qty == "70"
        assert lots.get(conn, "C1").status is LotStatus.ACTIVE
        with pytest.raises(ncr_store.NcrError, match="closed already"):
            ncr_store.dispose(conn, a["code"], "use_as_is", "x", "qa")
        b = ncr_store.open_ncr(conn, "wrong grade", "qa", lot="C2")
        ncr_store.dispose(conn, b["code"], "return_to_supplier", "supplier agreed, RMA 55", "qa-lead")
        assert lots.get(conn, "C2").status is LotStatus.RETURNED
        assert lots.movements(conn, "C2")[-1]["ref"] == "POSCO"
        lots.hold(conn, "C3", "customer audit", "qa")  # held for another reason before the NCR
        c = ncr_store.open_ncr(conn, "oil stains", "qa", lot="C3")
        with pytest.raises(ncr_store.NcrError, match="disposition must be one of"):
            ncr_store.dispose(conn, c["code"], "ignore", "x", "qa")
        ncr_store.dispose(conn, c["code"], "use_as_is", "stains wiped, accepted by QA lead", "qa-lead")
        assert lots.get(conn, "C3").status is LotStatus.HOLD  # the audit hold stays
        assert [n["code"] for n in ncr_store.listing(conn, status="open")] == []


def test_the_trace_carries_the_inspections_and_ncrs_on_its_path(store):
    from shopfloor.store import trace
    from tests.lots_data import five_levels

    engine, plant = store
    with engine.begin() as conn:
        five_levels(conn, plant)
        char = _bead(conn, plant, sample_size=2, phase1=None)
        insp.record(conn, char, "qa", measurements_=[2.0, 2.4], work_order="WO-3")  # 2.4 is above the USL
        insp.record(conn, char, "qa", measurements_=[2.0, 2.1], lot="FG-1-2")
        ncr = ncr_store.open_ncr(conn, "porosity", "qa", lot="SHELL-1")
        t = trace.trace(conn, "COIL-B", trace.FORWARD)
    assert [(s["work_order"], s["lot"], s["in_spec"]) for s in t.inspections] == [
        ("WO-3", None, False),
        (None, "FG-1-2", True),
    ]
    assert [n["code"] for n in t.ncrs] == [ncr["code"]]
