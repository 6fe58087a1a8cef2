"""An operation that needs a skill cannot be started at the terminal by someone without a valid certification,
on SQLite and PostgreSQL; the refusal is typed and translated."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import insert

from shopfloor.actions import skills, terminal
from shopfloor.actions import work_orders as wo
from shopfloor.errors import SkillExpired, SkillMissing, SkillOperationUnknown
from shopfloor.i18n import error_message
from shopfloor.store import accounts
from shopfloor.store.schema import operations
from tests.lots_data import add_master_data

A = "user:supervisor"


@pytest.fixture
def plant_store(engine):
    with engine.begin() as conn:
        add_master_data(conn)
        conn.execute(insert(operations), [
            {"item": "DRUM-A", "seq": 10, "code": "WELD", "name": "Weld", "work_centre": "WLD-01", "ideal_cycle_s": 40,
             "setup_s": 600},
            {"item": "DRUM-A", "seq": 20, "code": "TURN", "name": "Turn", "work_centre": "CNC-01", "ideal_cycle_s": 60,
             "setup_s": 600},
        ])  # fmt: skip
        accounts.create_user(conn, "kim", "operator", pin="1234")
        accounts.create_user(conn, "nguyen", "operator", pin="4321")
    return engine


def _start(engine, who: str, order: str, machine: str = "WLD-01"):
    entry = terminal.PopEntry(uuid.uuid4().hex, datetime.now(timezone.utc), machine, "start", work_order=order)
    return terminal.record_terminal_entry(engine, who, entry)


def test_only_a_certified_operator_starts_an_operation_that_needs_a_skill(plant_store):
    skills.create_skill(plant_store, A, code="WELD-2G", name="Welding 2G")
    skills.require_skill(plant_store, A, item="DRUM-A", seq=10, skill="WELD-2G")
    with pytest.raises(SkillOperationUnknown):
        skills.require_skill(plant_store, A, item="DRUM-A", seq=99, skill="WELD-2G")
    wo.create_work_order(plant_store, A, code="WO-S", product="DRUM-A", quantity=5, machine="WLD-01")
    with pytest.raises(SkillMissing) as missing:
        _start(plant_store, "kim", "WO-S")
    assert missing.value == SkillMissing(operator="kim", skill="WELD-2G", operation="DRUM-A/10")
    assert error_message(missing.value, "vi") == "kim chưa có chứng nhận WELD-2G mà công đoạn DRUM-A/10 yêu cầu"
    yesterday = datetime.now(timezone.utc) - timedelta(days=1)
    skills.certify_operator(plant_store, A, "kim", skill="WELD-2G", expires_at=yesterday)
    with pytest.raises(SkillExpired) as expired:
        _start(plant_store, "kim", "WO-S")
    assert expired.value.params["expired"] == yesterday.date().isoformat()
    skills.certify_operator(plant_store, A, "kim", skill="WELD-2G", expires_at=yesterday + timedelta(days=365))
    assert _start(plant_store, "kim", "WO-S")["stored"] is True
    # The skill is needed for the welding operation only: turning at CNC-01 needs none.
    wo.create_work_order(plant_store, A, code="WO-T", product="DRUM-A", quantity=5, machine="CNC-01")
    assert _start(plant_store, "nguyen", "WO-T", "CNC-01")["stored"] is True
