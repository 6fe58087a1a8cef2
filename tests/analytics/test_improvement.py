"""Before/after KPI comparison: the distribution functions against published tables, Welch's comparison of daily
values and the two-proportion comparison of defect rates against published worked examples, and the invariants the
formulas imply.  Each test names its source; the data are inline and the tolerances follow the precision printed."""

from __future__ import annotations

import math
from decimal import Decimal

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from shopfloor.analytics.improvement import (
    compare,
    mean_difference,
    normal_cdf,
    normal_quantile,
    proportion_difference,
    t_cdf,
    t_quantile,
)


def _numbers(text: str) -> list[float]:
    return [float(v) for v in text.split()]


# --------------------------------------------------------------------------------------------- Student's t table

# NIST/SEMATECH e-Handbook of Statistical Methods, section 1.3.6.7.2 "Critical Values of the Student's t
# Distribution", https://www.itl.nist.gov/div898/handbook/eda/section3/eda3672.htm: t_{p, nu} for the probability p
# below the critical value, printed to 3 decimals.
NIST_T_COLUMNS = (0.90, 0.95, 0.975, 0.99, 0.995, 0.999)
NIST_T_ROWS = {
    1: (3.078, 6.314, 12.706, 31.821, 63.657, 318.309),
    2: (1.886, 2.920, 4.303, 6.965, 9.925, 22.327),
    3: (1.638, 2.353, 3.182, 4.541, 5.841, 10.215),
    4: (1.533, 2.132, 2.776, 3.747, 4.604, 7.173),
    5: (1.476, 2.015, 2.571, 3.365, 4.032, 5.893),
}
NIST_T_TWO_SIDED = {10: (2.228, 3.169), 30: (2.042, 2.750), 100: (1.984, 2.626), math.inf: (1.960, 2.576)}


@pytest.mark.parametrize(
    "df, p, expected",
    [(df, p, v) for df, row in NIST_T_ROWS.items() for p, v in zip(NIST_T_COLUMNS, row)]
    + [(df, p, v) for df, pair in NIST_T_TWO_SIDED.items() for p, v in zip((0.975, 0.995), pair)],
)
def test_t_quantile_matches_nist_table(df, p, expected):
    assert t_quantile(p, df) == pytest.approx(expected, abs=5e-4)
    assert t_quantile(1.0 - p, df) == pytest.approx(-expected, abs=5e-4)


def test_t_quantiles_of_nist_auto83b_example():
    # NIST/SEMATECH e-Handbook section 1.3.5.3 "Two-Sample t-Test for Equal Means"
    # (https://www.itl.nist.gov/div898/handbook/eda/section3/eda353.htm): with nu = 326, the two-sided critical value
    # t_{1-0.05/2, 326} = 1.9673 and the one-sided one 1.6495.
    assert t_quantile(0.975, 326) == pytest.approx(1.9673, abs=5e-5)
    assert t_quantile(0.95, 326) == pytest.approx(1.6495, abs=5e-5)


def test_t_quantile_non_integer_df_matches_nag_examples():
    # NAG Library Manual, Mark 30.3, example results of g01tbc (nag_stat_inv_cdf_students_t_vector),
    # https://support.nag.com/numeric/nl/nagdoc_30.3/examples/baseresults/g01tbce.r.html:
    # two-tail significance 0.010 at df 20 -> 2.8453; lower tail 0.010 at df 7.5 -> -2.9431;
    # two-tail confidence 0.990 at df 45 -> 2.6896.
    assert t_quantile(0.995, 20) == pytest.approx(2.8453, abs=5e-5)
    assert t_quantile(0.010, 7.5) == pytest.approx(-2.9431, abs=5e-5)
    assert t_quantile(0.995, 45) == pytest.approx(2.6896, abs=5e-5)


def test_t_cdf_matches_nag_example():
    # NAG C Library, example results of g01ebc (nag_prob_students_t),
    # https://support.nag.com/numeric/cl/nagdoc_cl26.2/examples/baseresults/g01ebce.r.html: t = 0.850, df = 20:
    # lower tail 0.7973, two-tail significance 0.4054, two-tail confidence 0.5946, upper tail 0.2027.
    lower = t_cdf(0.85, 20)
    assert lower == pytest.approx(0.7973, abs=5e-5)
    assert 1.0 - lower == pytest.approx(0.2027, abs=5e-5)
    assert 2.0 * (1.0 - lower) == pytest.approx(0.4054, abs=5e-5)
    assert 1.0 - 2.0 * (1.0 - lower) == pytest.approx(0.5946, abs=5e-5)
    assert t_cdf(-0.85, 20) == pytest.approx(1.0 - lower, abs=1e-15)


