"""Rule-set specifications and the points each violation names, at the edges of their ranges.

The parameter ranges are the module's own (``analytics/run_rules.py``): a run length K from 2 to 50, an m of k
with 1 <= m <= k <= 50, Nelson's alternating rule needing at least 3 points.  The expected violations are worked by
hand on a chart with centre 0 and sigma 1 (limits at +-3), so a value is its own z-score.  A mutation run
(pyproject.toml, ``[tool.mutmut]``) found these untested.
"""

from __future__ import annotations

import numpy as np
import pytest

from shopfloor.analytics import spc
from shopfloor.analytics.run_rules import RuleSpecError, Violation, evaluate, parse_rules


def chart(values: list[float]) -> spc.Chart:
    n = len(values)
    return spc.Chart("i", np.asarray(values, float), np.zeros(n), np.full(n, 3.0), np.full(n, -3.0), np.ones(n))


def test_a_violation_as_json_names_its_rule_point_and_pattern():
    assert Violation("nelson5", 2, (0, 2)).to_dict() == {"rule": "nelson5", "index": 2, "points": [0, 2]}


@pytest.mark.parametrize(
    "spec, written",
    [
        ("nelson", "nelson"),
        ("nelson:1,2", "nelson:1,2"),
        ("nelson:1,2=7", "nelson:1,2=7"),
        ("NELSON: 2=7 , 5=3/4", "nelson:2=7,5=3/4"),
        ("we:1,2=2/3", "we:1,2"),
        ("we:4=2", "we:4=2"),
        ("limits", "limits"),
    ],
)
def test_a_spec_is_written_back_as_read(spec, written):
    assert parse_rules(spec).spec() == written
    assert parse_rules(written).spec() == written


@pytest.mark.parametrize(
    "spec, message",
    [
        (None, "expected nelson, we or limits"),
        ("   ", "expected nelson, we or limits"),
        ("shewhart", "the set is nelson, we or limits, not 'shewhart'"),
        ("nelson:9", "nelson has rules 1, 2, 3, 4, 5, 6, 7, 8, not '9'"),
        ("we:x", "we has rules 1, 2, 3, 4, not 'x'"),
        ("nelson:1=2", "rule 1 takes no parameter"),
        ("nelson:5=2/x", "rule 5 takes m/k \\(e.g. 5=2/3\\), not '2/x'"),
        ("nelson:5=x/3", "rule 5 takes m/k"),
        ("nelson:5=0/3", "rule 5 needs 1 <= m <= k <= 50, not 0/3"),
        ("nelson:5=4/3", "rule 5 needs 1 <= m <= k <= 50, not 4/3"),
        ("nelson:5=2/51", "rule 5 needs 1 <= m <= k <= 50, not 2/51"),
        ("nelson:2=x", "rule 2 takes a run length of 2 to 50, not 'x'"),
        ("nelson:2=1", "rule 2 takes a run length of 2 to 50, not '1'"),
        ("nelson:2=51", "rule 2 takes a run length of 2 to 50, not '51'"),
        ("nelson:4=2", "rule 4 \\(alternating\\) needs at least 3 points"),
    ],
)
def test_a_bad_spec_is_refused_saying_what_is_wrong(spec, message):
    with pytest.raises(RuleSpecError, match=message):
        parse_rules(spec)


@pytest.mark.parametrize(
    "spec", ["nelson:5=1/3", "nelson:5=3/3", "nelson:5=2/50", "nelson:2=2", "nelson:2=50", "nelson:4=3", "we:4=2"]
)
def test_parameters_at_the_ends_of_their_ranges_are_accepted(spec):
    parse_rules(spec)


def test_the_default_rule_set_is_nelson():
    values = [2.5, 0.0, 2.5, 2.5] + [0.5] * 9
    assert evaluate(chart(values)) == evaluate(chart(values), "nelson")
    assert any(v.rule == "nelson2" for v in evaluate(chart(values)))


def test_a_run_names_its_k_points():
    # Nine in a row above the centre (Nelson 2): completed at point 8, pattern points 0..8.
    values = [0.5] * 9 + [-0.5]
    assert evaluate(chart(values), "nelson:2") == [Violation("nelson2", 8, tuple(range(9)))]


