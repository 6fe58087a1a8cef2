"""Tag mapping rules in the plant file: states from value maps, ranges and bit masks; every problem named."""

import pytest

from shopfloor.model.events import MachineState
from shopfloor.model.plant import Plant, PlantError
from shopfloor.model.tags import MappingError, parse_tags

PRODUCTS = {"TM-CASE"}


def test_state_from_exact_values_ranges_and_bits():
    tags = parse_tags(
        "M",
        {
            "state": {
                "signal": "S",
                "map": {0: "idle", "ACTIVE": "running"},
                "ranges": [{"min": 10, "max": 19, "state": "setup"}],
                "bits": [{"mask": 0x80, "state": "down"}],
                "default": "idle",
            },
        },
        PRODUCTS,
    )
    rule = tags.state
    assert rule.state_of(0) is MachineState.IDLE
    assert rule.state_of(0.0) is MachineState.IDLE
    assert rule.state_of("ACTIVE") is MachineState.RUNNING
    assert rule.state_of(12) is MachineState.SETUP
    assert rule.state_of(0x81) is MachineState.DOWN
    assert rule.state_of(5) is MachineState.IDLE  # default


def test_counters_alarm_product_and_process_rules():
    tags = parse_tags(
        "M",
        {
            "total_count": {"signal": "Total", "bits": 32},
            "scrap_count": {"signal": "Scrap", "bits": 16, "reason": "NG"},
            "alarm": {"signal": "Alarm", "reasons": {101: "TOOL_BREAK"}},
            "product": {"signal": "Program", "map": {"O1001": "TM-CASE"}},
            "process": [{"signal": "Load", "name": "spindle_load", "compression": "swinging_door", "deviation": 0.5}],
        },
        PRODUCTS,
    )
    assert [(c.role, c.bits) for c in tags.counters] == [("total_count", 32), ("scrap_count", 16)]
    assert tags.alarm_reasons == {"101": "TOOL_BREAK"}
    assert tags.product_map == {"O1001": "TM-CASE"}
    assert tags.process[0].name == "spindle_load" and tags.process[0].deviation == 0.5


def test_every_mapping_problem_is_listed():
    with pytest.raises(MappingError) as info:
        parse_tags(
            "M",
            {
                "state": {"signal": "S", "map": {1: "flying"}},
                "good_count": {"signal": "G", "bits": 12},
                "total_count": {"signal": "T"},
                "product": {"signal": "P", "map": {"X": "NOPE"}},
                "process": [{"signal": "L", "compression": "zip", "deviation": -1}],
                "colour": {},
            },
            PRODUCTS,
        )
    text = "\n".join(info.value.problems)
    for expected in (
        "state.map.1: 'flying' is not a state",
        "good_count.bits: 12 must be 16, 32 or 64",
        "give good_count or total_count, not both",
        "product.map.X: unknown product 'NOPE'",
        "compression: 'zip'",
        "deviation: expected a number >= 0",
        "colour: unknown role",
    ):
        assert expected in text


def test_the_plant_file_checks_tags_and_connectors():
    doc = {
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
                                "connector": {"name": "plc"},
                                "tags": {"state": {"signal": "S", "map": {1: "boom"}}},
                            },
                            {"code": "M2", "connector": {"name": "ghost"}},
                        ],
                    }
                ],
            }
        ],
        "connectors": [{"name": "plc", "type": "modbus", "host": "127.0.0.1"}, {"name": "x", "type": "profinet"}],
    }
    with pytest.raises(PlantError) as info:
        Plant.from_dict(doc)
    text = "\n".join(info.value.problems)
    assert "machines.M1.tags.state.map.1: 'boom' is not a state" in text
    assert "machine M2: connector 'ghost' is not defined" in text
    assert "connectors[1].type: 'profinet' is not one of" in text
    doc["areas"][0]["lines"][0]["machines"] = [{"code": "M1", "connector": {"name": "plc", "unit": 1}}]
    doc["connectors"].pop()
    plant = Plant.from_dict(doc)
    assert plant.connectors[0].options == {"host": "127.0.0.1"}
    assert [m.code for m in plant.machines_of("plc")] == ["M1"]
    assert Plant.from_dict(plant.to_dict()).connectors == plant.connectors
