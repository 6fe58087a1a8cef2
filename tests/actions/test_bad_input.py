"""Bad input of any kind is refused with a clear, translated message and the store unchanged, on both stores."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select

from shopfloor.actions import events as event_actions
from shopfloor.actions import quality as quality_actions
from shopfloor.actions.plant import parse_plant_document
from shopfloor.errors import (
    CsvLooksLikeCp949,
    DomainError,
    EventsFileRefused,
    EventsRefused,
    EventTimeImplausible,
    TextHasNul,
)
from shopfloor.i18n import error_message
from shopfloor.model.inputs import decimal_number, looks_like_cp949, whole_number
from shopfloor.store import audit
from shopfloor.store.schema import machine_events
from tests.conftest import REPO
from tests.lots_data import add_master_data


@pytest.fixture
def plant_store(engine):
    with engine.begin() as conn:
        add_master_data(conn)
    return engine


def _state(engine) -> tuple[int, int]:
    with engine.connect() as conn:
        return len(audit.entries(conn, 10_000)), conn.execute(select(func.count()).select_from(machine_events)).scalar()


def test_a_nul_character_in_text_is_refused_on_both_stores(plant_store):
    before = _state(plant_store)
    ts = datetime(2026, 3, 2, 6, tzinfo=timezone.utc)
    with pytest.raises(TextHasNul):
        row = {"ts": ts, "machine": "WLD-01", "event": "state", "state": "down", "reason": "LASER\x00FAULT"}
        event_actions.record_events(plant_store, "user:t", [row], "api:t")
    with pytest.raises(TextHasNul):
        quality_actions.open_ncr(plant_store, "user:q", description="burr\x00 on edge", machine="WLD-01")
    assert _state(plant_store) == before
    assert "NUL" in error_message(TextHasNul(), "ko") and "NUL" in error_message(TextHasNul(), "vi")


# -- numbers and times as files and requests write them ----------------------------------------------------
@pytest.mark.parametrize("text", ["١٢٣", "1_000", "12345678901234567890", " ", "1.0", "+", "٣"])
def test_only_ascii_whole_numbers_of_up_to_15_digits_are_counts(text):
    assert whole_number(text) is None


def test_decimals_are_ascii_and_finite():
    assert [decimal_number(t) for t in ("1.5", "-2", "3e-4", " 7 ")] == [1.5, -2.0, 3e-4, 7.0]
    assert [decimal_number(t) for t in ("inf", "nan", "1_000", "74,01", "١٢٣", "1e999")] == [None] * 6


def test_times_outside_1970_to_2999_are_refused_as_events_and_the_store_is_unchanged(plant_store):
    before = _state(plant_store)
    far = [datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=9))),
           datetime(9999, 12, 31, 23, tzinfo=timezone(timedelta(hours=-5)))]  # fmt: skip
    rows = [{"ts": ts, "machine": "WLD-01", "event": "good", "quantity": 1} for ts in far]
    with pytest.raises(EventsRefused) as refused:
        event_actions.record_events(plant_store, "user:t", rows, "api:t")
    assert [type(p) for p in refused.value.problems] == [EventTimeImplausible, EventTimeImplausible]
    assert _state(plant_store) == before


def test_an_events_file_refuses_foreign_digits_underscores_huge_counts_and_impossible_years(plant_store, tmp_path):
    path = tmp_path / "events.csv"
    path.write_text(
        "ts,machine,event,value,product,reason\n"
        "2026-03-02T09:00:00+09:00,WLD-01,good,١٢٣,,\n"
        "2026-03-02T09:01:00+09:00,WLD-01,good,1_000,,\n"
        "2026-03-02T09:02:00+09:00,WLD-01,good,12345678901234567890,,\n"
        "0001-01-01T00:00:00+09:00,WLD-01,good,1,,\n"
        "9999-12-31T23:00:00-05:00,WLD-01,good,1,,\n",
        encoding="utf-8",
    )
    before = _state(plant_store)
    with pytest.raises(EventsFileRefused) as refused:
        event_actions.import_events(plant_store, "user:t", path)
    problems = [p.params["problem"] for p in refused.value.problems]
    assert [p.split(":")[0] for p in problems] == ["line 2", "line 3", "line 4", "line 5", "line 6"]
    assert all("not a whole number" in p for p in problems[:3])
    assert all("not a plausible time" in p for p in problems[3:])
    assert _state(plant_store) == before


@pytest.mark.parametrize("cycle", [".inf", "-.inf", ".nan", "1e400", "0"])
def test_an_ideal_cycle_that_is_not_a_finite_positive_number_is_refused(cycle):
    text = (REPO / "src/shopfloor/data/sample_plant.yaml").read_text(encoding="utf-8")
    text = text.replace("ideal_cycle_s: 40", f"ideal_cycle_s: {cycle}", 1)
    with pytest.raises(DomainError) as refused:
        parse_plant_document(text, "plant.yaml")
    assert "ideal_cycle_s" in str(refused.value) and "up to a week" in str(refused.value)


def test_a_cp949_file_is_refused_with_how_to_save_it_as_utf8(plant_store, tmp_path):
    path = tmp_path / "events.csv"
    path.write_bytes("ts,machine,event,value,product,reason\n2026-03-02T09:00:00+09:00,WLD-01,state,down,,레이저\n"
                     .encode("cp949"))  # fmt: skip
    before = _state(plant_store)
    with pytest.raises(EventsFileRefused) as refused:
        event_actions.import_events(plant_store, "user:t", path)
    assert [p.params["problem"] for p in refused.value.problems] == [CsvLooksLikeCp949().message]
    with pytest.raises(CsvLooksLikeCp949):
        quality_actions.import_sample_file(plant_store, "user:q", "product,characteristic,ts,values\n품목,지름,x,1\n"
                                           .encode("cp949"), "samples.csv")  # fmt: skip
    assert _state(plant_store) == before
    assert "CSV UTF-8" in error_message(CsvLooksLikeCp949(), "ko") and "CP949" in error_message(
        CsvLooksLikeCp949(), "vi"
    )
    assert not looks_like_cp949("plain ascii é".encode("latin-1"))
