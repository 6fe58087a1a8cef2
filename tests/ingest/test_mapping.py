"""The signal mapper on its own (no store): which good units a scrap increment takes back, and the scrap it keeps
waiting for a total counter.

Worked by hand: total = good + scrap on a machine with both counters, so a scrap increment takes its units back
from the good units that total increments of the same batch counted, the most recent first.  A mutation run
(pyproject.toml, ``[tool.mutmut]``) found both rules untested.
"""

from __future__ import annotations

import copy
import json
from datetime import datetime, timedelta, timezone

import pytest

from shopfloor.connectors.base import Quality, Signal
from shopfloor.ingest.mapping import SignalMapper
from shopfloor.model.events import CountEvent
from shopfloor.model.plant import Plant
from tests.ingest.test_pipeline import PLANT

T0 = datetime(2026, 3, 2, 0, 0, tzinfo=timezone.utc)


def sig(tag: str, value: object, seconds: int, machine: str = "M1") -> Signal:
    return Signal("test", machine, tag, value, T0 + timedelta(seconds=seconds), Quality.GOOD, f"{tag}:{seconds}")


def counts(out) -> list[tuple[str, int, int]]:
    return [
        (e.kind.value, e.quantity, int((e.ts - T0).total_seconds())) for e in out.events if isinstance(e, CountEvent)
    ]


def test_scrap_takes_back_the_most_recent_good_units_of_the_batch_first():
    mapper = SignalMapper(Plant.from_dict(PLANT))
    mapper.map([sig("Total", 100, 0), sig("Scrap", 5, 0)])
    # Three total increments (+4 at 10 s, +3 at 20 s, +2 at 30 s), then 3 scrap at 30 s: the 2 units of 30 s go
    # whole, the third comes from the 3 of 20 s.  Good 4 + 2 + scrap 3 = 9 = the total's increase.
    out = mapper.map([sig("Total", 104, 10), sig("Total", 107, 20), sig("Total", 109, 30), sig("Scrap", 8, 30)])
    assert counts(out) == [("good", 4, 10), ("good", 2, 20), ("scrap", 3, 30)]


def test_a_machine_without_a_total_counter_keeps_no_scrap_waiting():
    plant = copy.deepcopy(PLANT)
    tags = plant["areas"][0]["lines"][0]["machines"][0]["tags"]
    tags["good_count"] = tags.pop("total_count") | {"signal": "Good"}
    mapper = SignalMapper(Plant.from_dict(plant))
    mapper.map([sig("Good", 10, 0), sig("Scrap", 1, 0)])
    out = mapper.map([sig("Good", 15, 10), sig("Scrap", 3, 10)])
    # Good and scrap counters count apart: good 5 and scrap 2, nothing taken back, nothing pending.
    assert counts(out) == [("good", 5, 10), ("scrap", 2, 10)]
    assert mapper.state()["pending_scrap"] == {}
    assert mapper.machine_state("M1")["pending_scrap"] == 0


def test_events_carry_the_identity_of_the_reading_and_the_change_it_reports():
    # origin = "<source id>|<tag>|<change>": the state before and after, the alarm reason before and after.
    mapper = SignalMapper(Plant.from_dict(PLANT))
    out = mapper.map([sig("State", 1, 0), sig("State", 3, 5), sig("Alarm", 101, 6), sig("Alarm", 0, 7)])
    assert [(e.state.value, e.reason, e.origin) for e in out.events] == [
        ("running", None, "State:0|State|>running"),
        ("down", None, "State:5|State|running>down"),
        ("down", "LASER_FAULT", "Alarm:6|Alarm|alarm:>LASER_FAULT"),
        ("down", None, "Alarm:7|Alarm|alarm:LASER_FAULT>"),
    ]
    assert all(e.source == "test" for e in out.events)


@pytest.mark.parametrize("cleared", ["0", "", "false", "none", "None", 0, False])
def test_an_alarm_code_that_says_none_clears_the_alarm(cleared):
    mapper = SignalMapper(Plant.from_dict(PLANT))
    mapper.map([sig("State", 1, 0), sig("Alarm", 7, 1)])
    out = mapper.map([sig("Alarm", cleared, 2)])
    # an unknown code is ALARM_<code>; its clearing brings the machine back to the state it was in
    assert [(e.state.value, e.reason) for e in out.events] == [("running", None)]
    assert mapper.machine_state("M1")["alarm"] is None


def test_an_unknown_alarm_code_is_named_after_its_number():
    mapper = SignalMapper(Plant.from_dict(PLANT))
    out = mapper.map([sig("State", 1, 0), sig("Alarm", 7, 1)])
    assert [(e.state.value, e.reason) for e in out.events][-1] == ("down", "ALARM_7")


