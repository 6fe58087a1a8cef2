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

Distribution functions:
  Standard normal: Phi(z) = erfc(-z / sqrt 2) / 2.  Quantile: P. J. Acklam's rational approximation (relative error
  below 1.15e-9) refined by one Halley step, e = Phi(x) - p, u = e sqrt(2 pi) exp(x^2 / 2), x <- x - u / (1 + x u / 2).
  Student's t with nu > 0 degrees of freedom (real nu allowed): for t >= 0 the upper tail is
    P(T > t) = I_x(nu/2, 1/2) / 2,  x = nu / (nu + t^2),  and F(-t) = 1 - F(t)
  (Abramowitz & Stegun, "Handbook of Mathematical Functions", section 26.7; I_x as in NIST DLMF section 8.17,
  https://dlmf.nist.gov/8.17).  The regularized incomplete beta is the continued fraction (DLMF 8.17.22)
    I_x(a, b) = x^a (1-x)^b / (a B(a, b)) * 1 / (1 + d1 / (1 + d2 / (1 + ...))),
    d_{2m} = m (b - m) x / ((a + 2m - 1)(a + 2m)),  d_{2m+1} = -(a + m)(a + b + m) x / ((a + 2m)(a + 2m + 1)),
  evaluated by the modified Lentz method (W. H. Press et al., "Numerical Recipes", 3rd ed., sections 5.2 and 6.4);
  for x > (a+1)/(a+b+2) the symmetry I_x(a, b) = 1 - I_{1-x}(b, a) is used, with 1 - x = t^2/(nu + t^2) formed
  directly.  ln B(a, b) comes from Stirling's series lnGamma(x) = (x - 1/2) ln x - x + ln sqrt(2 pi) + delta(x),
  delta(x) = 1/(12x) - 1/(360x^3) + 1/(1260x^5) - 1/(1680x^7) + 1/(1188x^9) for arguments >= 10, so that large nu
  loses no digits to cancelling log-gamma values.  The t quantile solves the tail equation by Newton steps on the t
  density, safeguarded by bisection inside a bracket that always contains the root.  nu = inf (in practice
  nu > 1e10, where the two differ by less than 1e-10) gives the normal distribution.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Sequence
from decimal import Decimal

import numpy as np

_SQRT2 = math.sqrt(2.0)
_SQRT2PI = math.sqrt(2.0 * math.pi)
_LN_SQRT2PI = 0.5 * math.log(2.0 * math.pi)
_FPMIN = 1e-300
_EPS = 1e-15
_CF_MAX_ITERATIONS = 100_000
_DF_NORMAL_LIMIT = 1e10

# P. J. Acklam, "An algorithm for computing the inverse normal cumulative distribution function".
_A = (
    -3.969683028665376e01,
    2.209460984245205e02,
    -2.759285104469687e02,
    1.383577518672690e02,
    -3.066479806614716e01,
    2.506628277459239e00,
)
_B = (-5.447609879822406e01, 1.615858368580409e02, -1.556989798598866e02, 6.680131188771972e01, -1.328068155288572e01)
_C = (
    -7.784894002430293e-03,
    -3.223964580411365e-01,
    -2.400758277161838e00,
    -2.549732539343734e00,
    4.374664141464968e00,
    2.938163982698783e00,
)
_D = (7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e00, 3.754408661907416e00)
_P_LOW = 0.02425


# --------------------------------------------------------------------------------------------------- distributions


def normal_cdf(z: float) -> float:
    """Phi(z) for the standard normal distribution."""
    return 0.5 * math.erfc(-z / _SQRT2)


def _normal_upper_tail(z: float) -> float:
    return 0.5 * math.erfc(z / _SQRT2)


def normal_quantile(p: float) -> float:
    """Phi^-1(p) for 0 < p < 1."""
    if not 0.0 < p < 1.0:
        raise ValueError(f"p must lie strictly between 0 and 1, got {p!r}")
    if p < _P_LOW:
        q = math.sqrt(-2.0 * math.log(p))
        x = (((((_C[0] * q + _C[1]) * q + _C[2]) * q + _C[3]) * q + _C[4]) * q + _C[5]) / (
            (((_D[0] * q + _D[1]) * q + _D[2]) * q + _D[3]) * q + 1.0
        )
    elif p <= 1.0 - _P_LOW:
        q = p - 0.5
        r = q * q
        x = (
            (((((_A[0] * r + _A[1]) * r + _A[2]) * r + _A[3]) * r + _A[4]) * r + _A[5])
            * q
            / (((((_B[0] * r + _B[1]) * r + _B[2]) * r + _B[3]) * r + _B[4]) * r + 1.0)
        )
    else:
        q = math.sqrt(-2.0 * math.log1p(-p))
        x = -(((((_C[0] * q + _C[1]) * q + _C[2]) * q + _C[3]) * q + _C[4]) * q + _C[5]) / (
            (((_D[0] * q + _D[1]) * q + _D[2]) * q + _D[3]) * q + 1.0
        )
    # One Halley step; the residual is taken in the smaller tail so that it keeps its precision.
    e = normal_cdf(x) - p if p <= 0.5 else (1.0 - p) - _normal_upper_tail(x)
    u = e * _SQRT2PI * math.exp(0.5 * x * x)
    return x - u / (1.0 + 0.5 * x * u)


def _betacf(a: float, b: float, x: float) -> float:
    """Continued fraction of I_x(a, b) (DLMF 8.17.22) by the modified Lentz method."""
    qab, qap, qam = a + b, a + 1.0, a - 1.0
    c = 1.0
    d = 1.0 - qab * x / qap
    d = 1.0 / (d if abs(d) >= _FPMIN else _FPMIN)
    h = d
    for m in range(1, _CF_MAX_ITERATIONS + 1):
        m2 = 2 * m
        aa = m * (b - m) * x / ((qam + m2) * (a + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) >= _FPMIN else _FPMIN)
        c = 1.0 + aa / c
        c = c if abs(c) >= _FPMIN else _FPMIN
        h *= d * c
        aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) >= _FPMIN else _FPMIN)
        c = 1.0 + aa / c
        c = c if abs(c) >= _FPMIN else _FPMIN
        delta = d * c
        h *= delta
        if abs(delta - 1.0) < _EPS:
            return h
    raise ArithmeticError(f"incomplete beta continued fraction did not converge (a={a}, b={b}, x={x})")