@settings(max_examples=200, deadline=None)
@given(st.floats(min_value=-1e6, max_value=1e6, allow_nan=False))
def test_t_cdf_closed_forms_for_one_and_two_degrees_of_freedom(t):
    # nu = 1 is the Cauchy distribution, F(t) = 1/2 + atan(t)/pi; nu = 2 has F(t) = 1/2 + t / (2 sqrt(2 + t^2)).
    assert t_cdf(t, 1) == pytest.approx(0.5 + math.atan(t) / math.pi, rel=1e-12, abs=1e-15)
    assert t_cdf(t, 2) == pytest.approx(0.5 + t / (2.0 * math.sqrt(2.0 + t * t)), rel=1e-12, abs=1e-15)


@settings(max_examples=200, deadline=None)
@given(st.floats(min_value=1e-12, max_value=1.0 - 1e-12))
def test_t_quantile_closed_forms_for_one_and_two_degrees_of_freedom(p):
    # Inverting the closed forms above: nu = 1 gives tan(pi (p - 1/2)) = -1 / tan(pi p) = 1 / tan(pi (1 - p)),
    # nu = 2 gives (2p - 1) / sqrt(2 p (1 - p)).
    cauchy = -1.0 / math.tan(math.pi * p) if p < 0.5 else 1.0 / math.tan(math.pi * (1.0 - p))
    assert t_quantile(p, 1) == pytest.approx(cauchy, rel=1e-9, abs=1e-12)
    assert t_quantile(p, 2) == pytest.approx((2 * p - 1) / math.sqrt(2 * p * (1 - p)), rel=1e-9, abs=1e-12)


def test_t_functions_far_in_the_tails():
    # For nu = 1 the lower tail is atan(1/|t|)/pi, which is 1/(pi |t|) to double precision once |t| > 1e8.
    assert t_quantile(1e-300, 1) == pytest.approx(-1.0 / (math.pi * 1e-300), rel=1e-12)
    assert t_cdf(-1e300, 1) == pytest.approx(1.0 / (math.pi * 1e300), rel=1e-12)
    assert t_cdf(-1e-300, 1) == 0.5 and t_cdf(1e-300, 1) == 0.5
    with pytest.raises(ArithmeticError):
        t_quantile(1e-300, 0.5)


@settings(max_examples=300, deadline=None)
@given(
    st.floats(min_value=1e-10, max_value=1.0 - 1e-10),
    st.floats(min_value=0.5, max_value=1e6),
)
def test_t_quantile_inverts_t_cdf(p, df):
    t = t_quantile(p, df)
    tail = t_cdf(t, df) if p <= 0.5 else 1.0 - t_cdf(t, df)
    assert tail == pytest.approx(min(p, 1.0 - p), rel=1e-8, abs=1e-15)


def test_t_approaches_the_normal_distribution_for_large_df():
    assert t_quantile(0.975, 1e12) == pytest.approx(normal_quantile(0.975), abs=1e-10)
    assert t_cdf(1.5, 1e12) == pytest.approx(normal_cdf(1.5), abs=1e-12)
    assert t_quantile(0.975, 1e6) > t_quantile(0.975, 1e7) > normal_quantile(0.975)


def test_t_functions_refuse_bad_arguments():
    for bad_df in (0, -1, math.nan):
        with pytest.raises(ValueError):
            t_cdf(1.0, bad_df)
        with pytest.raises(ValueError):
            t_quantile(0.9, bad_df)
    for bad_p in (0.0, 1.0, -0.1, 1.5, math.nan):
        with pytest.raises(ValueError):
            t_quantile(bad_p, 5)
        with pytest.raises(ValueError):
            normal_quantile(bad_p)
    with pytest.raises(ValueError):
        t_cdf(math.nan, 5)
    assert t_cdf(math.inf, 3) == 1.0 and t_cdf(-math.inf, 3) == 0.0 and t_quantile(0.5, 3) == 0.0


# ------------------------------------------------------------------------------------------------ standard normal