def test_a_mapper_continues_from_its_saved_state_as_if_it_had_never_stopped():
    """The state saved with a commit (whole, or per machine for several workers) gives a new mapper the same
    counters, product, state, alarm and pending scrap: the next readings map to the same events."""
    plant = Plant.from_dict(PLANT)
    first = [sig("State", 1, 0), sig("Total", 100, 0), sig("Scrap", 5, 0), sig("Alarm", 101, 1),
             sig("Scrap", 8, 2)]  # fmt: skip
    after = [sig("Total", 110, 10), sig("Alarm", 0, 11), sig("State", 3, 12), sig("Scrap", 9, 13)]
    original = SignalMapper(plant)
    original.map(first)
    whole = SignalMapper(plant, json.loads(json.dumps(original.state())))
    one = SignalMapper(plant)
    one.load_machine_state("M1", json.loads(json.dumps(original.machine_state("M1"))))
    assert original.machine_state("M1")["pending_scrap"] == 3 and original.machine_state("M1")["alarm"] == "LASER_FAULT"
    expected = [(type(e).__name__, e.ts, getattr(e, "quantity", None), getattr(e, "state", None), e.reason)
                for e in original.map(after).events]  # fmt: skip
    for other in (whole, one):
        got = [(type(e).__name__, e.ts, getattr(e, "quantity", None), getattr(e, "state", None), e.reason)
               for e in other.map(after).events]  # fmt: skip
        assert got == expected
    # total +10 = 3 scrap waiting + 1 scrap of this batch (taken back from its good) + good 6
    assert [(x[2], x[4]) for x in expected if x[0] == "CountEvent"] == [(6, None), (1, "NG")]


def _plant_with(tags_update: dict, products: list[dict] | None = None) -> Plant:
    plant = copy.deepcopy(PLANT)
    tags = plant["areas"][0]["lines"][0]["machines"][0]["tags"]
    tags.update(tags_update)
    if products is not None:
        plant["products"] = products
    return Plant.from_dict(plant)


def test_count_events_carry_machine_product_reason_source_and_the_reading():
    """Good, scrap and rework counters counting apart: each increment is an event of its kind with the machine,
    the running product, the counter's reason, the connector and the reading (source id, tag, values read)."""
    plant = copy.deepcopy(PLANT)
    tags = plant["areas"][0]["lines"][0]["machines"][0]["tags"]
    tags["good_count"] = tags.pop("total_count") | {"signal": "Good"}
    tags["rework_count"] = {"signal": "Rework", "bits": 16, "reason": "RW"}
    mapper = SignalMapper(Plant.from_dict(plant))
    mapper.map([sig("Good", 10, 0), sig("Scrap", 1, 0), sig("Rework", 4, 0)])
    out = mapper.map([sig("Good", 15, 10), sig("Scrap", 3, 10), sig("Rework", 5, 10)])
    assert [(e.kind.value, e.machine, e.quantity, e.product, e.reason, e.source, e.origin) for e in out.events] == [
        ("good", "M1", 5, "P", None, "test", "Good:10|Good|10>15"),
        ("scrap", "M1", 2, "P", "NG", "test", "Scrap:10|Scrap|1>3"),
        ("rework", "M1", 1, "P", "RW", "test", "Rework:10|Rework|4>5"),
    ]


def test_good_units_from_a_total_counter_carry_the_reading_and_scrap_beyond_the_batch_waits():
    """By hand, total = good + scrap: the batch at 10 s holds +2 total and +5 scrap, so the 2 are taken back and 3
    scrap wait; at 15 s +1 total and +2 scrap: the 1 is taken back, 1 more waits (4); +5 total at 20 s are those 4
    and 1 good unit; +3 at 30 s with 2 more scrap: 1 good; +2 at 40 s are good."""
    mapper = SignalMapper(Plant.from_dict(PLANT))
    mapper.map([sig("Total", 100, 0), sig("Scrap", 5, 0)])
    out = mapper.map([sig("Total", 102, 10), sig("Scrap", 10, 10)])
    assert counts(out) == [("scrap", 5, 10)] and len(out.events) == 1  # the good units taken back are gone
    assert mapper.state()["pending_scrap"] == {"M1": 3}
    assert counts(mapper.map([sig("Total", 103, 15), sig("Scrap", 12, 15)])) == [("scrap", 2, 15)]
    assert mapper.state()["pending_scrap"] == {"M1": 4}
    assert counts(mapper.map([sig("Total", 108, 20)])) == [("good", 1, 20)]
    assert mapper.machine_state("M1")["pending_scrap"] == 0
    assert counts(mapper.map([sig("Total", 111, 30), sig("Scrap", 14, 30)])) == [("good", 1, 30), ("scrap", 2, 30)]
    out = mapper.map([sig("Total", 113, 40)])
    assert [(e.kind.value, e.quantity, e.product, e.source, e.origin) for e in out.events] == [
        ("good", 2, "P", "test", "Total:40|Total|111>113")
    ]