def _lgamma_correction(x: float) -> float:
    """delta(x) = ln Gamma(x) - ((x - 1/2) ln x - x + ln sqrt(2 pi)) for x >= 10 (Stirling series)."""
    r = 1.0 / (x * x)
    return (1.0 / 12.0 - r * (1.0 / 360.0 - r * (1.0 / 1260.0 - r * (1.0 / 1680.0 - r / 1188.0)))) / x


def _log_beta(a: float, b: float) -> float:
    """ln B(a, b), arranged so that large arguments lose no precision to cancelling log-gamma values."""
    p, q = min(a, b), max(a, b)
    if p >= 10.0:
        corr = _lgamma_correction(p) + _lgamma_correction(q) - _lgamma_correction(p + q)
        return (
            -0.5 * math.log(q) + _LN_SQRT2PI + corr + (p - 0.5) * math.log(p / (p + q)) + q * math.log1p(-p / (p + q))
        )
    if q >= 10.0:
        corr = _lgamma_correction(q) - _lgamma_correction(p + q)
        return math.lgamma(p) + corr + p - p * math.log(p + q) + (q - 0.5) * math.log1p(-p / (p + q))
    return math.lgamma(p) + math.lgamma(q) - math.lgamma(p + q)


def _betainc(a: float, b: float, x: float, y: float, log_x: float | None = None, log_y: float | None = None) -> float:
    """I_x(a, b) with y = 1 - x (and optionally ln x, ln y) supplied by the caller at full precision."""
    if y <= 0.0:
        return 1.0
    if x <= 0.0 and (log_x is None or math.isinf(log_x)):  # with a finite ln x, an underflowed x is still usable
        return 0.0
    log_x = math.log(x) if log_x is None else log_x
    log_y = math.log(y) if log_y is None else log_y
    log_front = a * log_x + b * log_y - _log_beta(a, b)
    if x < (a + 1.0) / (a + b + 2.0):
        return math.exp(log_front) * _betacf(a, b, x) / a
    return 1.0 - math.exp(log_front) * _betacf(b, a, y) / b


