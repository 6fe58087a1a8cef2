"""Bad input of any kind is refused with a clear, translated message and the store unchanged, on both stores."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
from sqlalchemy import func, select

from shopfloor.actions import events as event_actions
from shopfloor.actions import quality as quality_actions
from shopfloor.errors import TextHasNul
from shopfloor.i18n import error_message
from shopfloor.store import audit
from shopfloor.store.schema import machine_events
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
