"""Every decoder of outside input fuzzed with hypothesis: a plant file (YAML), machine events (CSV), master data
(Excel and CSV), inspection samples (CSV) and Sparkplug payloads.  Whatever arrives, the answer is the decoder's
own refusal with a message, or a result; never another exception."""

from __future__ import annotations

import io
from datetime import datetime, timezone

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shopfloor.actions.demo import sample_plant
from shopfloor.actions.inspection_import import import_samples
from shopfloor.actions.master_data import import_csv, import_xlsx
from shopfloor.actions.plant import read_plant_file
from shopfloor.connectors.sparkplug.host import SparkplugHost
from shopfloor.errors import DomainError, MasterDataRefused, Problems
from shopfloor.ingest.csv_events import CsvImportError, parse_events_csv

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck), database=None)
PLANT = sample_plant()
json_like = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=5),
    max_leaves=30,
)


@FUZZ
@given(st.one_of(st.binary(max_size=400), st.text(max_size=400).map(str.encode),
                 json_like.map(lambda d: yaml.safe_dump(d, allow_unicode=True).encode())))  # fmt: skip
def test_plant_files(tmp_path_factory, data):
    path = tmp_path_factory.mktemp("plant") / "plant.yaml"
    path.write_bytes(data)
    try:
        read_plant_file(path)
    except DomainError as exc:  # the file's problems, each named (or the file is not text or YAML)
        assert str(exc) and (not isinstance(exc, Problems) or exc.problems)


CSV_CELL = st.sampled_from(
    ["", "\r0", "a\rb", "WLD-01", "state", "good", "running", "12", "-3", "2026-03-02T06:00:00+09:00"]
    + ["x,y", '"', "ünïcödé", "1e400", "NaN"]
)


def _csv(header: list[str], max_cols: int):
    rows = st.lists(st.lists(CSV_CELL, max_size=max_cols), max_size=6)
    return rows.map(lambda rs: "\n".join(",".join(r) for r in [header, *rs]).encode())


@FUZZ
@given(st.one_of(st.binary(max_size=300), _csv(["ts", "machine", "event", "value", "product", "reason"], 7)))
def test_machine_event_csv(data):
    try:
        parse_events_csv(data, PLANT, "fuzz", now=datetime(2026, 3, 3, tzinfo=timezone.utc))
    except CsvImportError as exc:
        assert str(exc)


@FUZZ
@given(
    st.dictionaries(
        st.sampled_from(["items.csv", "bom.csv", "routings.csv", "suppliers.csv", "x.csv"]),
        st.one_of(st.binary(max_size=200), _csv(["code", "name", "kind", "unit"], 5)),
        max_size=3,
    )
)
def test_master_data_csv(files):
    try:
        import_csv(files)
    except MasterDataRefused as exc:
        assert exc.problems and str(exc)


@FUZZ
@given(st.binary(max_size=600))
def test_master_data_workbook_bytes(data):
    with pytest.raises(MasterDataRefused):
        import_xlsx(data)


def test_master_data_workbook_with_odd_cells():
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.title = "items"
    ws.append(["code", "name", "kind", "unit", "description"])
    ws.append([None, 3.5, "=1+1", datetime(2026, 1, 1), "x" * 40_000])
    ws.append(["A", "A", "raw", "kg", None])
    out = io.BytesIO()
    wb.save(out)
    with pytest.raises(MasterDataRefused) as info:
        import_xlsx(out.getvalue())
    assert all(p.sheet for p in info.value.problems)


@FUZZ
@given(st.one_of(st.binary(max_size=300), _csv(["product", "characteristic", "ts", "values"], 5)))
def test_inspection_sample_csv(tmp_path_factory, data):
    from shopfloor.store.db import open_store

    engine = _samples_store(tmp_path_factory)
    with engine.connect() as conn:
        try:
            import_samples(conn, data, "fuzz")
        except DomainError as exc:
            assert str(exc) and (not isinstance(exc, Problems) or exc.problems)
        finally:
            conn.rollback()
    assert open_store  # the store fixture is shared


_STORE = {}


def _samples_store(factory):
    if "engine" not in _STORE:
        from shopfloor.store.db import open_store
        from shopfloor.store.plant import save_plant

        engine = open_store(str(factory.mktemp("samples") / "s.db"))
        with engine.begin() as conn:
            save_plant(conn, PLANT, "fuzz")
        _STORE["engine"] = engine
    return _STORE["engine"]


@FUZZ
@given(st.sampled_from(["spBv1.0/G/NBIRTH/E", "spBv1.0/G/DDATA/E/D", "spBv1.0/G/NDEATH/E", "spBv1.0/G/DBIRTH/E/D",
                        "spBv1.0/G/BOGUS/E", "spBv1.0//DDATA/E/D", "spBv1.0/G/NDATA/E"]),
       st.lists(st.binary(max_size=120), min_size=1, max_size=5))  # fmt: skip
def test_sparkplug_payloads_never_raise(topic, payloads):
    host = SparkplugHost("fuzz", {"D": "WLD-01"})
    for data in payloads:
        result = host.receive(topic, data, now=datetime(2026, 3, 2, tzinfo=timezone.utc))
        for q in result.quarantined:
            assert q.reason