def regularized_incomplete_beta(x: float, a: float, b: float) -> float:
    """I_x(a, b) for 0 <= x <= 1 and a, b > 0."""
    if not (a > 0.0 and b > 0.0):
        raise ValueError(f"a and b must be positive, got a={a!r}, b={b!r}")
    if not 0.0 <= x <= 1.0:
        raise ValueError(f"x must lie in [0, 1], got {x!r}")
    return _betainc(a, b, x, 1.0 - x)


def _check_df(df: float) -> float:
    df = float(df)
    if not df > 0.0:  # also refuses NaN
        raise ValueError(f"degrees of freedom must be positive, got {df!r}")
    return df


def _t_upper_tail(t: float, df: float) -> float:
    """P(T > t) for t >= 0."""
    if df > _DF_NORMAL_LIMIT:
        return _normal_upper_tail(t)
    if math.isinf(t):
        return 0.0
    r = t * t / df
    if r == 0.0:
        return 0.5
    if math.isinf(r):  # t^2 overflows: x = nu / t^2 is still representable
        x = (df / t) / t
        return 0.5 * _betainc(0.5 * df, 0.5, x, 1.0 - x, math.log(df) - 2.0 * math.log(t), math.log1p(-x))
    log1p_r = math.log1p(r)
    return 0.5 * _betainc(0.5 * df, 0.5, 1.0 / (1.0 + r), r / (1.0 + r), -log1p_r, math.log(r) - log1p_r)


def t_cdf(t: float, df: float) -> float:
    """P(T <= t) for Student's t with df > 0 degrees of freedom (df may be real, or math.inf)."""
    df = _check_df(df)
    if math.isnan(t):
        raise ValueError("t must not be NaN")
    return 1.0 - _t_upper_tail(t, df) if t >= 0.0 else _t_upper_tail(-t, df)


def _t_pdf(t: float, df: float) -> float:
    if df > _DF_NORMAL_LIMIT:
        return math.exp(-0.5 * t * t) / _SQRT2PI
    log_c = -_log_beta(0.5 * df, 0.5) - 0.5 * math.log(df)
    return math.exp(log_c - 0.5 * (df + 1.0) * math.log1p(t * t / df))


def t_quantile(p: float, df: float) -> float:
    """The t with P(T <= t) = p, for 0 < p < 1 and df > 0 degrees of freedom (df may be real, or math.inf).

    Raises ArithmeticError when that t lies beyond the floating-point range (p within about 1e-300 of 0 or 1 with
    df below 1).
    """
    df = _check_df(df)
    if not 0.0 < p < 1.0:
        raise ValueError(f"p must lie strictly between 0 and 1, got {p!r}")
    if p == 0.5:
        return 0.0
    if df > _DF_NORMAL_LIMIT:
        return normal_quantile(p)
    q = min(p, 1.0 - p)  # solve P(T > t) = q for t > 0, then restore the sign
    lo, hi = 0.0, max(1.0, -normal_quantile(q))
    while _t_upper_tail(hi, df) > q:
        lo, hi = hi, 2.0 * hi
        if math.isinf(hi):
            raise ArithmeticError(f"t quantile out of floating-point range (p={p}, df={df})")
    t = 0.5 * (lo + hi)
    for _ in range(200):
        g = _t_upper_tail(t, df) - q
        if g == 0.0:
            break
        if g > 0.0:
            lo = t
        else:
            hi = t
        density = _t_pdf(t, df)
        candidate = t + g / density if density > 0.0 else math.nan
        if not lo < candidate < hi:
            candidate = 0.5 * (lo + hi)
        if abs(candidate - t) <= 1e-15 * max(1.0, abs(t)) or hi - lo <= 1e-15 * hi:
            t = candidate
            break
        t = candidate
    return t if p > 0.5 else -t


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
        p_value=min(1.0, 2.0 * _t_upper_tail(abs(t_stat), df)),
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
    p_value = min(1.0, 2.0 * _normal_upper_tail(abs(z)))
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