def test_a_counter_cannot_count_faster_than_twice_the_ideal_rate_of_the_product_on_that_machine():
    """Product Q: 1 s ideal cycle, 0.1 s on M1.  On M1 at most 2 / 0.1 = 20 units a second: +150 in 10 s are
    counted; +250 in the next 10 s (25 a second) are a jump, held back and reported with the reading."""
    plant = _plant_with({"product": {"default": "Q"}},
                        [{"code": "Q", "ideal_cycle_s": 1.0, "cycle_by_machine": {"M1": 0.1}}])  # fmt: skip
    mapper = SignalMapper(plant)
    mapper.map([sig("Total", 100, 0)])
    assert counts(mapper.map([sig("Total", 250, 10)])) == [("good", 150, 10)]
    jump = mapper.map([sig("Total", 500, 20)])
    assert counts(jump) == [] and [(s.tag, s.value) for s, _ in jump.anomalies] == [("Total", 500)]
    assert all(isinstance(reason, str) and reason for _, reason in jump.anomalies)


def test_a_product_without_an_ideal_cycle_puts_no_bound_on_its_counter():
    plant = _plant_with({"product": {"default": "R"}}, [{"code": "R"}])
    mapper = SignalMapper(plant)
    mapper.map([sig("Total", 100, 0)])
    out = mapper.map([sig("Total", 5100, 10)])
    assert counts(out) == [("good", 5000, 10)] and out.anomalies == []


@pytest.mark.parametrize(
    ("value", "number"),
    [
        ("12", 12), (" 7 ", 7), ("+12", 12), ("-3", -3), ("12.0", 12), ("12.5", None), ("x123", None), ("", None),
        ("18446744073709551615", 2**64 - 1), ("+18446744073709551615", 2**64 - 1), (True, 1), (7.0, 7), (7.5, None),
        (None, None),
    ],
)  # fmt: skip
def test_a_counter_reading_is_an_exact_whole_number_or_nothing(value, number):
    from shopfloor.ingest.mapping import as_count

    assert as_count(value) == number


def test_a_saved_state_keeps_the_product_read_and_the_compression_held_and_only_its_own_machine():
    """The product read from the machine's program and the swinging door's held value go with the saved state
    (whole, and per machine); a machine's state carries none of another machine's counters, filters or product,
    and loading it leaves the other machine as it was."""
    plant = copy.deepcopy(PLANT)
    m1 = plant["areas"][0]["lines"][0]["machines"][0]
    m1["tags"]["product"] = {"signal": "Program", "map": {"O1": "Q"}, "default": "P"}
    plant["areas"][0]["lines"][0]["machines"].append(copy.deepcopy(m1) | {"code": "M2"})
    plant["products"] = [{"code": "P", "ideal_cycle_s": 1.0}, {"code": "Q", "ideal_cycle_s": 1.0}]
    plant = Plant.from_dict(plant)
    first = [
        sig("Program", "O1", 0),
        sig("Total", 100, 0),
        sig("Power", 10.0, 0),
        sig("Power", 10.2, 1),
        sig("Power", 10.4, 2),
        sig("Total", 50, 0, "M2"),
        sig("Power", 3.0, 0, "M2"),
        sig("State", 1, 0, "M2"),
    ]
    after = [sig("Total", 103, 10), sig("Power", 20.0, 10), sig("Total", 52, 10, "M2")]  # fmt: skip

    def seen(out) -> list[tuple]:
        events = [(e.machine, e.kind.value, e.quantity, e.product) for e in out.events if isinstance(e, CountEvent)]
        return events + [(m.machine, m.name, m.ts, m.value) for m in out.measurements]

    original = SignalMapper(plant)
    original.map(first)
    saved = json.loads(json.dumps(original.machine_state("M1")))
    assert saved["product"] == "Q" and list(saved["filters"]) == ["M1/laser_power"]
    assert all(k.startswith("M1/") for k in saved["counters"]) and saved["last_state"] is None
    whole = SignalMapper(plant, json.loads(json.dumps(original.state())))
    assert whole.state()["product"]["M1"] == "Q"
    one = SignalMapper(plant)
    one.map([sig("Total", 40, 0, "M2"), sig("State", 1, 0, "M2"), sig("Program", "O1", 0, "M2")])
    one.load_machine_state("M1", saved)
    assert one.machine_state("M2")["product"] == "Q" and one.machine_state("M2")["last_state"] == "running"
    expected = seen(original.map(after))
    assert ("M1", "good", 3, "Q") in expected and ("M1", "laser_power", T0 + timedelta(seconds=2), 10.4) in expected
    assert seen(whole.map(after)) == expected
    assert [x for x in seen(one.map(after)) if x[0] == "M1"] == [x for x in expected if x[0] == "M1"]