def test_normal_quantiles_match_published_values():
    # R. A. Fisher, "Statistical Methods for Research Workers" (1925), Table 1: 1.959964; the value to 20 decimals,
    # 1.95996 39845 40054 23552, as quoted by Wikipedia, "97.5th percentile point",
    # https://en.wikipedia.org/wiki/97.5th_percentile_point
    assert normal_quantile(0.975) == pytest.approx(1.959964, abs=5e-7)
    assert normal_quantile(0.975) == pytest.approx(1.95996398454005423552, abs=1e-14)
    assert normal_quantile(0.025) == pytest.approx(-1.95996398454005423552, abs=1e-14)
    # OEIS A329283, "Decimal expansion of the quantile z_0.995 of the standard normal distribution",
    # https://oeis.org/A329283: 2.5758293035489007609785767486...
    assert normal_quantile(0.995) == pytest.approx(2.575829, abs=5e-7)
    assert normal_quantile(0.995) == pytest.approx(2.5758293035489007609785767486, abs=1e-14)
    assert normal_quantile(0.005) == pytest.approx(-2.5758293035489007609785767486, abs=1e-14)
    assert normal_cdf(1.95996398454005423552) == pytest.approx(0.975, abs=1e-15)
    assert normal_quantile(0.5) == 0.0


@settings(max_examples=300, deadline=None)
@given(st.floats(min_value=1e-300, max_value=1.0 - 1e-12))
def test_normal_quantile_inverts_normal_cdf(p):
    assert normal_cdf(normal_quantile(p)) == pytest.approx(p, rel=1e-12, abs=1e-15)


# ------------------------------------------------------------------------------------- Welch: published examples

# R's "sleep" data (Cushny and Peebles 1905, via Student 1908): extra hours of sleep under drug 1 and drug 2.
# R Core Team, R source src/library/datasets/data/sleep.R (datasets documentation:
# https://stat.ethz.ch/R-manual/R-devel/library/datasets/html/sleep.html).
SLEEP_GROUP_1 = _numbers("0.7 -1.6 -0.2 -1.2 -0.1 3.4 3.7 0.8 0.0 2.0")
SLEEP_GROUP_2 = _numbers("1.9 0.8 1.1 0.1 -0.1 4.4 5.5 1.6 4.6 3.4")


def test_welch_matches_r_t_test_on_the_sleep_data():
    # R's printed output of t.test(extra ~ group, data = sleep) (Welch, estimates group 1 - group 2), as reproduced in
    # A. Gasparini, rsimsum vignette "Custom input values for confidence intervals and true values" (GitHub
    # ellessenne/rsimsum, vignettes/E-custom-inputs.Rmd; https://ellessenne.github.io/rsimsum/articles/E-custom-inputs.html):
    # t = -1.8608, df = 17.776, p-value = 0.07939, 95 percent CI -3.3654832 0.2054832, means 0.75 and 2.33.
    # With "before" = group 2 and "after" = group 1, after - before is R's group 1 - group 2.
    r = mean_difference(SLEEP_GROUP_2, SLEEP_GROUP_1)
    assert r["mean_after"] == pytest.approx(0.75, abs=5e-3) and r["mean_before"] == pytest.approx(2.33, abs=5e-3)
    assert r["difference"] == pytest.approx(0.75 - 2.33, abs=1e-12)
    assert r["t_statistic"] == pytest.approx(-1.8608, abs=5e-5)
    assert r["df"] == pytest.approx(17.776, abs=5e-4)
    assert r["p_value"] == pytest.approx(0.07939, abs=5e-6)
    assert r["ci_low"] == pytest.approx(-3.3654832, abs=5e-8)
    assert r["ci_high"] == pytest.approx(0.2054832, abs=5e-8)
    assert r["significant"] is False and r["note"] is None
    assert r["n_before"] == r["n_after"] == 10


def test_welch_p_values_in_r_t_test_documentation():
    # R Core Team, stats package, t.test help page examples (src/library/stats/man/t.test.Rd,
    # https://stat.ethz.ch/R-manual/R-devel/library/stats/html/t.test.html), Welch by default:
    # t.test(1:10, y = c(7:20))       # P = .00001855
    # t.test(1:10, y = c(7:20, 200))  # P = .1245    -- NOT significant anymore
    x = [float(v) for v in range(1, 11)]
    r = mean_difference([float(v) for v in range(7, 21)], x)
    assert r["p_value"] == pytest.approx(0.00001855, abs=5e-9)
    assert r["significant"] is True and r["difference"] == pytest.approx(5.5 - 13.5)
    r = mean_difference([float(v) for v in range(7, 21)] + [200.0], x)
    assert r["p_value"] == pytest.approx(0.1245, abs=5e-5)
    assert r["significant"] is False


