"""The ``program`` role of a tag mapping: the NC program a control reports (an MTConnect PROGRAM, an OPC UA node, a
Sparkplug string metric, whatever the connector names it) becomes one report per change; a bad or empty reading
is none, and a mapping without a signal name is refused."""

from datetime import datetime, timedelta, timezone

import pytest

from shopfloor.connectors.base import Quality, Signal
from shopfloor.ingest.mapping import SignalMapper
from shopfloor.model.plant import Plant
from shopfloor.model.tags import MappingError, parse_tags

T0 = datetime(2026, 12, 3, 8, tzinfo=timezone.utc)
PLANT = {
    "site": {"code": "S", "name": "S", "timezone": "UTC"},
    "areas": [{"code": "A", "lines": [{"code": "L", "machines": [
        {"code": "M1", "tags": {"state": {"signal": "State", "map": {1: "running", 0: "idle"}},
                                "program": {"signal": "Program"}}}]}]}],
    "products": [{"code": "P", "ideal_cycle_s": 10}],
}  # fmt: skip


def sig(value, seconds, quality=Quality.GOOD):
    return Signal("sparkplug", "M1", "Program", value, T0 + timedelta(seconds=seconds), quality, f"p:{seconds}")


def test_each_change_of_the_running_program_is_reported_once():
    mapper = SignalMapper(Plant.from_dict(PLANT))
    out = mapper.map([sig("O1001", 0), sig("O1001", 1), sig(None, 2, Quality.BAD), sig(" ", 3), sig("O2002", 4)])
    assert out.programs == [(T0, "M1", "O1001"), (T0 + timedelta(seconds=4), "M1", "O2002")]
    assert out.events == []


def test_a_program_role_needs_a_signal():
    with pytest.raises(MappingError):
        parse_tags("M1", {"program": "Program"}, set())
