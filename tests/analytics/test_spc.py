"""Control charts, run rules and capability against published examples (NIST/SEMATECH e-Handbook; Montgomery)
and the published constant tables; hypothesis invariants."""

import csv

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shopfloor.analytics import spc
from shopfloor.analytics.capability import capability
from shopfloor.analytics.run_rules import evaluate
from shopfloor.analytics.spc_constants import constants
from tests.conftest import DATA


def _column(name, column):
    with open(DATA / name) as fh:
        return [float(r[column]) for r in csv.DictReader(fh)]


def test_constants_are_the_published_table_for_n_2_to_25():
    # Montgomery, ISQC 7th ed., Appendix VI, and ASTM E2587 Table 1, as transcribed in
    # tests/data/control_chart_constants_n2_25.csv: the charts use the printed values themselves.
    with open(DATA / "control_chart_constants_n2_25.csv") as fh:
        rows = list(csv.DictReader(fh))
    for r in rows:
        c = constants(int(r["n"]))
        assert c.published
        for key in ("d2", "c4", "A2", "D3", "D4", "A3", "B3", "B4", "d3"):
            assert getattr(c, key) == float(r[key]), (r["n"], key)
    assert constants(5).D4 == 2.114 and constants(3).D4 == 2.574 and constants(24).D3 == 0.451


