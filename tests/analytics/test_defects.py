"""Defect PPM by group and the defect-code Pareto; defectives, not defects (reference DPM-01/02)."""

from datetime import datetime, timezone

import pytest

from shopfloor.analytics.defects import defect_rates
from shopfloor.model.events import CountEvent, CountKind

T = datetime(2026, 3, 2, tzinfo=timezone.utc)


def c(kind, qty, machine="M1", product="P", code=None):
    return CountEvent(T, machine, CountKind(kind), qty, product, code)


COUNTS = [
    c("good", 9_850),
    c("scrap", 100, code="POROSITY"),
    c("rework", 50, code="MISALIGN"),
    c("good", 990, machine="M2", product="Q"),
    c("scrap", 10, machine="M2", product="Q", code="POROSITY"),
]


def test_ppm_by_machine_and_product():
    by_machine = {r.key: r for r in defect_rates(COUNTS, "machine")}
    assert by_machine["M1"].produced == 10_000 and by_machine["M1"].ppm == pytest.approx(15_000)
    assert by_machine["M2"].ppm == pytest.approx(10_000)
    assert [r.key for r in defect_rates(COUNTS, "product")] == ["P", "Q"]  # worst first


def test_defect_code_pareto_with_contribution_to_ppm():
    rows = defect_rates(COUNTS, "defect")
    assert [(r.key, r.scrap, r.rework) for r in rows] == [("POROSITY", 110, 0), ("MISALIGN", 0, 50)]
    assert rows[0].ppm == pytest.approx(110 / 11_000 * 1e6)
    assert rows[0].cumulative_pct == pytest.approx(110 / 160 * 100) and rows[1].cumulative_pct == pytest.approx(100)


def test_elsmar_one_bad_in_three_hundred_is_3333_ppm():
    # Reference DPM-02: 1 bad in 300 -> 0.33 % defective = 3,333 ppm.
    rows = defect_rates([c("good", 299), c("scrap", 1, code="X")], "machine")
    assert rows[0].ppm == pytest.approx(3333.33, abs=0.01)


def test_by_shift_needs_the_calendar_and_unknown_groups_are_refused():
    with pytest.raises(ValueError, match="shift calendar"):
        defect_rates(COUNTS, "shift")
    assert defect_rates(COUNTS, "shift", shift_of=lambda e: "Day")[0].produced == 11_000
    with pytest.raises(ValueError, match="expected one of"):
        defect_rates(COUNTS, "colour")
