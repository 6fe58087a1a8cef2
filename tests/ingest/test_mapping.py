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


def sig(tag: str, value: int, seconds: int, machine: str = "M1") -> Signal:
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