def test_computed_constants_reproduce_the_published_table():
    # The range integrals reproduce every printed d2 and d3 of the same table (Montgomery Appendix VI, ASTM E2587)
    # when rounded to 3 decimals, except d3 for n = 2 and n = 19 (exactly 0.85250 and 0.73348, printed 0.853 and
    # 0.734); d2 for n = 2 is 2 / sqrt(pi) exactly.  The factors the table derives from rounded d2 and d3 agree
    # within its last digit, and D4(5) is 2.114 (exactly 2.11449), the value an 801-point grid missed.
    with open(DATA / "control_chart_constants_n2_25.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert constants(2).d2_exact == pytest.approx(2 / np.sqrt(np.pi), abs=1e-11)
    for r in rows:
        c = constants(int(r["n"]))
        assert round(c.d2_exact, 3) == float(r["d2"]), r["n"]
        if c.n not in (2, 19):
            assert round(c.d3_exact, 3) == float(r["d3"]), r["n"]
        assert round(c.c4_exact, 4) == float(r["c4"]), r["n"]
        assert c.d2_exact == pytest.approx(float(r["d2_exact"]), abs=5e-5)
        assert c.d3_exact == pytest.approx(float(r["d3_exact"]), abs=5e-5)
        assert 1 + 3 * c.d3_exact / c.d2_exact == pytest.approx(float(r["D4"]), abs=0.0011)
    assert round(1 + 3 * constants(5).d3_exact / constants(5).d2_exact, 3) == 2.114
    beyond = constants(50)  # no table: computed and rounded as the table is
    assert not beyond.published and beyond.d2 == round(beyond.d2_exact, 3) and 4.49 < beyond.d2 < 4.51
    with pytest.raises(ValueError):
        constants(101)


def test_nist_individuals_chart_flow_rate():
    # NIST/SEMATECH e-Handbook 6.3.2.2, "Individuals Control Charts" (reference SPC-12).
    x = _column("nist_flowrate_imr.csv", "flowrate")
    i_chart, mr_chart = spc.imr(x)
    assert i_chart.centre[0] == pytest.approx(50.81, abs=1e-3)
    assert i_chart.extra["mr_bar"] == pytest.approx(1.8778, abs=1e-3)
    assert i_chart.ucl[0] == pytest.approx(55.8041, abs=1e-3)
    assert i_chart.lcl[0] == pytest.approx(45.8159, abs=1e-3)
    assert mr_chart.ucl[0] == pytest.approx(6.1349, abs=1e-3)
    assert [v for v in evaluate(i_chart, "we", enabled={1})] == []  # in control


def test_nist_c_chart_wafer_defects_with_a_point_exactly_on_the_limit():
    # NIST e-Handbook 6.3.3.1, "Counts Control Charts" (reference SPC-13): c-bar 16, UCL 28, LCL 4; wafer 24 (31)
    # is above the UCL; wafer 3 (28) lies exactly on it and is not a signal.
    c = spc.c_chart(_column("nist_wafer_defects_c_chart.csv", "defects"))
    assert (c.centre[0], c.ucl[0], c.lcl[0]) == (16.0, 28.0, 4.0)
    beyond = [v.index for v in evaluate(c, "nelson", enabled={1})]
    assert beyond == [23]


def test_nist_ewma_example():
    # NIST e-Handbook 6.3.2.4, "EWMA Control Charts" (reference SPC-14): target 50, s 2.0539, lambda 0.3,
    # asymptotic limits 52.5884 / 47.4115; the published EWMA to 2 decimals.
    x = _column("nist_ewma_example.csv", "x")
    published = _column("nist_ewma_example.csv", "ewma_published")
    chart = spc.ewma(x, lam=0.3, target=50.0, sigma=2.0539, asymptotic=True)
    assert np.allclose(chart.values, published, atol=0.005)
    assert chart.ucl[0] == pytest.approx(52.5884, abs=1e-3) and chart.lcl[0] == pytest.approx(47.4115, abs=1e-3)
    assert evaluate(chart, "nelson", enabled={1}) == []


def test_montgomery_cusum_example():
    # Montgomery, ISQC 7th ed., Table 9.1 / Example 9.1: mu0 = 10, sigma = 1, k = 0.5, h = 5; the first 20
    # observations are N(10, 1), the last 10 from N(11, 1); C+ first exceeds H = 5 at observation 29.
    x = [
        9.45,
        7.99,
        9.29,
        11.66,
        12.16,
        10.18,
        8.04,
        11.46,
        9.20,
        10.34,
        9.03,
        11.47,
        10.51,
        9.40,
        10.08,
        9.37,
        10.62,
        10.31,
        8.52,
        10.84,
        10.90,
        9.33,
        12.29,
        11.50,
        10.60,
        11.08,
        10.38,
        11.62,
        11.31,
        10.52,
    ]
    chart = spc.cusum(x, target=10.0, sigma=1.0, k=0.5, h=5.0)
    assert chart.extra["signals"][0] == 28  # observation 29
    assert chart.extra["c_plus"][28] == pytest.approx(5.28, abs=0.01)
    # C-_1 = 9.5 - 9.45 = 0.05, C-_2 = 9.5 - 7.99 + 0.05 = 1.56 (the definition, as the table continues).
    assert chart.extra["c_plus"][0] == 0.0 and chart.extra["c_minus"][1] == pytest.approx(1.56, abs=1e-9)


def test_p_chart_with_variable_sample_sizes_has_limits_per_point():
    d, n = [12, 15, 8, 10, 4, 7], [100, 150, 80, 120, 90, 110]
    chart = spc.p_chart(d, n)
    pbar = sum(d) / sum(n)
    assert chart.centre[0] == pytest.approx(pbar)
    assert chart.ucl[1] == pytest.approx(pbar + 3 * np.sqrt(pbar * (1 - pbar) / 150))
    assert chart.ucl[0] != chart.ucl[1]


def test_xbar_r_and_xbar_s_use_the_table_constants():
    rng = np.random.default_rng(1)
    data = rng.normal(74.0, 0.01, size=(25, 5))
    xbar, r = spc.xbar_r(data)
    rbar = (data.max(axis=1) - data.min(axis=1)).mean()
    assert xbar.ucl[0] - xbar.centre[0] == pytest.approx(0.577 * rbar)
    # D4 for n = 5 is printed 2.114 in some tables and 2.115 in others (exactly 2.1145): the computed one is used.
    assert r.ucl[0] == pytest.approx(constants(5).D4 * rbar) and abs(constants(5).D4 - 2.114) <= 0.0011
    assert r.lcl[0] == 0
    xs, s = spc.xbar_s(data)
    sbar = data.std(axis=1, ddof=1).mean()
    assert xs.ucl[0] - xs.centre[0] == pytest.approx(1.427 * sbar) and s.ucl[0] == pytest.approx(2.089 * sbar)


def test_phase_one_excludes_points_but_still_tests_them():
    x = [10.0, 10.2, 9.9, 10.1, 30.0, 10.0, 9.8, 10.1]
    all_points, _ = spc.imr(x)
    without, _ = spc.imr(x, exclude=[4])
    assert without.centre[0] < all_points.centre[0]
    assert [v.index for v in evaluate(without, "nelson", enabled={1})] == [4]
    frozen, _ = spc.imr([10.0, 12.0], centre=without.centre[0], sigma=without.extra["sigma"])  # phase II
    assert frozen.ucl[0] == pytest.approx(without.ucl[0])


def _chart(values):
    v = np.asarray(values, dtype=float)
    n = len(v)
    return spc.Chart("i", v, np.zeros(n), np.full(n, 3.0), np.full(n, -3.0), np.ones(n))


@pytest.mark.parametrize(
    "rule, values, index",
    [
        ("nelson1", [0, 0, 3.5], 2),
        ("nelson2", [0.5] * 9, 8),
        ("nelson3", [0, 1, 2, 2.5, 2.6, 2.7], 5),
        ("nelson4", [1, -1] * 7, 13),
        ("nelson5", [2.5, 0, 2.5], 2),
        ("nelson6", [1.5, 1.5, 0, 1.5, 1.5], 4),
        ("nelson7", [0.1, -0.1] * 7 + [0.1], 14),
        ("nelson8", [1.5, -1.5] * 4, 7),
    ],
)
def test_each_nelson_rule_fires_at_the_point_completing_its_pattern(rule, values, index):
    found = [v for v in evaluate(_chart(values), "nelson") if v.rule == rule]
    assert found and found[0].index == index


@pytest.mark.parametrize(
    "rule, values",
    [
        ("nelson1", [0, 0, 3.0]),  # exactly on the limit
        ("nelson2", [0.5] * 8),
        ("nelson3", [0, 1, 2, 3, 2.9]),
        ("nelson5", [2.0, 0, 2.5]),  # exactly 2 sigma is not beyond it
        ("nelson5", [2.5, 0, -2.5]),  # different sides
        ("nelson8", [1.5, -1.5] * 3 + [1.5]),
    ],
)
def test_one_point_short_of_a_pattern_does_not_fire(rule, values):
    assert [v for v in evaluate(_chart(values), "nelson") if v.rule == rule] == []


def test_western_electric_rules():
    we = {v.rule for v in evaluate(_chart([2.5, 0, 2.5, 1.5, 1.5, 1.5, 0.2, 1.5] + [0.5] * 8), "we")}
    assert {"we2", "we3", "we4"} <= we


def test_capability_indices_and_expected_ppm():
    rng = np.random.default_rng(7)
    x = rng.normal(10.0, 0.1, 500)
    cap = capability(x, usl=10.3, lsl=9.7, sigma_within=0.1)
    assert cap.cp == pytest.approx(1.0)
    assert cap.cpk == pytest.approx(min(10.3 - x.mean(), x.mean() - 9.7) / 0.3)
    # Centred at 3 sigma each side: 2,699.8 ppm out of specification (reference DPM-03, no shift).
    centred = capability([9.9, 10.1] * 10, usl=10.3, lsl=9.7, sigma_within=0.1)
    assert centred.ppm_total_within == pytest.approx(2699.8, abs=0.1)
    assert cap.normality_p > 0.05 and cap.cpk <= cap.cp
    skewed = capability(rng.exponential(1.0, 300), usl=8.0)
    assert skewed.normality_p < 0.01 and skewed.cp is None and skewed.ppk is not None


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.floats(min_value=-100, max_value=100), min_size=10, max_size=60),
    st.floats(min_value=-1000, max_value=1000),
    st.floats(min_value=0.1, max_value=50),
)
def test_a_shift_moves_the_centre_and_a_scale_scales_the_limits(values, shift, scale):
    base, _ = spc.imr(values)
    moved, _ = spc.imr([v + shift for v in values])
    scaled, _ = spc.imr([v * scale for v in values])
    assert moved.centre[0] == pytest.approx(base.centre[0] + shift, abs=1e-6)
    assert moved.ucl[0] - moved.centre[0] == pytest.approx(base.ucl[0] - base.centre[0], abs=1e-6)
    assert scaled.ucl[0] - scaled.centre[0] == pytest.approx(scale * (base.ucl[0] - base.centre[0]), rel=1e-6, abs=1e-9)