def test_a_state_saved_before_a_part_of_it_existed_loads_as_empty():
    """A state written by an earlier version lacks keys: each missing part starts empty, whole or per machine."""
    plant = Plant.from_dict(PLANT)
    for mapper in (SignalMapper(plant, {}), SignalMapper(plant)):
        mapper.load_machine_state("M1", {})
        mapper.map([sig("Total", 100, 0), sig("State", 1, 0)])
        assert counts(mapper.map([sig("Total", 103, 10)])) == [("good", 3, 10)]
    assert SignalMapper(plant, {"counters": {}}).state()["pending_scrap"] == {}


def test_bad_readings_are_ignored_and_alarms_return_the_machine_to_its_state_before_the_first():
    """A reading of bad or stale quality, or without a value, is not used (counted as ignored).  A second alarm
    code during an alarm keeps the state from before the first; clearing returns to it (idle when unknown)."""
    mapper = SignalMapper(Plant.from_dict(PLANT))
    mapper.map([sig("Total", 100, 0)])
    bad = Signal("test", "M1", "Total", 150, T0 + timedelta(seconds=5), Quality.BAD, "Total:5")
    empty = Signal("test", "M1", "Total", None, T0 + timedelta(seconds=6), Quality.GOOD, "Total:6")
    out = mapper.map([bad, empty])
    assert (counts(out), out.ignored) == ([], 2)
    out = mapper.map([sig("State", 1, 10), sig("Alarm", 101, 11), sig("Alarm", 7, 12), sig("Alarm", 0, 13)])
    assert [(e.machine, int((e.ts - T0).total_seconds()), e.state.value, e.reason) for e in out.events] == [
        ("M1", 10, "running", None),
        ("M1", 11, "down", "LASER_FAULT"),
        ("M1", 12, "down", "ALARM_7"),
        ("M1", 13, "running", None),
    ]
    fresh = SignalMapper(Plant.from_dict(PLANT))
    out = fresh.map([sig("Alarm", 101, 1), sig("Alarm", 0, 2)])
    assert [(e.machine, e.state.value) for e in out.events] == [("M1", "down"), ("M1", "idle")]


def test_a_program_not_in_the_product_map_names_the_product_itself():
    plant = copy.deepcopy(PLANT)
    plant["areas"][0]["lines"][0]["machines"][0]["tags"]["product"] = {"signal": "Program", "map": {"O1": "P"}}
    plant["products"] = [{"code": "P", "ideal_cycle_s": 1.0}, {"code": "Q", "ideal_cycle_s": 1.0}]
    mapper = SignalMapper(Plant.from_dict(plant))
    mapper.map([sig("Total", 100, 0), sig("Program", "O1", 0)])
    out = mapper.map([sig("Total", 101, 5), sig("Program", "Q", 6), sig("Total", 102, 7)])
    assert [(e.quantity, e.product) for e in out.events if isinstance(e, CountEvent)] == [(1, "P"), (1, "Q")]


def test_total_units_that_are_all_scrap_already_reported_make_no_good_event():
    mapper = SignalMapper(Plant.from_dict(PLANT))
    mapper.map([sig("Total", 100, 0), sig("Scrap", 5, 0)])
    mapper.map([sig("Total", 101, 10), sig("Scrap", 9, 10)])  # 1 taken back, 3 wait
    out = mapper.map([sig("Total", 104, 20)])
    assert out.events == [] and mapper.machine_state("M1")["pending_scrap"] == 0


def test_a_process_value_of_bad_quality_is_stored_as_such_and_leaves_the_compression_alone():
    mapper = SignalMapper(Plant.from_dict(PLANT))
    bad = Signal("test", "M1", "Power", 99.0, T0 + timedelta(seconds=1), Quality.UNCERTAIN, "Power:1")
    out = mapper.map([sig("Power", 10.0, 0), bad, sig("Power", 10.1, 2)])
    assert [(m.value, m.quality) for m in out.measurements] == [(10.0, "good"), (99.0, "uncertain")]