# NIST/SEMATECH e-Handbook data set AUTO83B.DAT (https://www.itl.nist.gov/div898/handbook/datasets/AUTO83B.DAT):
# miles per gallon of 249 U.S. cars and of 79 Japanese cars (the file pads the Japanese column with -999).
AUTO83B_US = _numbers(
    """
    18 15 18 16 17 15 14 14 14 15 15 14 15 14 22 18 21 21 10 10 11 9 28 25 19 16 17 19 18 14 14 14 14 12 13 13 18 22
    19 18 23 26 25 20 21 13 14 15 14 17 11 13 12 13 15 13 13 14 22 28 13 14 13 14 15 12 13 13 14 13 12 13 18 16 18
    18 23 11 12 13 12 18 21 19 21 15 16 15 11 20 21 19 15 26 25 16 16 18 16 13 14 14 14 28 19 18 15 15 16 15 16 14
    17 16 15 18 21 20 13 23 20 23 18 19 25 26 18 16 16 15 22 22 24 23 29 25 20 18 19 18 27 13 17 13 13 13 30 26 18
    17 16 15 18 21 19 19 16 16 16 16 25 26 31 34 36 20 19 20 19 21 20 25 21 19 21 21 19 18 19 18 18 18 30 31 23 24
    22 20 22 20 21 17 18 17 18 17 16 19 19 36 27 23 24 34 35 28 29 27 34 32 28 26 24 19 28 24 27 27 26 24 30 39 35
    34 30 22 27 20 18 28 27 34 31 29 27 24 23 38 36 25 38 26 22 36 27 27 32 28 31
    """
)
AUTO83B_JAPAN = _numbers(
    """
    24 27 27 25 31 35 24 19 28 23 27 20 22 18 20 31 32 31 32 24 26 29 24 24 33 33 32 28 19 32 34 26 30 22 22 33 39
    36 28 27 21 24 30 34 32 38 37 30 31 37 32 47 41 45 34 33 24 32 39 35 32 37 38 34 34 32 33 32 25 24 37 31 36 36
    34 38 32 38 32
    """
)


def test_welch_on_nist_auto83b_example():
    # NIST/SEMATECH e-Handbook section 1.3.5.3 "Two-Sample t-Test for Equal Means"
    # (https://www.itl.nist.gov/div898/handbook/eda/section3/eda353.htm) prints for sample 1 (U.S.): n = 249,
    # mean 20.14458, sd 6.41470, SE of the mean 0.40652; sample 2 (Japan): n = 79, mean 30.48101, sd 6.10771,
    # SE 0.68717; for equal variances T = -12.62059 with pooled sd 6.34260 and nu = 326.  The page gives
    # nu = (s1^2/N1 + s2^2/N2)^2 / ((s1^2/N1)^2/(N1-1) + (s2^2/N2)^2/(N2-1)) for unequal variances; from the printed
    # summary statistics that is nu = 136.875, and T = (30.48101 - 20.14458) / sqrt(s1^2/N1 + s2^2/N2) = 12.9463.
    r = mean_difference(AUTO83B_US, AUTO83B_JAPAN)
    n1, n2 = r["n_before"], r["n_after"]
    m1, m2, s1, s2 = r["mean_before"], r["mean_after"], r["sd_before"], r["sd_after"]
    assert (n1, n2) == (249, 79)
    assert m1 == pytest.approx(20.14458, abs=5e-6) and m2 == pytest.approx(30.48101, abs=5e-6)
    assert s1 == pytest.approx(6.41470, abs=5e-6) and s2 == pytest.approx(6.10771, abs=5e-6)
    assert s1 / math.sqrt(n1) == pytest.approx(0.40652, abs=5e-6)
    assert s2 / math.sqrt(n2) == pytest.approx(0.68717, abs=5e-6)
    sp = math.sqrt(((n1 - 1) * s1**2 + (n2 - 1) * s2**2) / (n1 + n2 - 2))
    assert sp == pytest.approx(6.34260, abs=5e-6)
    assert (m1 - m2) / (sp * math.sqrt(1 / n1 + 1 / n2)) == pytest.approx(-12.62059, abs=5e-6)

    v1, v2 = 6.41470**2 / 249, 6.10771**2 / 79
    nu_printed = (v1 + v2) ** 2 / (v1**2 / 248 + v2**2 / 78)
    assert nu_printed == pytest.approx(136.875, abs=5e-4)
    assert r["df"] == pytest.approx(nu_printed, abs=1e-3)
    assert r["t_statistic"] == pytest.approx((30.48101 - 20.14458) / math.sqrt(v1 + v2), abs=1e-4)
    assert r["t_statistic"] == pytest.approx(12.9463, abs=5e-5)
    assert r["p_value"] < 1e-20 and r["significant"] is True
    half = t_quantile(0.975, r["df"]) * r["std_error"]
    assert r["ci_low"] == pytest.approx(r["difference"] - half) and r["ci_high"] == pytest.approx(
        r["difference"] + half
    )
    assert r["relative_change_pct"] == pytest.approx((m2 - m1) / m1 * 100)


