"""The options a quality engineer reaches for, each against published worked examples: unequal subgroup sizes,
known values and nsigmas, exact or asymptotic EWMA limits (an EWMA judged in control), CUSUM's N+ and new mean,
Nelson 8 with points on one side only, revised limits with excluded points, rule sets with parameters, Cpm and
confidence intervals, capability on a stated set, a non-normal capability study and a gauge R&R study."""

from __future__ import annotations

import csv
from statistics import NormalDist

import numpy as np
import pytest

from shopfloor.analytics import spc
from shopfloor.analytics.capability import capability
from shopfloor.analytics.msa import gauge_rr
from shopfloor.analytics.run_rules import evaluate, parse_rules
from shopfloor.analytics.study import control_study
from tests.analytics.test_spc import PISTON_PHASE1, PISTON_PHASE2, _column
from tests.analytics.test_spc_second_sources import CONCENTRATION, QCC_PISTONRINGS, VISCOSITY
from tests.conftest import DATA

# The qcc quick tour's "Variable control limits": observations 9, 10, 30, 35, 45, 64, 65, 74, 75, 85, 99 and 100 of
# the piston-ring diameters (numbered in sample order) removed, leaving 25 phase I subgroups of 3, 4 or 5.
_OUT = {9, 10, 30, 35, 45, 64, 65, 74, 75, 85, 99, 100}