# D. C. Montgomery, "Introduction to Statistical Quality Control", 7th ed., Tables 6.3 and 6.4: inside diameter (mm)
# of forged automobile piston rings, 25 phase I samples and 15 phase II samples of 5 (also R package qcc's
# "pistonrings" data set).
PISTON_PHASE1 = [
    74.030,
    74.002,
    74.019,
    73.992,
    74.008,
    73.995,
    73.992,
    74.001,
    74.011,
    74.004,
    73.988,
    74.024,
    74.021,
    74.005,
    74.002,
    74.002,
    73.996,
    73.993,
    74.015,
    74.009,
    73.992,
    74.007,
    74.015,
    73.989,
    74.014,
    74.009,
    73.994,
    73.997,
    73.985,
    73.993,
    73.995,
    74.006,
    73.994,
    74.000,
    74.005,
    73.985,
    74.003,
    73.993,
    74.015,
    73.988,
    74.008,
    73.995,
    74.009,
    74.005,
    74.004,
    73.998,
    74.000,
    73.990,
    74.007,
    73.995,
    73.994,
    73.998,
    73.994,
    73.995,
    73.990,
    74.004,
    74.000,
    74.007,
    74.000,
    73.996,
    73.983,
    74.002,
    73.998,
    73.997,
    74.012,
    74.006,
    73.967,
    73.994,
    74.000,
    73.984,
    74.012,
    74.014,
    73.998,
    73.999,
    74.007,
    74.000,
    73.984,
    74.005,
    73.998,
    73.996,
    73.994,
    74.012,
    73.986,
    74.005,
    74.007,
    74.006,
    74.010,
    74.018,
    74.003,
    74.000,
    73.984,
    74.002,
    74.003,
    74.005,
    73.997,
    74.000,
    74.010,
    74.013,
    74.020,
    74.003,
    73.982,
    74.001,
    74.015,
    74.005,
    73.996,
    74.004,
    73.999,
    73.990,
    74.006,
    74.009,
    74.010,
    73.989,
    73.990,
    74.009,
    74.014,
    74.015,
    74.008,
    73.993,
    74.000,
    74.010,
    73.982,
    73.984,
    73.995,
    74.017,
    74.013,
]
PISTON_PHASE2 = [
    74.012,
    74.015,
    74.030,
    73.986,
    74.000,
    73.995,
    74.010,
    73.990,
    74.015,
    74.001,
    73.987,
    73.999,
    73.985,
    74.000,
    73.990,
    74.008,
    74.010,
    74.003,
    73.991,
    74.006,
    74.003,
    74.000,
    74.001,
    73.986,
    73.997,
    73.994,
    74.003,
    74.015,
    74.020,
    74.004,
    74.008,
    74.002,
    74.018,
    73.995,
    74.005,
    74.001,
    74.004,
    73.990,
    73.996,
    73.998,
    74.015,
    74.000,
    74.016,
    74.025,
    74.000,
    74.030,
    74.005,
    74.000,
    74.016,
    74.012,
    74.001,
    73.990,
    73.995,
    74.010,
    74.024,
    74.015,
    74.020,
    74.024,
    74.005,
    74.019,
    74.035,
    74.010,
    74.012,
    74.015,
    74.026,
    74.017,
    74.013,
    74.036,
    74.025,
    74.026,
    74.010,
    74.005,
    74.029,
    74.000,
    74.020,
]


