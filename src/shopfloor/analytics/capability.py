"""Process capability: Cp, Cpk (within-subgroup sigma), Pp, Ppk (overall sigma), expected PPM out of
specification, a normality check and a histogram against the specification limits.

Montgomery, "Introduction to Statistical Quality Control", 7th ed., section 8.3; NIST/SEMATECH e-Handbook
section 6.1.6 (https://www.itl.nist.gov/div898/handbook/pmc/section1/pmc16.htm):
  Cp = (USL - LSL) / 6 sigma_within;  Cpu = (USL - mu) / 3 sigma;  Cpl = (mu - LSL) / 3 sigma;  Cpk = min
  Pp, Ppu, Ppl, Ppk: the same with the overall sample standard deviation.
  Expected PPM below LSL = Phi((LSL - mu) / sigma) 1e6, above USL = (1 - Phi((USL - mu) / sigma)) 1e6.
Normality: the Anderson-Darling statistic A^2 with the small-sample adjustment A*^2 = A^2 (1 + 0.75/n +
2.25/n^2) and its p-value approximation (R. B. D'Agostino and M. A. Stephens, "Goodness-of-Fit Techniques",
Marcel Dekker 1986).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np


def phi(z: float) -> float:
    return 0.5 * (1.0 + math.erf(z / math.sqrt(2.0)))


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

    def to_dict(self) -> dict:
        return asdict(self)


def anderson_darling(values: np.ndarray) -> tuple[float, float]:
    """A*^2 (adjusted) and its p-value for normality with mean and sd estimated."""
    x = np.sort(np.asarray(values, dtype=float))
    n = len(x)
    sd = x.std(ddof=1)
    if n < 8 or sd == 0:
        raise ValueError("the normality check needs at least 8 values that are not all equal")
    cdf = np.array([phi(v) for v in (x - x.mean()) / sd])
    cdf = np.clip(cdf, 1e-15, 1 - 1e-15)
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


def capability(
    values, usl: float | None = None, lsl: float | None = None, sigma_within: float | None = None, bins: int = 20
) -> Capability:
    x = np.asarray(values, dtype=float)
    if len(x) < 2 or not np.isfinite(x).all():
        raise ValueError("capability needs at least two numeric values")
    if usl is None and lsl is None:
        raise ValueError("give at least one specification limit (usl or lsl)")
    if usl is not None and lsl is not None and usl <= lsl:
        raise ValueError(f"usl {usl} must be above lsl {lsl}")
    mu, so = float(x.mean()), float(x.std(ddof=1))

    def indices(s: float | None):
        if not s:
            return None, None, None, None
        up = (usl - mu) / (3 * s) if usl is not None else None
        lo = (mu - lsl) / (3 * s) if lsl is not None else None
        both = (usl - lsl) / (6 * s) if usl is not None and lsl is not None else None
        k = min(v for v in (up, lo) if v is not None)
        return both, up, lo, k

    def ppm(s: float | None):
        if not s:
            return None, None, None
        below = phi((lsl - mu) / s) * 1e6 if lsl is not None else 0.0
        above = (1 - phi((usl - mu) / s)) * 1e6 if usl is not None else 0.0
        return below, above, below + above

    cp, cpu, cpl, cpk = indices(sigma_within)
    pp, ppu, ppl, ppk = indices(so)
    bw, aw, tw = ppm(sigma_within)
    bo, ao, to = ppm(so)
    try:
        ad, p = anderson_darling(x)
    except ValueError:
        ad, p = None, None
    lo_edge = min(float(x.min()), lsl if lsl is not None else float(x.min()))
    hi_edge = max(float(x.max()), usl if usl is not None else float(x.max()))
    counts, edges = np.histogram(x, bins=bins, range=(lo_edge, hi_edge) if hi_edge > lo_edge else None)
    hist = {"edges": [float(e) for e in edges], "counts": [int(c) for c in counts], "usl": usl, "lsl": lsl}
    return Capability(
        len(x), mu, sigma_within, so, cp, cpu, cpl, cpk, pp, ppu, ppl, ppk, bw, aw, tw, bo, ao, to, ad, p, hist
    )