# ---------------------------------------------------------------------------------------- Welch: invariants


def _sample(size: int):
    return st.lists(st.integers(min_value=-10_000, max_value=10_000).map(lambda v: v / 100), min_size=2, max_size=size)


@settings(max_examples=150, deadline=None)
@given(_sample(30), _sample(30))
def test_welch_swap_negates_difference_and_t(before, after):
    assume(len(set(before)) > 1 or len(set(after)) > 1)
    r = mean_difference(before, after)
    s = mean_difference(after, before)
    assert s["difference"] == pytest.approx(-r["difference"], abs=1e-12)
    assert s["t_statistic"] == pytest.approx(-r["t_statistic"], rel=1e-12, abs=1e-12)
    assert s["df"] == pytest.approx(r["df"], rel=1e-12)
    assert s["p_value"] == pytest.approx(r["p_value"], rel=1e-9, abs=1e-15)
    assert s["ci_low"] == pytest.approx(-r["ci_high"], rel=1e-9, abs=1e-9)
    assert s["significant"] == r["significant"]


@settings(max_examples=150, deadline=None)
@given(
    _sample(25),
    _sample(25),
    st.integers(min_value=-1000, max_value=1000),
    st.floats(min_value=0.01, max_value=100.0),
)
def test_welch_is_invariant_to_shift_and_scale(before, after, shift, scale):
    assume(len(set(before)) > 1 or len(set(after)) > 1)
    r = mean_difference(before, after)
    shifted = mean_difference([v + shift for v in before], [v + shift for v in after])
    assert shifted["t_statistic"] == pytest.approx(r["t_statistic"], rel=1e-6, abs=1e-6)
    assert shifted["df"] == pytest.approx(r["df"], rel=1e-6)
    scaled = mean_difference([v * scale for v in before], [v * scale for v in after])
    assert scaled["difference"] == pytest.approx(r["difference"] * scale, rel=1e-9, abs=1e-9)
    assert scaled["std_error"] == pytest.approx(r["std_error"] * scale, rel=1e-9)
    assert scaled["t_statistic"] == pytest.approx(r["t_statistic"], rel=1e-9, abs=1e-9)


def test_welch_interval_touches_zero_at_confidence_one_minus_p():
    # Test and interval use the same SE and nu, so at confidence 1 - p one end of the interval is 0.
    p = mean_difference(SLEEP_GROUP_2, SLEEP_GROUP_1)["p_value"]
    r = mean_difference(SLEEP_GROUP_2, SLEEP_GROUP_1, confidence=1.0 - p)
    assert r["ci_high"] == pytest.approx(0.0, abs=1e-9)
    wider = mean_difference(SLEEP_GROUP_2, SLEEP_GROUP_1, confidence=0.99)
    assert wider["ci_low"] < -3.3654832 and wider["ci_high"] > 0.2054832


# --------------------------------------------------------------------------------------- Welch: edge cases


