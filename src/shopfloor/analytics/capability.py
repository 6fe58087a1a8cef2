"""Process capability: Cp, Cpk (within-subgroup sigma), Pp, Ppk (overall sigma), Cpm (with a target), their
confidence intervals, expected PPM out of specification, a normality check, the percentile (ISO 22514-2) and
Box-Cox methods for characteristics that are not normal, and a histogram against the specification limits.

Montgomery, "Introduction to Statistical Quality Control", 7th ed., sections 8.3.1-8.3.5; NIST/SEMATECH e-Handbook
section 6.1.6 (https://www.itl.nist.gov/div898/handbook/pmc/section1/pmc16.htm):
  Cp = (USL - LSL) / 6 sigma_within;  Cpu = (USL - mu) / 3 sigma;  Cpl = (mu - LSL) / 3 sigma;  Cpk = min
  Pp, Ppu, Ppl, Ppk: the same with the overall sample standard deviation s.
  Cpm = (USL - LSL) / (6 sqrt(sigma_within^2 + (mu - T)^2)) = Cp / sqrt(1 + ((mu - T) / sigma_within)^2)
  (Montgomery 8.3.4; Chan, Cheng and Spiring 1988; the R package qcc computes it so).
  Expected PPM below LSL = Phi((LSL - mu) / sigma) 1e6, above USL = (1 - Phi((USL - mu) / sigma)) 1e6.
Confidence intervals (level 1 - alpha, Montgomery 8.3.5, the same formulas as qcc and SAS/QC PROC CAPABILITY):
  Cp (and Pp):   C sqrt(chi2_(alpha/2, n-1) / (n - 1)) .. C sqrt(chi2_(1-alpha/2, n-1) / (n - 1))  (lower quantiles)
  Cpk (and Ppk): C (1 -+ z_(1-alpha/2) sqrt(1 / (9 n C^2) + 1 / (2 (n - 1))))  (Bissell 1990)
  with n the number of values the index is computed from.
Normality: the Anderson-Darling statistic A^2 with the small-sample adjustment A*^2 = A^2 (1 + 0.75/n +
2.25/n^2) and its p-value approximation (R. B. D'Agostino and M. A. Stephens, "Goodness-of-Fit Techniques",
Marcel Dekker 1986).
Not normal (``method``):
  percentile (ISO 22514-2:2017, section 6.2 "quantile method", and ISO 21747): with the 0.135 %, 50 % and 99.865 %
    quantiles X_l, X_50, X_u of a distribution fitted to the data (lognormal by maximum likelihood when all values
    are positive, else the normal):
      Pp = (USL - LSL) / (X_u - X_l);  Ppu = (USL - X_50) / (X_u - X_50);  Ppl = (X_50 - LSL) / (X_50 - X_l)
  boxcox (G. E. P. Box and D. R. Cox 1964; Minitab's "Box-Cox transformation" in capability analysis): the values
    and the limits are transformed with y = (x^lambda - 1) / lambda (ln x for lambda = 0), lambda by maximum
    likelihood, and the normal indices computed on the transformed scale (the transformation keeps the order of
    the limits).
  The answer says which method and distribution it used, and on which set of values (``basis``).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from statistics import NormalDist

import numpy as np

METHODS = ("normal", "percentile", "boxcox")
_STANDARD = NormalDist()
_Q_LOW, _Q_HIGH = 0.00135, 0.99865


def phi(z: float) -> float:
    return _STANDARD.cdf(z)


@dataclass(frozen=True)
class Capability:
    n: int
    mean: float
    sigma_within: float | None
    sigma_overall: float
    cp: float | None
    cpu: float | None
    cpl: float | None
    cpk: float | None
    pp: float | None
    ppu: float | None
    ppl: float | None
    ppk: float | None
    ppm_below_within: float | None
    ppm_above_within: float | None
    ppm_total_within: float | None
    ppm_below_overall: float | None
    ppm_above_overall: float | None
    ppm_total_overall: float | None
    anderson_darling: float | None
    normality_p: float | None
    histogram: dict
    target: float | None = None
    cpm: float | None = None
    confidence: float = 0.95
    intervals: dict = field(default_factory=dict)
    method: str = "normal"
    distribution: str = "normal"
    transform_lambda: float | None = None
    basis: str | None = None

    def to_dict(self) -> dict:
        return asdict(self)


def anderson_darling(values: np.ndarray) -> tuple[float, float]:
    """A*^2 (adjusted) and its p-value for normality with mean and sd estimated."""
    from scipy import stats  # loaded when a statistic is computed: most processes never need it

    x = np.sort(np.asarray(values, dtype=float))
    n = len(x)
    sd = x.std(ddof=1)
    if n < 8 or sd == 0:
        raise ValueError("the normality check needs at least 8 values that are not all equal")
    cdf = np.clip(stats.norm.cdf((x - x.mean()) / sd), 1e-15, 1 - 1e-15)
    i = np.arange(1, n + 1)
    a2 = -n - np.sum((2 * i - 1) * (np.log(cdf) + np.log(1 - cdf[::-1]))) / n
    a = a2 * (1 + 0.75 / n + 2.25 / n**2)
    if a >= 0.6:
        p = math.exp(1.2937 - 5.709 * a + 0.0186 * a * a)
    elif a >= 0.34:
        p = math.exp(0.9177 - 4.279 * a - 1.38 * a * a)
    elif a >= 0.2:
        p = 1 - math.exp(-8.318 + 42.796 * a - 59.938 * a * a)
    else:
        p = 1 - math.exp(-13.436 + 101.14 * a - 223.73 * a * a)
    return float(a), float(min(max(p, 0.0), 1.0))


def _indices(usl: float | None, lsl: float | None, mu: float, s: float | None):
    if not s:
        return None, None, None, None
    up = (usl - mu) / (3 * s) if usl is not None else None
    lo = (mu - lsl) / (3 * s) if lsl is not None else None
    both = (usl - lsl) / (6 * s) if usl is not None and lsl is not None else None
    k = min(v for v in (up, lo) if v is not None)
    return both, up, lo, k


def _ratio_interval(value: float | None, n: int, confidence: float) -> list[float] | None:
    """Chi-squared interval of Cp or Pp (Montgomery eq. 8.19)."""
    from scipy import stats  # loaded when a statistic is computed: most processes never need it

    if value is None or n < 2:
        return None
    alpha = 1 - confidence
    dof = n - 1
    return [
        value * math.sqrt(stats.chi2.ppf(alpha / 2, dof) / dof),
        value * math.sqrt(stats.chi2.ppf(1 - alpha / 2, dof) / dof),
    ]


def _bissell_interval(value: float | None, n: int, confidence: float) -> list[float] | None:
    """Normal approximation interval of Cpk or Ppk (Bissell 1990; Montgomery eq. 8.20)."""
    if value is None or n < 2 or value == 0:
        return None
    z = _STANDARD.inv_cdf(1 - (1 - confidence) / 2)
    half = z * math.sqrt(1 / (9 * n * value * value) + 1 / (2 * (n - 1)))
    return [value * (1 - half), value * (1 + half)]


def boxcox_lambda(x: np.ndarray) -> float:
    """The Box-Cox lambda that maximises the normal log-likelihood of the transformed values."""
    from scipy import stats  # loaded when a statistic is computed: most processes never need it

    return float(stats.boxcox_normmax(x, method="mle"))


def _boxcox(values: np.ndarray | float, lam: float) -> np.ndarray | float:
    return np.log(values) if abs(lam) < 1e-12 else (np.power(values, lam) - 1) / lam


def capability(
    values,
    usl: float | None = None,
    lsl: float | None = None,
    sigma_within: float | None = None,
    bins: int = 20,
    target: float | None = None,
    confidence: float = 0.95,
    method: str = "normal",
    basis: str | None = None,
) -> Capability:
    """Indices of ``values`` against the limits; ``basis`` says which values these are (it is reported back)."""
    x = np.asarray(values, dtype=float)
    if len(x) < 2 or not np.isfinite(x).all():
        raise ValueError("capability needs at least two numeric values")
    if usl is None and lsl is None:
        raise ValueError("give at least one specification limit (usl or lsl)")
    if usl is not None and lsl is not None and usl <= lsl:
        raise ValueError(f"usl {usl} must be above lsl {lsl}")
    if method not in METHODS:
        raise ValueError(f"capability method {method!r}: expected {', '.join(METHODS)}")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must lie between 0 and 1, not {confidence!r}")
    n = len(x)
    mu, so = float(x.mean()), float(x.std(ddof=1))
    if not (math.isfinite(mu) and math.isfinite(so)):
        raise ValueError("the values are too large to compute capability from")
    distribution, lam = "normal", None

    def ppm(s: float | None, centre: float = mu):
        if not s:
            return None, None, None
        below = phi((lsl - centre) / s) * 1e6 if lsl is not None else 0.0
        above = (1 - phi((usl - centre) / s)) * 1e6 if usl is not None else 0.0
        return below, above, below + above

    cp, cpu, cpl, cpk = _indices(usl, lsl, mu, sigma_within)
    pp, ppu, ppl, ppk = _indices(usl, lsl, mu, so)
    bw, aw, tw = ppm(sigma_within)
    bo, ao, to = ppm(so)
    if method == "percentile":
        from scipy import stats  # loaded when a statistic is computed: most processes never need it

        # Quantiles of a fitted distribution (ISO 22514-2 quantile method); the within indices need a normal model.
        if (x > 0).all():
            shape, _, scale = stats.lognorm.fit(x, floc=0)
            dist = stats.lognorm(shape, loc=0, scale=scale)
            distribution = "lognormal"
        else:
            dist = stats.norm(mu, so)
        q_lo, q_50, q_hi = (float(v) for v in dist.ppf([_Q_LOW, 0.5, _Q_HIGH]))
        ppu = (usl - q_50) / (q_hi - q_50) if usl is not None else None
        ppl = (q_50 - lsl) / (q_50 - q_lo) if lsl is not None else None
        pp = (usl - lsl) / (q_hi - q_lo) if usl is not None and lsl is not None else None
        ppk = min(v for v in (ppu, ppl) if v is not None)
        bo = float(dist.cdf(lsl)) * 1e6 if lsl is not None else 0.0
        ao = float(dist.sf(usl)) * 1e6 if usl is not None else 0.0
        to = bo + ao
        cp = cpu = cpl = cpk = bw = aw = tw = None
    elif method == "boxcox":
        if not (x > 0).all() or (lsl is not None and lsl <= 0) or (usl is not None and usl <= 0):
            raise ValueError("the Box-Cox method needs values and specification limits above 0")
        lam = boxcox_lambda(x)
        y = _boxcox(x, lam)
        # (x^lambda - 1) / lambda increases with x for every lambda, so the limits keep their order.
        t_usl, t_lsl = (float(_boxcox(v, lam)) if v is not None else None for v in (usl, lsl))
        t_mu, t_so = float(y.mean()), float(y.std(ddof=1))
        pp, ppu, ppl, ppk = _indices(t_usl, t_lsl, t_mu, t_so)
        bo = phi((t_lsl - t_mu) / t_so) * 1e6 if t_lsl is not None else 0.0
        ao = (1 - phi((t_usl - t_mu) / t_so)) * 1e6 if t_usl is not None else 0.0
        to = bo + ao
        cp = cpu = cpl = cpk = bw = aw = tw = None
        distribution = "normal after Box-Cox"
    cpm = None
    if target is not None and usl is not None and lsl is not None and sigma_within:
        cpm = (usl - lsl) / (6 * math.sqrt(sigma_within**2 + (mu - target) ** 2))
    intervals = {
        "cp": _ratio_interval(cp, n, confidence),
        "cpk": _bissell_interval(cpk, n, confidence),
        "pp": _ratio_interval(pp, n, confidence) if method == "normal" else None,
        "ppk": _bissell_interval(ppk, n, confidence) if method == "normal" else None,
    }
    try:
        ad, p = anderson_darling(x)
    except ValueError:
        ad, p = None, None
    lo_edge = min(float(x.min()), lsl if lsl is not None else float(x.min()))
    hi_edge = max(float(x.max()), usl if usl is not None else float(x.max()))
    counts, edges = np.histogram(x, bins=bins, range=(lo_edge, hi_edge) if hi_edge > lo_edge else None)
    hist = {"edges": [float(e) for e in edges], "counts": [int(c) for c in counts], "usl": usl, "lsl": lsl}
    return Capability(
        n, mu, sigma_within, so, cp, cpu, cpl, cpk, pp, ppu, ppl, ppk, bw, aw, tw, bo, ao, to, ad, p, hist,
        target=target, cpm=cpm, confidence=confidence, intervals=intervals, method=method,
        distribution=distribution, transform_lambda=lam, basis=basis,
    )  # fmt: skip