def _unequal_pistonrings() -> list[list[float]]:
    flat = QCC_PISTONRINGS[:25].ravel()
    groups: list[list[float]] = [[] for _ in range(25)]
    for i, v in enumerate(flat, start=1):
        if i not in _OUT:
            groups[(i - 1) // 5].append(float(v))
    return groups


def test_qcc_xbar_chart_with_unequal_subgroup_sizes():
    # L. Scrucca, "A quick tour of qcc" (qcc 3.0, github luca-scr/qcc docs/articles/qcc_a_quick_tour.html),
    # "Variable control limits": sizes 3 (4 subgroups), 4 (4), 5 (17); centre 74.00075, standard deviation 0.009856701
    # (qcc's default UWAVE-R: the unweighted average of R_i / d2(n_i)); limits 73.98753 / 74.01398 for subgroup 1
    # (n = 5)
    # and 73.98368 / 74.01782 for subgroup 2 (n = 3).  The R chart limits follow ASTM E2587: d2(n) sigma +- 3 d3(n)
    # sigma per subgroup.
    groups = _unequal_pistonrings()
    assert sorted({len(g) for g in groups}) == [3, 4, 5] and [len(g) for g in groups].count(5) == 17
    xbar, r = spc.xbar_r(groups)
    assert xbar.centre[0] == pytest.approx(74.00075, abs=1e-5)
    assert xbar.extra["sigma"] == pytest.approx(0.009856701, rel=1e-4)  # qcc's d2 has more decimals than the table
    assert (xbar.lcl[0], xbar.ucl[0]) == pytest.approx((73.98753, 74.01398), abs=5e-5)
    assert (xbar.lcl[1], xbar.ucl[1]) == pytest.approx((73.98368, 74.01782), abs=5e-5)
    assert r.centre[1] == pytest.approx(1.693 * xbar.extra["sigma"]) and r.ucl[0] > r.centre[0] > r.lcl[0] >= 0
    s_chart = spc.xbar_s(groups)[1]
    assert s_chart.ucl[0] != s_chart.ucl[1]  # per-subgroup limits on the S chart too


def test_montgomery_xbar_s_with_variable_sample_size_uses_pooled_s_and_table_factors():
    # Montgomery, ISQC 7th ed., section 6.3.2 (Example 6.4): with variable n the pooled s-bar = sqrt(sum (n_i - 1)
    # s_i^2 / sum (n_i - 1)) and x-double-bar = sum n_i x-bar_i / sum n_i set the limits x-double-bar +- A3(n_i) s-bar
    # and B3(n_i) s-bar .. B4(n_i) s-bar (A3 = 1.427, B4 = 2.089 for n = 5; A3 = 1.954, B4 = 2.568 for n = 3).
    groups = _unequal_pistonrings()
    xbar, s = spc.xbar_s(groups, sigma_method="pooled")
    n = np.array([len(g) for g in groups])
    sds = np.array([np.std(g, ddof=1) for g in groups])
    pooled = np.sqrt(((n - 1) * sds**2).sum() / (n - 1).sum())
    xbb = sum(sum(g) for g in groups) / n.sum()
    assert xbar.centre[0] == pytest.approx(xbb) and s.centre[0] == pytest.approx(pooled)
    assert xbar.ucl[0] - xbb == pytest.approx(1.427 * pooled) and xbar.ucl[1] - xbb == pytest.approx(1.954 * pooled)
    assert s.ucl[0] == pytest.approx(2.089 * pooled) and s.ucl[1] == pytest.approx(2.568 * pooled)


def test_nist_ewma_example_is_judged_in_control_without_run_rules():
    # NIST/SEMATECH e-Handbook 6.3.2.4: target 50, s = 2.0539, lambda = 0.3, asymptotic limits 47.4115 .. 52.5884;
    # "the process is in control" (no EWMA value beyond the limits).  Run rules made for independent points gave
    # nelson3/5/7 verdicts on these autocorrelated values; the study judges an EWMA by its limits only.
    x = _column("nist_ewma_example.csv", "x")
    study = control_study("ewma", values=x, lam=0.3, centre=50.0, sigma=2.0539, ewma_limits="asymptotic")
    chart = study["charts"][0]
    assert study["rules"] == "limits" and chart["violations"] == []
    assert (chart["lcl"], chart["ucl"]) == pytest.approx((47.4115, 52.5884), abs=1e-3)
    assert chart["limits"] == "asymptotic"
    nelson = control_study("ewma", values=x, lam=0.3, centre=50.0, sigma=2.0539, rules="nelson")
    assert nelson["charts"][0]["violations"]  # only when asked


def test_qcc_ewma_of_subgroup_means_with_exact_limits_and_nsigmas():
    # qcc quick tour, "EWMA": ewma(diameter[1:25,], lambda = 0.2, nsigmas = 3) is an EWMA of the subgroup means with
    # sigma 0.009785039 within subgroups; limits [1] 73.99855 74.00380, [25] 73.99680 74.00555.  Second source: the
    # viscosity data with nsigmas = 2.7, [1] 33.29320 33.75346.
    study = control_study("ewma", groups=QCC_PISTONRINGS[:25].tolist(), lam=0.2, nsigmas=3)
    chart = study["charts"][0]
    assert chart["of"] == "subgroup means" and chart["sigma"] == pytest.approx(0.009785039, abs=5e-9)
    assert (chart["lcl"][0], chart["ucl"][0]) == pytest.approx((73.99855, 74.00380), abs=5e-6)
    assert (chart["lcl"][24], chart["ucl"][24]) == pytest.approx((73.99680, 74.00555), abs=5e-6)
    viscosity = control_study("ewma", values=VISCOSITY, lam=0.2, nsigmas=2.7)["charts"][0]
    assert (viscosity["lcl"][0], viscosity["ucl"][0]) == pytest.approx((33.29320, 33.75346), abs=5e-6)


def test_montgomery_cusum_n_plus_and_estimated_new_mean():
    # Montgomery, ISQC 7th ed., Example 9.1 / Table 9.2: mu0 = 10, sigma = 1, k = 0.5, h = 5; C+_29 = 5.28 > H with
    # N+ = 7, so the new mean is estimated as 10 + 0.5 + 5.28 / 7 = 11.25.  Montgomery & Runger, Table 16-8 (k = 1,
    # h = 10 in units of sigma 1): the upper sum is first positive at hour 1 (n_H = 1) and the CUSUM never signals.
    x = [
        9.45, 7.99, 9.29, 11.66, 12.16, 10.18, 8.04, 11.46, 9.20, 10.34, 9.03, 11.47, 10.51, 9.40, 10.08, 9.37, 10.62,
        10.31, 8.52, 10.84, 10.90, 9.33, 12.29, 11.50, 10.60, 11.08, 10.38, 11.62, 11.31, 10.52,
    ]  # fmt: skip
    chart = spc.cusum(x, target=10.0, sigma=1.0, k=0.5, h=5.0)
    assert chart.extra["n_plus"][28] == 7 and chart.extra["new_mean"][28] == pytest.approx(11.25, abs=0.005)
    assert chart.extra["new_mean"][0] is None
    mr = spc.cusum(CONCENTRATION, target=99.0, sigma=1.0, k=1.0, h=10.0)
    assert mr.extra["n_plus"][:2] == [1, 0] and mr.extra["signals"] == []


@pytest.mark.parametrize(
    "values, fires",
    [
        ([1.5, 1.6, 1.2, 2.1, 1.4, 1.8, 1.3, 1.7], False),  # eight beyond 1 sigma, all above: not a mixture
        ([-1.5, -1.6, -1.2, -2.1, -1.4, -1.8, -1.3, -1.7], False),
        ([1.2, -1.3, 1.1, -1.4, 1.5, -1.2, 1.3, -1.1], True),  # qcc test-rules.R NEL8 vector: both sides
        ([1.5, 1.6, 1.2, 2.1, 1.4, 1.8, 1.3, -1.7], True),
    ],
)
def test_nelson_8_needs_points_on_both_sides(values, fires):
    # L. S. Nelson, J. Quality Technology 16(4) 1984, test 8: "eight points in a row on both sides of the centerline
    # with none in zone C" (a mixture); Minitab's test 8, "8 points in a row more than 1 sigma from the center line
    # (either side)", shows the same mixture pattern.  Eight points beyond 1 sigma on one side are test 2's and 6's.
    v = np.asarray(values, dtype=float)
    chart = spc.Chart("i", v, np.zeros(8), np.full(8, 3.0), np.full(8, -3.0), np.ones(8))
    assert bool([x for x in evaluate(chart, "nelson") if x.rule == "nelson8"]) is fires


def test_rule_sets_with_parameters():
    # Nelson (1984) notes the run lengths are choices: Minitab's "Tests" options let each test's K be changed (e.g.
    # test 2 with K = 7, the AIAG SPC manual's "7 points in a row on one side of the centre line").
    seven = np.array([0.5] * 7)
    chart = spc.Chart("i", seven, np.zeros(7), np.full(7, 3.0), np.full(7, -3.0), np.ones(7))
    assert evaluate(chart, "nelson:2") == []
    assert [v.rule for v in evaluate(chart, "nelson:2=7")] == ["nelson2"]
    assert parse_rules("nelson:1,2=7,5=3/4").params[5] == (3, 4)
    assert parse_rules("nelson:1,2=9").spec() == "nelson:1,2"
    for bad in ("westgard", "nelson:9", "nelson:5=3", "we:2=4/3", "nelson:1=4"):
        with pytest.raises(ValueError):
            parse_rules(bad)


def test_revised_limits_with_excluded_points_keep_them_on_the_chart():
    # Montgomery, ISQC 7th ed., Example 7.1 (orange juice cans): samples 15 and 23 have assignable causes; the revised
    # limits without them are p-bar 0.2150, UCL 0.3893, LCL 0.0407 (qcc quick tour: 0.215, 0.04070284, 0.3892972), and
    # both samples stay on the revised chart, sample 15 still above the UCL.
    oj = [12, 15, 8, 10, 4, 7, 16, 9, 14, 10, 5, 6, 17, 12, 22, 8, 10, 5, 13, 11, 20, 18, 24, 15, 9, 12, 7, 13, 9, 6]
    study = control_study("p", values=oj, sizes=[50] * 30, exclude=[14, 22])
    p = study["charts"][0]
    assert len(p["values"]) == 30 and 14 not in p["baseline"] and 22 not in p["baseline"]
    assert (p["centre"], p["lcl"], p["ucl"]) == pytest.approx((0.215, 0.04070284, 0.3892972), abs=5e-8)
    assert {v["index"] for v in p["violations"] if v["rule"] == "nelson1"} >= {14, 22}


def test_known_standard_values_and_nsigmas_for_every_chart_kind():
    # Montgomery, ISQC 7th ed., section 6.2.2 ("Control limits, standard given"): x-bar limits mu +- 3 sigma /
    # sqrt(n) and R chart D2 sigma .. D1 sigma with D1 = d2 - 3 d3, D2 = d2 + 3 d3; qcc's std.dev and nsigmas
    # arguments do the same (quick tour: qcc(..., nsigmas = 3)).  Standard given mu = 74, sigma = 0.01, n = 5:
    # limits 74 +- 0.013416; R chart UCL 4.918 sigma (D2 = 4.918, Montgomery Appendix VI).
    xbar, r = spc.xbar_r([PISTON_PHASE1[i : i + 5] for i in range(0, 125, 5)], centre=74.0, sigma=0.01)
    assert (xbar.ucl[0], xbar.lcl[0]) == pytest.approx((74.0 + 0.577 * 0.02326, 74.0 - 0.577 * 0.02326))
    x2, r2 = spc.xbar_r([PISTON_PHASE1[i : i + 5] for i in range(0, 125, 5)], centre=74.0, sigma=0.01, nsigmas=3.0001)
    assert x2.ucl[0] == pytest.approx(74.0 + 3.0001 * 0.01 / np.sqrt(5))
    assert r2.ucl[0] == pytest.approx((2.326 + 3.0001 * 0.864) * 0.01) and abs(2.326 + 3 * 0.864 - 4.918) < 2e-3
    c = spc.c_chart([3, 5, 4], centre=4.0, nsigmas=2.0)
    assert (c.ucl[0], c.lcl[0]) == (8.0, 0.0)
    p = spc.p_chart([3, 5], [50, 50], centre=0.1)
    assert p.ucl[0] == pytest.approx(0.1 + 3 * np.sqrt(0.1 * 0.9 / 50))
    with pytest.raises(spc.SpcError):
        spc.p_chart([3, 5], [50, 50], centre=1.5)
    i_chart, _ = spc.imr(PISTON_PHASE2[:10], centre=74.0, sigma=0.01, nsigmas=2.5)
    assert i_chart.ucl[0] == pytest.approx(74.025)


def test_qcc_cpm_with_a_target_and_capability_intervals():
    # qcc quick tour, "Process capability analysis": piston rings phase I, sigma 0.009785 (R-bar / d2), specs 73.95 and
    # 74.05, n = 125: Cp 1.703 [1.491, 1.915], Cp_k 1.663 [1.448, 1.878]; with target 74.02, Cpm 0.7856.
    phase1 = QCC_PISTONRINGS[:25]
    sigma = spc.xbar_r(phase1)[0].extra["sigma"]
    cap = capability(phase1.ravel(), usl=74.05, lsl=73.95, sigma_within=sigma, target=74.02)
    assert cap.cpm == pytest.approx(0.7856, abs=2e-4)
    assert cap.intervals["cp"] == pytest.approx([1.4914, 1.9148], abs=5e-5)
    assert cap.intervals["cpk"] == pytest.approx([1.4481, 1.8783], abs=5e-5)


def test_montgomery_confidence_intervals_of_cp_and_cpk():
    # Montgomery, ISQC 7th ed., Example 8.5: n = 20, Cp-hat 2.29 (USL 62, LSL 38, s 1.75), 95% CI 1.57 <= Cp <= 3.01;
    # Example 8.6: n = 20, Cpk-hat 1.33, 95% CI 0.88 <= Cpk <= 1.78 (Bissell's approximation).
    values = np.array([50 - 1.75 * np.sqrt(19 / 20), 50 + 1.75 * np.sqrt(19 / 20)] * 10)  # mean 50, s 1.75
    cap = capability(values, usl=62, lsl=38)
    assert cap.pp == pytest.approx(24 / (6 * 1.75)) and cap.intervals["pp"] == pytest.approx([1.57, 3.01], abs=0.01)
    shifted = capability(values, usl=50 + 3 * 1.33 * 1.75, lsl=0.0)  # Cpk-hat = Cpu-hat = 1.33
    assert shifted.ppk == pytest.approx(1.33)
    assert shifted.intervals["ppk"] == pytest.approx([0.88, 1.78], abs=0.01)


def test_sas_plates_capability_intervals_and_a_non_normal_study():
    # SAS/QC User's Guide, CAPABILITY procedure, Example 5.11 "Computing Capability Indices for Nonnormal
    # Distributions" (data set Plates, 50 plate gaps, LSL 0.3, USL 0.8), Output 5.11.1: Cp 0.237112 [0.190279,
    # 0.283853], CPL 0.316422, CPU 0.157803, Cpk 0.157803 [0.060270, 0.255336] from the sample standard deviation
    # (shopfloor's Pp and Ppk), and "Normality is rejected for alpha = 0.05".  The same example then fits a
    # lognormal distribution: the percentile method (ISO 22514-2) takes the spread from its 0.135 % and 99.865 %
    # quantiles, and says which method and distribution it used.
    with open(DATA / "sas_plates_gap.csv") as fh:
        gap = [float(r["gap"]) for r in csv.DictReader(fh)]
    normal = capability(gap, usl=0.8, lsl=0.3)
    assert (normal.pp, normal.ppl, normal.ppu, normal.ppk) == pytest.approx(
        (0.237112, 0.316422, 0.157803, 0.157803), abs=5e-7
    )
    assert normal.intervals["pp"] == pytest.approx([0.190279, 0.283853], abs=5e-7)
    assert normal.intervals["ppk"] == pytest.approx([0.060270, 0.255336], abs=5e-7)
    assert normal.normality_p < 0.05
    pct = capability(gap, usl=0.8, lsl=0.3, method="percentile")
    assert pct.method == "percentile" and pct.distribution == "lognormal"
    log = np.log(gap)
    mu, s = log.mean(), log.std(ddof=0)  # the lognormal's maximum-likelihood parameters
    z = NormalDist().inv_cdf(0.99865)
    q_lo, q_50, q_hi = np.exp(mu + s * np.array([-z, 0.0, z]))
    assert pct.pp == pytest.approx((0.8 - 0.3) / (q_hi - q_lo), rel=1e-6)
    assert pct.ppu == pytest.approx((0.8 - q_50) / (q_hi - q_50), rel=1e-6)
    assert pct.ppl == pytest.approx((q_50 - 0.3) / (q_50 - q_lo), rel=1e-6)
    boxcox = capability(gap, usl=0.8, lsl=0.3, method="boxcox")
    assert boxcox.method == "boxcox" and boxcox.transform_lambda is not None and -1 < boxcox.transform_lambda < 0.5


def test_capability_is_computed_on_the_phase_one_subgroups_by_default_and_says_so():
    # qcc quick tour: capability of the 25 phase I piston-ring samples, Cp_k 1.663 for specs 73.95-74.05; with the
    # 15 phase II samples charted too, the capability stays that of phase I (it was 1.58 from every point).
    study = control_study("xbar-r", groups=QCC_PISTONRINGS.tolist(), phase1=25, usl=74.05, lsl=73.95)
    cap = study["capability"]
    assert cap["cpk"] == pytest.approx(1.663, abs=5e-4)
    assert cap["basis"]["set"] == "phase1" and cap["basis"]["subgroups"] == 25 and cap["basis"]["values"] == 125
    assert "phase I subgroups 1-25" in cap["basis"]["description"]
    every = control_study(
        "xbar-r", groups=QCC_PISTONRINGS.tolist(), phase1=25, usl=74.05, lsl=73.95, capability_on="all"
    )
    assert every["capability"]["basis"]["values"] == 200 and every["capability"]["cpk"] < cap["cpk"]


def _aiag_study() -> np.ndarray:
    with open(DATA / "aiag_msa4_gauge_rr.csv") as fh:
        rows = list(csv.DictReader(fh))
    y = np.zeros((10, 3, 3))
    for r in rows:
        y[int(r["part"]) - 1, "ABC".index(r["appraiser"]), int(r["trial"]) - 1] = float(r["value"])
    return y


def test_aiag_gauge_rr_by_the_anova_method():
    # AIAG, "Measurement Systems Analysis" 4th ed. (2010), the ANOVA method applied to its example study (10 parts,
    # appraisers A, B, C, 3 trials): ANOVA SS appraiser 3.1673, parts 88.3619, interaction 0.3590, equipment 2.7589,
    # total 94.6471; the interaction is not significant and is pooled; std dev EV 0.199933, AV 0.226838,
    # GRR 0.302373, PV 1.042327, TV 1.085; %GRR 27.86, ndc 4.  The same numbers as reproduced by W. McNeese, "Three
    # Ways to Analyze a Gage R&R Study" (SPC for Excel, 2015): variance components 0.0400 repeatability, 0.0515
    # reproducibility, 0.0914 gage R&R, 1.086 part.
    study = gauge_rr(_aiag_study())
    a = study.anova
    assert (a["operator"]["ss"], a["part"]["ss"]) == pytest.approx((3.1673, 88.3619), abs=5e-5)
    assert (a["interaction"]["ss"], a["repeatability"]["ss"]) == pytest.approx((0.3590, 2.7589), abs=5e-5)
    assert a["total"]["ss"] == pytest.approx(94.6471, abs=5e-5) and study.interaction_pooled
    sd = study.std_dev
    assert (sd["repeatability"], sd["reproducibility"], sd["grr"], sd["part"]) == pytest.approx(
        (0.199933, 0.226838, 0.302373, 1.042327), abs=5e-6
    )
    assert sd["total"] == pytest.approx(1.085, abs=5e-4)
    v = study.variance
    assert (v["repeatability"], v["reproducibility"], v["grr"], v["part"]) == pytest.approx(
        (0.0400, 0.0515, 0.0914, 1.086), abs=5e-4
    )
    assert study.percent_study_var["grr"] == pytest.approx(27.86, abs=5e-3) and study.ndc == 4
    assert study.verdict == "may be acceptable"
    with_tolerance = gauge_rr(_aiag_study(), tolerance=6.0)
    assert with_tolerance.percent_tolerance["grr"] == pytest.approx(100 * 6 * 0.302373 / 6.0, abs=1e-3)
    with pytest.raises(ValueError):
        gauge_rr(_aiag_study()[:, :1, :])