def test_welch_with_fewer_than_two_values_gives_the_difference_only():
    r = mean_difference([5.0], [6.0, 7.0])
    assert r["difference"] == 1.5 and r["relative_change_pct"] == pytest.approx(30.0)
    assert r["ci_low"] is None and r["ci_high"] is None and r["significant"] is None
    assert r["t_statistic"] is None and r["p_value"] is None and r["df"] is None
    assert r["sd_before"] is None and r["sd_after"] == pytest.approx(math.sqrt(0.5))
    assert "before" in r["note"]
    assert "after" in mean_difference([1.0, 2.0], [3.0])["note"]
    empty = mean_difference([], [1.0, 2.0])
    assert empty["mean_before"] is None and empty["difference"] is None and empty["relative_change_pct"] is None
    assert empty["mean_after"] == 1.5 and empty["significant"] is None and "before" in empty["note"]


def test_welch_with_no_spread_in_either_period():
    r = mean_difference([3.0, 3.0, 3.0], [4.0, 4.0])
    assert r["std_error"] == 0.0 and r["ci_low"] == r["ci_high"] == 1.0
    assert r["significant"] is True and r["note"] and r["t_statistic"] is None
    same = mean_difference([0.1, 0.1, 0.1], [0.1, 0.1, 0.1, 0.1])
    assert same["difference"] == 0.0 and same["significant"] is False
    one_constant = mean_difference([2.0, 2.0, 2.0], [1.0, 2.0, 3.0])
    assert one_constant["df"] == pytest.approx(2.0) and one_constant["note"] is None


def test_welch_refuses_nan_infinite_and_empty_input():
    with pytest.raises(ValueError, match="before"):
        mean_difference([1.0, math.nan], [1.0, 2.0])
    with pytest.raises(ValueError, match="after"):
        mean_difference([1.0, 2.0], [1.0, np.nan])
    with pytest.raises(ValueError, match="infinite"):
        mean_difference([1.0, math.inf], [1.0, 2.0])
    with pytest.raises(ValueError, match="numbers"):
        mean_difference(["x", 1.0], [1.0, 2.0])
    with pytest.raises(ValueError, match="before"):
        mean_difference([1.0, None], [1.0, 2.0])
    with pytest.raises(ValueError, match="one-dimensional"):
        mean_difference([[1.0, 2.0]], [1.0, 2.0])
    with pytest.raises(ValueError, match="confidence"):
        mean_difference([1.0, 2.0], [1.0, 2.0], confidence=1.0)


def test_relative_change_is_none_when_the_baseline_mean_is_zero():
    assert mean_difference([-1.0, 1.0], [2.0, 3.0])["relative_change_pct"] is None


# ------------------------------------------------------------------------------ two proportions: published examples


def test_two_proportions_match_penn_state_minitab_example():
    # Penn State Eberly College of Science, STAT 200 "Elementary Statistics", Lesson 9.1.2.2 "Minitab: Hypothesis
    # Test for 2 Proportions" (https://online.stat.psu.edu/stat200/lesson/9/9.1/9.1.2/9.1.2.2), Minitab output with
    # the pooled estimate for the test: Female 56 of 127 (Sample p 0.440945), Male 62 of 99 (0.626263);
    # difference p1 - p2 = -0.185318, 95% CI for difference (-0.313920, -0.056716) (normal approximation);
    # Z-Value -2.77, P-Value 0.006.  "before" = males and "after" = females makes after - before equal p1 - p2.
    r = proportion_difference(62, 99, 56, 127)
    assert r["rate_after"] == pytest.approx(0.440945, abs=5e-7)
    assert r["rate_before"] == pytest.approx(0.626263, abs=5e-7)
    assert r["difference"] == pytest.approx(-0.185318, abs=5e-7)
    assert r["ci_low"] == pytest.approx(-0.313920, abs=5e-7)
    assert r["ci_high"] == pytest.approx(-0.056716, abs=5e-7)
    assert r["z_statistic"] == pytest.approx(-2.77, abs=5e-3)
    assert r["p_value"] == pytest.approx(0.006, abs=5e-4)
    assert r["significant"] is True
    # The same lesson's section 9.1.1.1 (https://online.stat.psu.edu/stat200/lesson/9/9.1/9.1.1/9.1.1.1) shows
    # Minitab's default test with separate estimates of p: Z-Value -2.82, i.e. the difference over the unpooled SE.
    assert r["difference"] / r["std_error"] == pytest.approx(-2.82, abs=5e-3)


