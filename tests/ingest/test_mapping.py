"""The signal mapper on its own (no store): which good units a scrap increment takes back, and the scrap it keeps
waiting for a total counter.

Worked by hand: total = good + scrap on a machine with both counters, so a scrap increment takes its units back
from the good units that total increments of the same batch counted, the most recent first.  A mutation run
(pyproject.toml, ``[tool.mutmut]``) found both rules untested.
"""

from __future__ import annotations

import copy
from datetime import datetime, timedelta, timezone

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
