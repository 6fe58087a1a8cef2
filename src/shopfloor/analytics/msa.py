"""Measurement system analysis: a crossed gauge R&R study by the ANOVA method (parts x operators x trials).

AIAG, "Measurement Systems Analysis" reference manual, 4th ed. (2010), chapter III section B "ANOVA method";
D. C. Montgomery, "Introduction to Statistical Quality Control", 7th ed., section 8.7.3; Minitab's "Methods and
formulas for the gage R&R table (crossed, ANOVA)".  With p parts, o operators and r trials, y_ijk:

  SS_part = o r sum_i (ybar_i.. - ybar)^2,  SS_oper = p r sum_j (ybar_.j. - ybar)^2,
  SS_int  = r sum_ij (ybar_ij. - ybar_i.. - ybar_.j. + ybar)^2,  SS_error = sum_ijk (y_ijk - ybar_ij.)^2
  MS = SS / df, df = p-1, o-1, (p-1)(o-1), p o (r-1);  F_int = MS_int / MS_error with its p-value.
  When the interaction is not significant (p-value >= ``alpha_interaction``, 0.05 as in Minitab, or 0.25 as some
  texts prefer) it is pooled into the error: MS_error' = (SS_int + SS_error) / (df_int + df_error), the reduced model.
  Variance components (negative estimates set to 0):
    repeatability (EV^2)   = MS_error
    operator               = (MS_oper - MS_int) / (p r)      [reduced: (MS_oper - MS_error') / (p r)]
    interaction            = (MS_int - MS_error) / r          [reduced: 0]
    reproducibility (AV^2) = operator + interaction;  GRR^2 = EV^2 + AV^2
    part (PV^2)            = (MS_part - MS_int) / (o r)      [reduced: (MS_part - MS_error') / (o r)]
    total (TV^2)           = GRR^2 + PV^2
  %GRR (of total variation) = 100 GRR / TV (standard deviations); %contribution = 100 GRR^2 / TV^2;
  %tolerance = 100 k GRR / (USL - LSL) with k = 6 (the manual's 6 sigma spread; 5.15 in its 3rd edition);
  ndc = floor(1.41 PV / GRR), the number of distinct categories (AIAG: at least 5).
  AIAG acceptance: %GRR under 10 % acceptable, 10-30 % may be acceptable, over 30 % not acceptable.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np


@dataclass(frozen=True)
class GaugeStudy:
    parts: int
    operators: int
    trials: int
    anova: dict
    interaction_pooled: bool
    variance: dict
    std_dev: dict
    percent_study_var: dict
    percent_contribution: dict
    percent_tolerance: dict | None
    ndc: int
    verdict: str

    def to_dict(self) -> dict:
        return asdict(self)


def gauge_rr(
    data, tolerance: float | None = None, alpha_interaction: float = 0.05, study_var: float = 6.0
) -> GaugeStudy:
    """``data[part][operator][trial]`` (a p x o x r array of measurements, every cell with every trial)."""
    from scipy import stats  # loaded when a statistic is computed: most processes never need it

    y = np.asarray(data, dtype=float)
    if y.ndim != 3:
        raise ValueError("a gauge study is measurements[part][operator][trial]: every part by every operator")
    p, o, r = y.shape
    if p < 2 or o < 2 or r < 2:
        raise ValueError(f"a crossed study needs 2 or more parts, operators and trials, not {p} x {o} x {r}")
    if not np.isfinite(y).all():
        raise ValueError("the study holds missing or non-numeric measurements")
    grand = y.mean()
    part_means, oper_means, cell_means = y.mean(axis=(1, 2)), y.mean(axis=(0, 2)), y.mean(axis=2)
    ss_part = o * r * float(((part_means - grand) ** 2).sum())
    ss_oper = p * r * float(((oper_means - grand) ** 2).sum())
    ss_int = r * float(((cell_means - part_means[:, None] - oper_means[None, :] + grand) ** 2).sum())
    ss_err = float(((y - cell_means[..., None]) ** 2).sum())
    df_part, df_oper, df_int, df_err = p - 1, o - 1, (p - 1) * (o - 1), p * o * (r - 1)
    ms_part, ms_oper, ms_int, ms_err = ss_part / df_part, ss_oper / df_oper, ss_int / df_int, ss_err / df_err
    f_int = ms_int / ms_err if ms_err > 0 else math.inf
    p_int = float(stats.f.sf(f_int, df_int, df_err)) if math.isfinite(f_int) else 0.0
    pooled = p_int >= alpha_interaction
    anova = {
        "part": {"df": df_part, "ss": ss_part, "ms": ms_part},
        "operator": {"df": df_oper, "ss": ss_oper, "ms": ms_oper},
        "interaction": {"df": df_int, "ss": ss_int, "ms": ms_int, "f": f_int, "p": p_int},
        "repeatability": {"df": df_err, "ss": ss_err, "ms": ms_err},
        "total": {"df": p * o * r - 1, "ss": ss_part + ss_oper + ss_int + ss_err},
    }
    if pooled:
        ms_e = (ss_int + ss_err) / (df_int + df_err)
        anova["pooled_repeatability"] = {"df": df_int + df_err, "ss": ss_int + ss_err, "ms": ms_e}
        var_oper = max((ms_oper - ms_e) / (p * r), 0.0)
        var_int = 0.0
        var_part = max((ms_part - ms_e) / (o * r), 0.0)
        var_rep = ms_e
    else:
        var_oper = max((ms_oper - ms_int) / (p * r), 0.0)
        var_int = max((ms_int - ms_err) / r, 0.0)
        var_part = max((ms_part - ms_int) / (o * r), 0.0)
        var_rep = ms_err
    var_repro = var_oper + var_int
    var_grr = var_rep + var_repro
    var_total = var_grr + var_part
    variance = {
        "repeatability": var_rep,
        "reproducibility": var_repro,
        "operator": var_oper,
        "interaction": var_int,
        "grr": var_grr,
        "part": var_part,
        "total": var_total,
    }
    sd = {key: math.sqrt(v) for key, v in variance.items()}
    pct_sv = {key: 100 * sd[key] / sd["total"] for key in sd}
    pct_contrib = {key: 100 * variance[key] / var_total for key in variance}
    pct_tol = {key: 100 * study_var * sd[key] / tolerance for key in sd} if tolerance else None
    ndc = int(math.floor(1.41 * sd["part"] / sd["grr"])) if sd["grr"] > 0 else 0
    grr_pct = pct_sv["grr"]
    verdict = "acceptable" if grr_pct < 10 else "may be acceptable" if grr_pct <= 30 else "not acceptable"
    return GaugeStudy(p, o, r, anova, pooled, variance, sd, pct_sv, pct_contrib, pct_tol, ndc, verdict)
