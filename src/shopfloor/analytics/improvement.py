"""Before/after ("baseline" vs "after") comparison of factory KPIs: did an improvement action change the KPI?

Daily KPI values (OEE, availability, cycle time, output, ...) are compared with Welch's two-sample t procedure,
defect rates (defective units out of units produced) with the two-proportion z procedure.  Every difference is
after - before.  Pure Python and NumPy, no I/O; the distribution functions are written here.

Welch's two-sample comparison (B. L. Welch, "The generalization of 'Student's' problem when several different
population variances are involved", Biometrika 34 (1947) 28-35; NIST/SEMATECH e-Handbook of Statistical Methods,
section 1.3.5.3 "Two-Sample t-Test for Equal Means", https://www.itl.nist.gov/div898/handbook/eda/section3/eda353.htm):
  d = mean_a - mean_b;  v_b = s_b^2 / n_b,  v_a = s_a^2 / n_a  (s^2 the sample variance with n - 1)
  SE = sqrt(v_b + v_a);  T = d / SE
  nu = (v_b + v_a)^2 / (v_b^2 / (n_b - 1) + v_a^2 / (n_a - 1))     (Welch-Satterthwaite degrees of freedom)
  two-sided p = 2 P(T_nu > |T|);  CI = d -/+ t_{1-alpha/2, nu} SE with alpha = 1 - confidence
  significant: the CI excludes 0.  Relative change = d / mean_b x 100 (None when mean_b = 0).

Two proportions (NIST/SEMATECH e-Handbook section 7.3.3 "How can we determine whether two processes produce the
same proportion of defectives?", https://www.itl.nist.gov/div898/handbook/prc/section3/prc33.htm; A. Agresti,
"An Introduction to Categorical Data Analysis", section 2.2 for the Wald interval):
  p_b = x_b / n_b,  p_a = x_a / n_a,  pooled p = (x_b + x_a) / (n_b + n_a)
  z = (p_a - p_b) / sqrt(p (1 - p) (1/n_b + 1/n_a));  two-sided p-value = 2 (1 - Phi(|z|))
  Wald (unpooled) CI = (p_a - p_b) -/+ z_{1-alpha/2} sqrt(p_a (1 - p_a) / n_a + p_b (1 - p_b) / n_b)
  significant: p-value < alpha (the test, not the interval, decides; the two can differ at the margin).
  z^2 equals Pearson's chi-squared of the 2x2 table without continuity correction (R's prop.test(correct=FALSE)).

Distribution functions: the standard normal from the standard library (``statistics.NormalDist``), Student's t
(real degrees of freedom) from SciPy: the distribution function through ``scipy.special.betainc`` (Abramowitz &
Stegun 26.7.1, in the form that keeps its digits near 0 and in the tails), the quantile from ``scipy.special.stdtrit``;
checked against the NIST, R and NAG values in the tests.  nu = inf gives the normal distribution.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Sequence
from decimal import Decimal
from statistics import NormalDist

import numpy as np

_STANDARD_NORMAL = NormalDist()
_DF_NORMAL_LIMIT = 1e10


# --------------------------------------------------------------------------------------------------- distributions


def normal_cdf(z: float) -> float:
    """Phi(z) for the standard normal distribution."""
    return _STANDARD_NORMAL.cdf(z)


def normal_quantile(p: float) -> float:
    """Phi^-1(p) for 0 < p < 1."""
    if not 0.0 < p < 1.0:
        raise ValueError(f"p must lie strictly between 0 and 1, got {p!r}")
    return _STANDARD_NORMAL.inv_cdf(p)


def _check_df(df: float) -> float:
    df = float(df)
    if not df > 0.0:  # also refuses NaN
        raise ValueError(f"degrees of freedom must be positive, got {df!r}")
    return df


def t_cdf(t: float, df: float) -> float:
    """P(T <= t) for Student's t with df > 0 degrees of freedom (df may be real, or math.inf)."""
    from scipy.special import betainc, betaln  # noqa: PLC0415 -- 0.3 s to import; only the improvement test needs it

    df = _check_df(df)
    if math.isnan(t):
        raise ValueError("t must not be NaN")
    if df > _DF_NORMAL_LIMIT:
        return normal_cdf(t)
    if math.isinf(t):
        return 1.0 if t > 0 else 0.0
    # Through the regularized incomplete beta function (Abramowitz & Stegun 26.7.1), choosing the form without
    # cancellation: near 0, P(|T| < |t|) = I_x(1/2, nu/2) with x = t^2 / (nu + t^2); in the tails,
    # P(T > |t|) = I_y(nu/2, 1/2) / 2 with y = nu / (nu + t^2).  (scipy.special.stdtr loses digits near 0.)
    # Beyond 1e10 degrees of freedom the t and normal distributions differ by less than 1e-10.
    t = float(t)
    r = t * t / df
    if math.isinf(r) or 1.0 / (1.0 + r) < 1e-290:
        # y = nu / t^2 underflows: the leading term of the series, I_y(a, 1/2) = y^a / (a B(a, 1/2)) (1 + O(y)),
        # in logarithms.
        a_ = 0.5 * df
        log_tail = a_ * (math.log(df) - 2.0 * math.log(abs(t))) - math.log(a_) - float(betaln(a_, 0.5))
        tail = 0.5 * math.exp(log_tail)
        return 1.0 - tail if t > 0 else tail
    central = float(betainc(0.5, 0.5 * df, r / (1.0 + r)))  # P(|T| < |t|)
    if central < 0.5:
        return 0.5 + math.copysign(0.5 * central, t)
    tail = 0.5 * float(betainc(0.5 * df, 0.5, 1.0 / (1.0 + r)))  # P(T > |t|), no cancellation in the tails
    return 1.0 - tail if t > 0 else tail