def test_two_proportions_match_sjsu_statprimer_key():
    # B. Burt Gerstman, San Jose State University, StatPrimer "Comparing two proportions", key to exercise 9B.16
    # "Drug testing student athletes" (http://www.sjsu.edu/faculty/gerstman/StatPrimer/two-proportions-key-even.htm):
    # p1 = 5/95 = 0.05263, p2 = 12/62 = 0.1935, zstat = 2.78 (magnitude).
    r = proportion_difference(12, 62, 5, 95)
    assert r["rate_after"] == pytest.approx(0.05263, abs=5e-6)
    assert r["rate_before"] == pytest.approx(0.1935, abs=5e-5)
    assert abs(r["z_statistic"]) == pytest.approx(2.78, abs=5e-3)
    assert r["z_statistic"] < 0 and r["significant"] is True


# ------------------------------------------------------------------------------------ two proportions: invariants


def _counts():
    return st.integers(min_value=1, max_value=100_000).flatmap(
        lambda n: st.tuples(st.integers(min_value=0, max_value=n), st.just(n))
    )


@settings(max_examples=300, deadline=None)
@given(_counts(), _counts())
def test_two_proportions_swap_negates_difference_and_z(before, after):
    r = proportion_difference(before[0], before[1], after[0], after[1])
    s = proportion_difference(after[0], after[1], before[0], before[1])
    assert s["difference"] == pytest.approx(-r["difference"], abs=1e-15)
    assert s["ci_low"] == pytest.approx(-r["ci_high"], abs=1e-12)
    if r["z_statistic"] is None:
        assert s["z_statistic"] is None and r["difference"] == 0.0
    else:
        assert s["z_statistic"] == pytest.approx(-r["z_statistic"], rel=1e-12, abs=1e-12)
        assert s["p_value"] == pytest.approx(r["p_value"], rel=1e-9, abs=1e-300)
    assert s["significant"] == r["significant"]


@settings(max_examples=300, deadline=None)
@given(_counts(), _counts(), st.integers(min_value=2, max_value=1000))
def test_two_proportions_scaling_counts_keeps_rates_and_scales_z_by_sqrt_k(before, after, k):
    r = proportion_difference(before[0], before[1], after[0], after[1])
    s = proportion_difference(k * before[0], k * before[1], k * after[0], k * after[1])
    assert s["rate_before"] == pytest.approx(r["rate_before"], rel=1e-14, abs=0)
    assert s["rate_after"] == pytest.approx(r["rate_after"], rel=1e-14, abs=0)
    assert s["ppm_after"] == pytest.approx(r["ppm_after"], rel=1e-14, abs=0)
    if r["z_statistic"] is not None:
        assert abs(s["z_statistic"]) == pytest.approx(math.sqrt(k) * abs(r["z_statistic"]), rel=1e-9, abs=1e-12)
        assert s["std_error"] == pytest.approx(r["std_error"] / math.sqrt(k), rel=1e-9, abs=1e-15)


@settings(max_examples=200, deadline=None)
@given(_counts(), _counts())
def test_z_squared_is_pearson_chi_squared_of_the_two_by_two_table(before, after):
    # R's prop.test(..., correct = FALSE) reports X-squared, Pearson's statistic for the 2x2 table; it equals z^2.
    r = proportion_difference(before[0], before[1], after[0], after[1])
    assume(r["z_statistic"] is not None)
    observed = np.array([[before[0], before[1] - before[0]], [after[0], after[1] - after[0]]], dtype=float)
    expected = observed.sum(axis=1, keepdims=True) * observed.sum(axis=0, keepdims=True) / observed.sum()
    chi2 = float(((observed - expected) ** 2 / expected).sum())
    assert r["z_statistic"] ** 2 == pytest.approx(chi2, rel=1e-9, abs=1e-12)


# ------------------------------------------------------------------------------------ two proportions: edge cases


def test_two_proportions_report_ppm_and_relative_change():
    r = proportion_difference(150, 10_000, 90, 10_000)
    assert r["ppm_before"] == pytest.approx(15_000) and r["ppm_after"] == pytest.approx(9_000)
    assert r["difference_ppm"] == pytest.approx(-6_000) and r["relative_change_pct"] == pytest.approx(-40.0)
    assert r["pooled_rate"] == pytest.approx(240 / 20_000)
    assert r["significant"] is True and r["ci_high"] < 0


def test_two_proportions_without_defects_in_either_period():
    r = proportion_difference(0, 500, 0, 800)
    assert r["z_statistic"] is None and r["p_value"] is None and r["significant"] is False
    assert r["relative_change_pct"] is None and r["ci_low"] == r["ci_high"] == 0.0
    assert "no defective" in r["note"]
    assert proportion_difference(0, 500, 3, 800)["relative_change_pct"] is None