def test_a_zone_rule_names_only_the_points_beyond_the_zone():
    # Two of three beyond 2 sigma (Nelson 5): z = 2.5, 0, 2.5, 2.5.
    # The window ending at 2 holds points 0 and 2; the one ending at 3 (points 1..3) holds 2 and 3.  Point 1 is
    # inside the zone and is not named; nor is a point after the window.
    values = [2.5, 0.0, 2.5, 2.5]
    assert evaluate(chart(values), "nelson:5") == [
        Violation("nelson5", 2, (0, 2)),
        Violation("nelson5", 3, (2, 3)),
    ]


def test_a_trend_names_its_six_points():
    # Six in a row increasing (Nelson 3): 0..5 rising, completed at point 5.
    values = [0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.1]
    assert evaluate(chart(values), "nelson:3") == [Violation("nelson3", 5, (0, 1, 2, 3, 4, 5))]


def test_a_point_on_the_centre_line_is_on_neither_side():
    # Nine in a row above the centre but the fifth exactly on it: no run of nine on either side.
    values = [0.5] * 4 + [0.0] + [0.5] * 4
    assert evaluate(chart(values), "nelson:2") == []
    assert evaluate(chart([-0.5] * 4 + [0.0] + [-0.5] * 4), "nelson:2") == []


def test_a_point_on_a_control_limit_is_not_beyond_it():
    assert evaluate(chart([3.0, -3.0, 3.01, -3.01]), "nelson:1") == [
        Violation("nelson1", 2, (2,)),
        Violation("nelson1", 3, (3,)),
    ]


def test_the_limits_set_names_its_one_rule_limit():
    assert evaluate(chart([0.0, 4.0]), "limits") == [Violation("limit", 1, (1,))]


def test_points_of_zero_sigma_fall_in_no_zone():
    # Sigma 0 at every point (a constant process): no zone of 1 or 2 sigma can be crossed.
    n = 5
    flat = spc.Chart("i", np.full(n, 0.5), np.zeros(n), np.full(n, 3.0), np.full(n, -3.0), np.zeros(n))
    assert evaluate(flat, "nelson:5,6") == []


def test_fourteen_alternating_points_and_a_flat_step_that_breaks_them():
    # Up, down, up, ... 14 points (13 differences of alternating sign): Nelson 4 completes at point 13.
    values = [(-1.0) ** i * 0.5 for i in range(14)]
    assert evaluate(chart(values), "nelson:4") == [Violation("nelson4", 13, tuple(range(14)))]
    # The same with the first step flat (0, 0, -1, 1, ...): only 12 points alternate, no violation.
    flat_first = [0.0, 0.0] + [(-1.0) ** (i + 1) * 0.5 for i in range(12)]
    assert evaluate(chart(flat_first), "nelson:4") == []


def test_rules_seven_and_eight_each_work_alone():
    """Nelson 7: 15 points in a row within one sigma; Nelson 8: 8 in a row beyond one sigma on both sides, one
    point on one side being enough.  Each enabled alone finds its own pattern and not the other's."""
    inside = [0.5, -0.5] * 7 + [0.5]
    outside = [1.5] + [-1.5] * 7
    assert evaluate(chart(inside), "nelson:7") == [Violation("nelson7", 14, tuple(range(15)))]
    assert evaluate(chart(inside), "nelson:8") == []
    assert evaluate(chart(outside), "nelson:8") == [Violation("nelson8", 7, tuple(range(8)))]
    assert evaluate(chart(outside), "nelson:7") == []
    assert evaluate(chart([-1.5] * 8), "nelson:8") == []  # all on one side: a run, not rule 8
    # after a point outside the zone the pattern's points start after it
    assert evaluate(chart([2.0] + inside), "nelson:7") == [Violation("nelson7", 15, tuple(range(1, 16)))]
    assert evaluate(chart([0.0] + outside), "nelson:8") == [Violation("nelson8", 8, tuple(range(1, 9)))]


def test_a_point_exactly_at_a_zone_edge_is_inside_it():
    """z = +-1 is within one sigma for neither rule 7 (|z| < 1) nor rule 8 (|z| > 1); z = -2 is not beyond two
    sigma (rule 5) and z = -3 not beyond the lower limit (rule 1)."""
    assert evaluate(chart([1.0, -1.0] * 8), "nelson:7") == []
    assert evaluate(chart([1.0, -1.0] * 4), "nelson:8") == []
    assert evaluate(chart([-2.0, -2.0, 0.0]), "nelson:5") == []
    assert evaluate(chart([0.0, -3.0, 0.0]), "nelson:1") == []