def t_quantile(p: float, df: float) -> float:
    """The t with P(T <= t) = p, for 0 < p < 1 and df > 0 degrees of freedom (df may be real, or math.inf).

    Raises ArithmeticError when that t lies beyond the floating-point range.
    """
    from scipy.special import stdtrit  # noqa: PLC0415 -- 0.3 s to import; only the improvement test needs it

    df = _check_df(df)
    if not 0.0 < p < 1.0:
        raise ValueError(f"p must lie strictly between 0 and 1, got {p!r}")
    if p == 0.5:
        return 0.0
    if df > _DF_NORMAL_LIMIT:
        return normal_quantile(p)
    t = float(stdtrit(df, p))
    # Where the quantile lies beyond the floating-point range (p within about 1e-300 of 0 or 1 with df below 1),
    # stdtrit answers a finite t whose tail is far from p: checked by putting it back.
    tail = t_cdf(t, df) if p < 0.5 else t_cdf(-t, df)
    if not math.isfinite(t) or abs(tail - min(p, 1.0 - p)) > 1e-6 * min(p, 1.0 - p):
        raise ArithmeticError(f"t quantile out of floating-point range (p={p}, df={df})")
    return t


# ------------------------------------------------------------------------------------------------ comparisons


def _check_confidence(confidence: float) -> float:
    confidence = float(confidence)
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must lie strictly between 0 and 1, got {confidence!r}")
    return confidence


def _values(values: Sequence[float], name: str) -> np.ndarray:
    try:
        x = np.asarray(values, dtype=float)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be a sequence of numbers") from exc
    if x.ndim != 1:
        raise ValueError(f"{name} must be a one-dimensional sequence of numbers")
    if np.isnan(x).any():
        raise ValueError(f"{name} contains NaN")
    if not np.isfinite(x).all():
        raise ValueError(f"{name} contains an infinite value")
    return x


def _constant(x: np.ndarray) -> bool:
    return bool(np.all(x == x[0]))


def _mean(x: np.ndarray) -> float:
    return float(x[0]) if _constant(x) else float(x.mean())


def _variance(x: np.ndarray) -> float:
    return 0.0 if _constant(x) else float(x.var(ddof=1))


def _relative_change_pct(before: float, after: float) -> float | None:
    return None if before == 0 else (after - before) / before * 100.0