@pytest.mark.parametrize(
    "args, name",
    [
        ((-1, 10, 0, 10), "defects_before"),
        ((0, -10, 0, 10), "units_before"),
        ((0, 10, -2, 10), "defects_after"),
        ((0, 10, 0, -1), "units_after"),
        ((11, 10, 0, 10), "defects_before"),
        ((0, 10, 12, 10), "defects_after"),
        ((0, 0, 0, 10), "units_before"),
        ((0, 10, 0, 0), "units_after"),
    ],
)
def test_two_proportions_refuse_impossible_counts_naming_the_argument(args, name):
    with pytest.raises(ValueError, match=name):
        proportion_difference(*args)


def test_two_proportions_refuse_non_integer_counts_and_bad_confidence():
    with pytest.raises(TypeError, match="units_after"):
        proportion_difference(1, 10, 1, 10.5)
    with pytest.raises(TypeError, match="defects_before"):
        proportion_difference(True, 10, 1, 10)
    with pytest.raises(ValueError, match="confidence"):
        proportion_difference(1, 10, 1, 10, confidence=0.0)
    with pytest.raises(TypeError, match="defects_after"):
        proportion_difference(1, 10, "1", 10)
    with pytest.raises(TypeError, match="units_before"):
        proportion_difference(1, math.nan, 1, 10)
    assert proportion_difference(np.int64(3), np.int64(10), 1, 10)["defects_before"] == 3
    assert proportion_difference(3.0, Decimal(10), 1, 10)["rate_before"] == 0.3


# ------------------------------------------------------------------------------------------------------ compare


def test_compare_higher_is_better_kpi_improved_and_target():
    r = compare("mpg", AUTO83B_US, AUTO83B_JAPAN, higher_is_better=True, target=30.0)
    assert r["kpi"] == "mpg" and r["improved"] is True and r["verdict"] == "improved"
    assert r["target_met"] is True and r["target"] == 30.0
    assert compare("mpg", AUTO83B_US, AUTO83B_JAPAN, True, target=31.0)["target_met"] is False
    assert compare("mpg", AUTO83B_US, AUTO83B_JAPAN, True)["target_met"] is None


def test_compare_lower_is_better_kpi():
    cycle_before = [61.0, 63.5, 62.2, 64.1, 60.8, 62.9, 63.3]
    cycle_after = [57.9, 58.4, 59.1, 57.2, 58.8, 59.5, 58.0]
    r = compare("cycle_time_s", cycle_before, cycle_after, higher_is_better=False, target=59.0)
    assert r["significant"] is True and r["difference"] < 0
    assert r["improved"] is True and r["verdict"] == "improved" and r["target_met"] is True
    worse = compare("cycle_time_s", cycle_after, cycle_before, higher_is_better=False, target=59.0)
    assert worse["improved"] is False and worse["verdict"] == "worsened" and worse["target_met"] is False
    as_output = compare("output", cycle_before, cycle_after, higher_is_better=True)
    assert as_output["improved"] is False and as_output["verdict"] == "worsened"


def test_compare_not_significant_and_inconclusive():
    r = compare("extra_sleep_h", SLEEP_GROUP_1, SLEEP_GROUP_2, higher_is_better=True)
    assert r["significant"] is False and r["improved"] is False and r["verdict"] == "no significant change"
    one_day = compare("oee_pct", [71.0], [74.0, 75.5], higher_is_better=True, target=74.0)
    assert one_day["improved"] is None and one_day["verdict"] == "inconclusive" and one_day["target_met"] is True
    no_days = compare("oee_pct", [71.0, 72.0], [], higher_is_better=True, target=70.0)
    assert no_days["improved"] is None and no_days["target_met"] is None and no_days["difference"] is None
    flat = compare("scrap_pct", [2.0, 2.0], [1.5, 1.5, 1.5], higher_is_better=False)
    assert flat["improved"] is True and flat["note"]


def test_compare_refuses_bad_kpi_name_and_target():
    with pytest.raises(ValueError, match="kpi"):
        compare(" ", [1.0, 2.0], [1.0, 2.0], True)
    with pytest.raises(ValueError, match="target"):
        compare("oee", [1.0, 2.0], [1.0, 2.0], True, target=math.nan)