def _samples(values):
    return [values[i : i + 5] for i in range(0, len(values), 5)]


def test_montgomery_piston_rings_xbar_r_and_xbar_s():
    # Example 6.1: x-double-bar 74.001, R-bar 0.023, X-bar limits 74.014 / 73.988, R chart UCL 0.049 (the book
    # rounds R-bar before multiplying); Example 6.3: s-bar 0.0094, X-bar limits 74.014 / 73.988, S UCL 0.0196.
    xbar, r = spc.xbar_r(_samples(PISTON_PHASE1))
    assert xbar.centre[0] == pytest.approx(74.001, abs=5e-4) and r.centre[0] == pytest.approx(0.023, abs=5e-4)
    assert xbar.ucl[0] == pytest.approx(74.014, abs=1e-3) and xbar.lcl[0] == pytest.approx(73.988, abs=1e-3)
    assert r.ucl[0] == pytest.approx(0.049, abs=1e-3) and r.lcl[0] == 0
    xs, s = spc.xbar_s(_samples(PISTON_PHASE1))
    assert s.centre[0] == pytest.approx(0.0094, abs=2e-4)
    assert xs.ucl[0] == pytest.approx(74.014, abs=1e-3) and s.ucl[0] == pytest.approx(0.0196, abs=5e-4)
    assert evaluate(xbar, "we", enabled={1}) == [] and evaluate(r, "we", enabled={1}) == []