def mean_difference(before: Sequence[float], after: Sequence[float], confidence: float = 0.95) -> dict:
    """Welch's two-sample comparison of daily values, after - before.

    Returns n_before, n_after, mean_before, mean_after, sd_before, sd_after, difference, relative_change_pct,
    confidence, std_error, df, t_statistic, p_value, ci_low, ci_high, significant and note (None unless something
    about the data limits the result).  With fewer than 2 values in a period the interval, test and significant are
    None; an empty period also leaves its mean and the difference None.  NaN or infinite values raise ValueError.
    """
    confidence = _check_confidence(confidence)
    xb = _values(before, "before")
    xa = _values(after, "after")
    nb, na = int(xb.size), int(xa.size)
    mean_b = _mean(xb) if nb else None
    mean_a = _mean(xa) if na else None
    difference = None if mean_b is None or mean_a is None else mean_a - mean_b
    result: dict = {
        "n_before": nb,
        "n_after": na,
        "mean_before": mean_b,
        "mean_after": mean_a,
        "sd_before": None,
        "sd_after": None,
        "difference": difference,
        "relative_change_pct": None if difference is None else _relative_change_pct(mean_b, mean_a),
        "confidence": confidence,
        "std_error": None,
        "df": None,
        "t_statistic": None,
        "p_value": None,
        "ci_low": None,
        "ci_high": None,
        "significant": None,
        "note": None,
    }
    if nb < 2 or na < 2:
        short = [name for name, n in (("before", nb), ("after", na)) if n < 2]
        result["sd_before"] = math.sqrt(_variance(xb)) if nb >= 2 else None
        result["sd_after"] = math.sqrt(_variance(xa)) if na >= 2 else None
        result["note"] = (
            f"fewer than 2 values in {' and '.join(short)}: no spread can be estimated, so there is no confidence "
            "interval or test" + ("" if difference is not None else ", and without values no difference either")
        )
        return result
    var_b, var_a = _variance(xb), _variance(xa)
    result["sd_before"], result["sd_after"] = math.sqrt(var_b), math.sqrt(var_a)
    vb, va = var_b / nb, var_a / na
    se = math.sqrt(vb + va)
    result["std_error"] = se
    if se == 0.0:
        result["ci_low"] = result["ci_high"] = difference
        result["significant"] = difference != 0.0
        result["note"] = (
            "every value is the same within each period: the confidence interval is the single point of the "
            "difference and the t test is undefined"
        )
        return result
    df = (vb + va) ** 2 / (vb * vb / (nb - 1) + va * va / (na - 1))
    t_stat = difference / se
    half_width = t_quantile(0.5 + 0.5 * confidence, df) * se
    ci_low, ci_high = difference - half_width, difference + half_width
    result.update(
        df=df,
        t_statistic=t_stat,
        p_value=min(1.0, 2.0 * t_cdf(-abs(t_stat), df)),
        ci_low=ci_low,
        ci_high=ci_high,
        significant=ci_low > 0.0 or ci_high < 0.0,
    )
    return result


def _count(value: int, name: str) -> int:
    """A whole count: an int (or NumPy integer), or a whole float or Decimal such as a database SUM may return."""
    if isinstance(value, bool):
        raise TypeError(f"{name} must be an integer count, got {value!r}")
    if isinstance(value, (float, Decimal, np.floating)):
        if not float(value).is_integer():
            raise TypeError(f"{name} must be an integer count, got {value!r}")
        count = int(value)
    else:
        try:
            count = operator.index(value)
        except TypeError as exc:
            raise TypeError(f"{name} must be an integer count, got {value!r}") from exc
    if count < 0:
        raise ValueError(f"{name} must not be negative, got {count}")
    return count


