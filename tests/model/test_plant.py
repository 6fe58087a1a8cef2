"""The plant document: the minimal shape from the issue loads; every problem is reported with its path."""

import pytest
import yaml

from shopfloor.model.plant import Plant, PlantError

MINIMAL = """
site: {code: CHANGWON, name: Changwon plant, timezone: Asia/Seoul}
areas:
  - code: A1
    lines:
      - code: WELD
        machines: [{code: WLD-01, name: Laser welder 1}]
products: [{code: DRUM-A, ideal_cycle_s: 1.0}]
calendar:
  shifts:
    - {name: Day, start: "06:00", end: "14:00", days: [mon, tue, wed, thu, fri],
       breaks: [{start: "08:00", end: "08:15"}, {start: "10:00", end: "10:30"}, {start: "12:00", end: "12:15"}]}
"""


def test_minimal_plant_from_the_issue_loads():
    plant = Plant.from_dict(yaml.safe_load(MINIMAL))
    assert plant.site.timezone == "Asia/Seoul"
    assert [m.code for m in plant.machines] == ["WLD-01"]
    assert plant.machine("WLD-01").line == "WELD"
    assert plant.ideal_cycle("DRUM-A", "WLD-01") == 1.0
    assert plant.ideal_cycle("UNKNOWN", "WLD-01") is None
    assert Plant.from_dict(plant.to_dict()) == plant


def test_cycle_time_per_machine_overrides_the_product_default():
    doc = yaml.safe_load(MINIMAL)
    doc["products"][0]["cycle_by_machine"] = {"WLD-01": 0.8}
    plant = Plant.from_dict(doc)
    assert plant.ideal_cycle("DRUM-A", "WLD-01") == 0.8


def test_every_problem_is_reported_with_its_path():
    doc = yaml.safe_load(MINIMAL)
    doc["site"]["timezone"] = "Mars/Olympus"
    doc["areas"][0]["lines"][0]["machines"].append({"code": "WLD-01"})
    doc["products"].append({"code": "BAD", "ideal_cycle_s": -3})
    doc["calendar"]["shifts"][0]["breaks"].append({"start": "15:00", "end": "15:10"})
    doc["extra"] = 1
    with pytest.raises(PlantError) as info:
        Plant.from_dict(doc)
    text = "\n".join(info.value.problems)
    assert "site.timezone: 'Mars/Olympus' is not an IANA time zone" in text
    assert "areas[0].lines[0].machines[1].code: machine 'WLD-01' already defined" in text
    assert "products[1].ideal_cycle_s: expected a positive number" in text
    assert "calendar.shifts[0].breaks[3]: break 15:00-15:10 is not inside the shift 06:00-14:00" in text
    assert "extra: unknown key" in text


@pytest.mark.parametrize("doc", [None, [], "text", {"site": "x"}])
def test_malformed_documents_get_a_message_not_a_crash(doc):
    with pytest.raises(PlantError):
        Plant.from_dict(doc)


def test_unquoted_yaml_times_are_read_as_times():
    # YAML 1.1 reads 06:00 without quotes as the base-60 number 360.
    doc = yaml.safe_load(MINIMAL.replace('"06:00"', "06:00").replace('"14:00"', "14:00"))
    plant = Plant.from_dict(doc)
    shift = plant.calendar.shifts[0]
    assert (shift.start.hour, shift.end.hour) == (6, 14)
