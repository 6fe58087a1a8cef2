"""KPI formulas at their edges, computed by hand from ISO 22400-2's definitions (analytics/kpi.py cites them).

A mutation run (pyproject.toml, ``[tool.mutmut]``) found these figures untested: the exact PPM, the rework
ratio and first pass yield, NEE when effectiveness or its base is zero, the coverage of one machine's window.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from shopfloor.analytics.kpi import Coverage, KpiElements, coverage, known_pbt, kpis
from shopfloor.model.intervals import Interval

T0 = datetime(2026, 3, 2, 6, tzinfo=timezone.utc)


def test_quality_figures_of_a_hand_counted_shift():
    # PQ 1,000 = GQ 985 + SQ 12 + RQ 3.  PPM = (12 + 3) x 1,000,000 / 1,000 = 15,000 exactly; rework ratio
    # 3/1,000; first pass yield 985/1,000; scrap ratio 12/1,000.
    e = KpiElements(pbt_s=28_800, apt_s=25_200, pq=1_000, gq=985, sq=12, rq=3, ideal_s=20_000)
    k = kpis(e)
    assert k["ppm"] == 15_000.0
    assert k["rework_ratio"] == pytest.approx(0.003)
    assert k["first_pass_yield"] == pytest.approx(0.985)
    assert k["scrap_ratio"] == pytest.approx(0.012)
    # NEE = (AUPT / PBT) x E x QR = (25,200 / 28,800) x (20,000 / 25,200) x 0.985
    assert k["nee"] == pytest.approx(25_200 / 28_800 * 20_000 / 25_200 * 0.985)


def test_nee_is_zero_when_nothing_ran_and_unknown_when_effectiveness_is():
    # Planned 8 h, nothing ran and nothing was made: AUPT / PBT = 0, so NEE = 0 (not unknown).
    assert kpis(KpiElements(pbt_s=28_800))["nee"] == 0.0
    # Ran 1 h but one unit has no ideal cycle time: effectiveness, and so NEE, are unknown.
    e = KpiElements(pbt_s=28_800, apt_s=3_600, pq=2, gq=2, ideal_s=100, pq_without_pru=1)
    assert kpis(e)["effectiveness"] is None and kpis(e)["nee"] is None
    # Ran 1 s (less than a second of ideal time is still a ratio): effectiveness 0.5 over 1 s of APT.
    tiny = KpiElements(pbt_s=10, apt_s=1, pq=1, gq=1, ideal_s=0.5)
    assert kpis(tiny)["effectiveness"] == pytest.approx(0.5)


def test_known_pbt_below_the_resolution_is_none_known():
    assert known_pbt(KpiElements(pbt_s=100, unknown_s=100 - 1e-7)) == 0.0
    assert known_pbt(KpiElements(pbt_s=100, unknown_s=40)) == 60.0


def test_coverage_of_one_machine_from_its_first_event_up_to_now():
    window = Interval(T0, T0 + timedelta(hours=8))
    # First event at 07:00, now 10:00: covered 07:00-10:00 = 3 h of the 8 h window.
    c = coverage(window, T0 + timedelta(hours=1), T0 + timedelta(hours=4))
    assert c == Coverage(28_800.0, 10_800.0, T0 + timedelta(hours=1), T0 + timedelta(hours=4))
    # No event at all, or the first event after now: nothing covered, the window's length still counted.
    assert coverage(window, None, T0 + timedelta(hours=4)) == Coverage(28_800.0, 0.0)
    assert coverage(window, T0 + timedelta(hours=5), T0 + timedelta(hours=4)) == Coverage(28_800.0, 0.0)
    # First event exactly now: nothing covered yet.
    assert coverage(window, T0 + timedelta(hours=4), T0 + timedelta(hours=4)) == Coverage(28_800.0, 0.0)
    # First event before the window and now after it: the whole window.
    c = coverage(window, T0 - timedelta(days=1), T0 + timedelta(days=1))
    assert (c.covered_s, c.start, c.end) == (28_800.0, T0, T0 + timedelta(hours=8))