def test_montgomery_piston_rings_phase_two_with_frozen_limits():
    # Example 6.1 continued: with the phase I limits, samples 37, 38 and 39 of Table 6.4 plot above the UCL.
    chart, _ = spc.xbar_r(_samples(PISTON_PHASE1) + _samples(PISTON_PHASE2), baseline=25)
    assert [v.index + 1 for v in evaluate(chart, "we", enabled={1})] == [37, 38, 39]


# Montgomery, ISQC 7th ed., Table 7.1 (Example 7.1): frozen orange juice concentrate cans, 30 samples of n = 50,
# number of nonconforming cans (also qcc's "orangejuice" data).  Trial limits: p-bar 0.2313, UCL 0.4102,
# LCL 0.0524; samples 15 and 23 are above the UCL.
ORANGE_JUICE = [
    12,
    15,
    8,
    10,
    4,
    7,
    16,
    9,
    14,
    10,
    5,
    6,
    17,
    12,
    22,
    8,
    10,
    5,
    13,
    11,
    20,
    18,
    24,
    15,
    9,
    12,
    7,
    13,
    9,
    6,
]
# Montgomery, ISQC: nonconformities in 26 samples of 100 printed circuit boards (qcc's "circuit" data, whose
# certified values are c-bar 19.84615, UCL 33.21086, LCL 6.481447); samples 6 and 20 are outside the limits.
CIRCUIT = [21, 24, 16, 12, 15, 5, 28, 20, 31, 25, 20, 24, 16, 19, 10, 17, 13, 22, 18, 39, 30, 24, 16, 19, 17, 15]


def test_montgomery_orange_juice_p_and_np_charts():
    p = spc.p_chart(ORANGE_JUICE, [50] * 30)
    assert p.centre[0] == pytest.approx(0.2313, abs=1e-4)
    assert p.ucl[0] == pytest.approx(0.4102391, abs=1e-6) and p.lcl[0] == pytest.approx(0.05242755, abs=1e-6)
    assert [v.index + 1 for v in evaluate(p, "nelson", enabled={1})] == [15, 23]
    np_ = spc.np_chart(ORANGE_JUICE, 50)
    assert np_.ucl[0] == pytest.approx(50 * 0.4102391, abs=1e-4)
    assert [v.index + 1 for v in evaluate(np_, "nelson", enabled={1})] == [15, 23]


def test_montgomery_circuit_board_c_chart():
    c = spc.c_chart(CIRCUIT)
    assert c.centre[0] == pytest.approx(19.84615, abs=1e-5)
    assert c.ucl[0] == pytest.approx(33.21086, abs=1e-5) and c.lcl[0] == pytest.approx(6.481447, abs=1e-5)
    assert [v.index + 1 for v in evaluate(c, "nelson", enabled={1})] == [6, 20]
    revised = spc.c_chart(CIRCUIT, exclude=[5, 19])  # the book's revised limits without the two causes
    assert revised.centre[0] == pytest.approx(19.67, abs=0.01)


def test_montgomery_personal_computer_u_chart():
    # Montgomery, ISQC, 2nd ed., pp. 181-182: nonconformities found in 20 samples
    # of 5 personal computers (qcc's "pcmanufact" data).  u-bar = 193 / 100 = 1.93, UCL = 1.93 + 3 sqrt(1.93/5)
    # = 3.79, LCL = 0.07; the process is in control.
    x = [10, 12, 8, 14, 10, 16, 11, 7, 10, 15, 9, 5, 7, 11, 12, 6, 8, 10, 7, 5]
    u = spc.u_chart(x, [5] * 20)
    assert u.centre[0] == pytest.approx(1.93)
    assert u.ucl[0] == pytest.approx(3.79, abs=5e-3) and u.lcl[0] == pytest.approx(0.07, abs=5e-3)
    assert evaluate(u, "nelson", enabled={1}) == []
    varying = spc.u_chart(x, [5] * 10 + [10] * 10)  # limits per point follow each sample's size
    assert varying.ucl[0] > varying.ucl[15]