def proportion_difference(
    defects_before: int, units_before: int, defects_after: int, units_after: int, confidence: float = 0.95
) -> dict:
    """Two-proportion comparison of defect rates, after - before.

    Returns defects_before, units_before, defects_after, units_after, rate_before, rate_after, ppm_before,
    ppm_after, difference, difference_ppm, relative_change_pct, confidence, pooled_rate, std_error_pooled,
    z_statistic, p_value, std_error, ci_low, ci_high, significant and note.
    """
    confidence = _check_confidence(confidence)
    xb = _count(defects_before, "defects_before")
    nb = _count(units_before, "units_before")
    xa = _count(defects_after, "defects_after")
    na = _count(units_after, "units_after")
    if nb == 0:
        raise ValueError("units_before must be positive, got 0")
    if na == 0:
        raise ValueError("units_after must be positive, got 0")
    if xb > nb:
        raise ValueError(f"defects_before ({xb}) exceeds units_before ({nb})")
    if xa > na:
        raise ValueError(f"defects_after ({xa}) exceeds units_after ({na})")
    pb, pa = xb / nb, xa / na
    difference = pa - pb
    pooled = (xb + xa) / (nb + na)
    se_pooled = math.sqrt(pooled * (1.0 - pooled) * (1.0 / nb + 1.0 / na))
    se = math.sqrt(pa * (1.0 - pa) / na + pb * (1.0 - pb) / nb)
    half_width = normal_quantile(0.5 + 0.5 * confidence) * se
    result: dict = {
        "defects_before": xb,
        "units_before": nb,
        "defects_after": xa,
        "units_after": na,
        "rate_before": pb,
        "rate_after": pa,
        "ppm_before": pb * 1e6,
        "ppm_after": pa * 1e6,
        "difference": difference,
        "difference_ppm": difference * 1e6,
        "relative_change_pct": _relative_change_pct(pb, pa),
        "confidence": confidence,
        "pooled_rate": pooled,
        "std_error_pooled": se_pooled,
        "z_statistic": None,
        "p_value": None,
        "std_error": se,
        "ci_low": difference - half_width,
        "ci_high": difference + half_width,
        "significant": False,
        "note": None,
    }
    if se_pooled == 0.0:
        result["note"] = (
            "no defective units in either period" if pooled == 0.0 else "every unit defective in both periods"
        ) + ": the rates are equal and the z test is undefined"
        return result
    z = difference / se_pooled
    p_value = min(1.0, 2.0 * normal_cdf(-abs(z)))
    result.update(z_statistic=z, p_value=p_value, significant=p_value < 1.0 - confidence)
    if se == 0.0:
        result["note"] = "both rates are 0 or 1: the Wald confidence interval collapses to the difference"
    return result


def compare(
    kpi: str,
    before_daily: Sequence[float],
    after_daily: Sequence[float],
    higher_is_better: bool,
    target: float | None = None,
    *,
    confidence: float = 0.95,
) -> dict:
    """Before/after verdict for one KPI from its daily values.

    Returns kpi, higher_is_better, target, the keys of mean_difference, improved (True: significant change in the
    good direction; False: not significant, or significant in the bad direction; None: no test possible), verdict
    ("improved", "worsened", "no significant change" or "inconclusive") and target_met (mean after against the
    target in the good direction; None without a target or without values after).
    """
    if not isinstance(kpi, str) or not kpi.strip():
        raise ValueError("kpi must be a non-empty name")
    if target is not None:
        target = float(target)
        if not math.isfinite(target):
            raise ValueError(f"target must be a finite number, got {target!r}")
    result = {"kpi": kpi, "higher_is_better": bool(higher_is_better), "target": target}
    result.update(mean_difference(before_daily, after_daily, confidence))
    significant, difference = result["significant"], result["difference"]
    if significant is None:
        improved, verdict = None, "inconclusive"
    elif not significant:
        improved, verdict = False, "no significant change"
    else:
        better = difference > 0 if higher_is_better else difference < 0
        improved, verdict = better, "improved" if better else "worsened"
    result["improved"] = improved
    result["verdict"] = verdict
    mean_after = result["mean_after"]
    if target is None or mean_after is None:
        result["target_met"] = None
    else:
        result["target_met"] = mean_after >= target if higher_is_better else mean_after <= target
    return result
