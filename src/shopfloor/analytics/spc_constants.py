"""Control chart constants: the published table for subgroup sizes 2..25, computed values beyond it.

For n independent standard normal observations (D. C. Montgomery, "Introduction to Statistical Quality
Control", 7th ed., Wiley 2013, sections 6.2 and 6.3 and Appendix VI; ASTM E2587, "Standard Practice for Use of
Control Charts in Statistical Process Control", Table 1):

* d2 = E[R]   = integral_0^inf P(R > w) dw                                     (mean of the relative range)
* d3 = sd[R]  with E[R^2] = 2 integral_0^inf w P(R > w) dw,
               P(R <= w) = n integral phi(x) (Phi(x + w) - Phi(x))^(n-1) dx    (H. O. Hartley 1942; Tippett 1925)
* c4 = sqrt(2 / (n - 1)) * Gamma(n / 2) / Gamma((n - 1) / 2)                  (mean of s / sigma)
* A2 = 3 / (d2 sqrt(n)),  D3 = max(0, 1 - 3 d3 / d2),  D4 = 1 + 3 d3 / d2
* A3 = 3 / (c4 sqrt(n)),  B3 = max(0, 1 - 3 sqrt(1 - c4^2) / c4),  B4 = 1 + 3 sqrt(1 - c4^2) / c4

For n = 2..25 the factors are the published table values (``TABLE``, as printed in Montgomery's Appendix VI and
ASTM E2587), which is what handbook and textbook results are computed with: the tables derive D3, D4 and A2 from the
rounded d2 and d3, so a few entries differ from the exact value in the last digit (D4 for n = 3 is printed 2.574,
exactly 2.5746).  Beyond the table (n = 26..100) the constants are computed from the definitions above and rounded
the same way (d2, d3 and the factors to 3 decimals, c4 to 4).  The range integrals are taken over the range w
rather than over the two extremes, so both integrands are smooth: the trapezoidal rule on a 0.01 grid in x and
200-point Gauss-Legendre quadrature in w give d2 and d3 to about 1e-11 (d2 for n = 2 is 2 / sqrt(pi) to 1e-12; the
published d2 and d3 are reproduced to every printed digit but the table's d3 for n = 2 and 19, exactly 0.85250 and
0.73348, printed 0.853 and 0.734; ``tests/analytics/test_spc.py``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cache

import numpy as np

N_MIN, N_TABLE_MAX, N_MAX = 2, 25, 100

# n: (d2, d3, c4, A2, A3, B3, B4, D3, D4) -- Montgomery, ISQC 7th ed., Appendix VI; ASTM E2587 Table 1.
TABLE: dict[int, tuple[float, ...]] = {
    2: (1.128, 0.853, 0.7979, 1.880, 2.659, 0.000, 3.267, 0.000, 3.267),
    3: (1.693, 0.888, 0.8862, 1.023, 1.954, 0.000, 2.568, 0.000, 2.574),
    4: (2.059, 0.880, 0.9213, 0.729, 1.628, 0.000, 2.266, 0.000, 2.282),
    5: (2.326, 0.864, 0.9400, 0.577, 1.427, 0.000, 2.089, 0.000, 2.114),
    6: (2.534, 0.848, 0.9515, 0.483, 1.287, 0.030, 1.970, 0.000, 2.004),
    7: (2.704, 0.833, 0.9594, 0.419, 1.182, 0.118, 1.882, 0.076, 1.924),
    8: (2.847, 0.820, 0.9650, 0.373, 1.099, 0.185, 1.815, 0.136, 1.864),
    9: (2.970, 0.808, 0.9693, 0.337, 1.032, 0.239, 1.761, 0.184, 1.816),
    10: (3.078, 0.797, 0.9727, 0.308, 0.975, 0.284, 1.716, 0.223, 1.777),
    11: (3.173, 0.787, 0.9754, 0.285, 0.927, 0.321, 1.679, 0.256, 1.744),
    12: (3.258, 0.778, 0.9776, 0.266, 0.886, 0.354, 1.646, 0.283, 1.717),
    13: (3.336, 0.770, 0.9794, 0.249, 0.850, 0.382, 1.618, 0.307, 1.693),
    14: (3.407, 0.763, 0.9810, 0.235, 0.817, 0.406, 1.594, 0.328, 1.672),
    15: (3.472, 0.756, 0.9823, 0.223, 0.789, 0.428, 1.572, 0.347, 1.653),
    16: (3.532, 0.750, 0.9835, 0.212, 0.763, 0.448, 1.552, 0.363, 1.637),
    17: (3.588, 0.744, 0.9845, 0.203, 0.739, 0.466, 1.534, 0.378, 1.622),
    18: (3.640, 0.739, 0.9854, 0.194, 0.718, 0.482, 1.518, 0.391, 1.608),
    19: (3.689, 0.734, 0.9862, 0.187, 0.698, 0.497, 1.503, 0.403, 1.597),
    20: (3.735, 0.729, 0.9869, 0.180, 0.680, 0.510, 1.490, 0.415, 1.585),
    21: (3.778, 0.724, 0.9876, 0.173, 0.663, 0.523, 1.477, 0.425, 1.575),
    22: (3.819, 0.720, 0.9882, 0.167, 0.647, 0.534, 1.466, 0.434, 1.566),
    23: (3.858, 0.716, 0.9887, 0.162, 0.633, 0.545, 1.455, 0.443, 1.557),
    24: (3.895, 0.712, 0.9892, 0.157, 0.619, 0.555, 1.445, 0.451, 1.548),
    25: (3.931, 0.708, 0.9896, 0.153, 0.606, 0.565, 1.435, 0.459, 1.541),
}
FACTORS = ("d2", "d3", "c4", "A2", "A3", "B3", "B4", "D3", "D4")

_STEP = 0.01
_X = np.arange(-9.0, 9.0 + _STEP / 2, _STEP)  # where phi(x) > 1e-18
# Gauss-Legendre nodes and weights on [0, 16]: the range of up to 100 normals stays well below 16 sigma.
_NODES, _WEIGHTS = np.polynomial.legendre.leggauss(200)
_W, _W_WEIGHTS = 8.0 * (_NODES + 1.0), 8.0 * _WEIGHTS


@dataclass(frozen=True)
class Constants:
    """The constants of one subgroup size as charts use them (the published table where it exists), with the
    unrounded values ``d2_exact``, ``d3_exact``, ``c4_exact`` computed from the definitions."""

    n: int
    d2: float
    d3: float
    c4: float
    A2: float
    A3: float
    B3: float
    B4: float
    D3: float
    D4: float
    d2_exact: float
    d3_exact: float
    c4_exact: float
    published: bool


def range_moments(n: int) -> tuple[float, float]:
    """(d2, d3): mean and standard deviation of the range of n standard normal observations."""
    from scipy.special import ndtr  # noqa: PLC0415 -- 0.3 s to import; only sizes beyond the table need it

    pdf = np.exp(-0.5 * _X * _X) / math.sqrt(2.0 * math.pi)
    cdf = ndtr(_X)
    # P(R <= w) for every w of the grid: n * integral phi(x) (Phi(x + w) - Phi(x))^(n-1) dx.
    inside = ndtr(_X[None, :] + _W[:, None]) - cdf[None, :]
    below = n * np.trapezoid(pdf[None, :] * inside ** (n - 1), dx=_STEP, axis=1)
    above = np.clip(1.0 - below, 0.0, 1.0)
    d2 = float(np.sum(_W_WEIGHTS * above))
    er2 = 2.0 * float(np.sum(_W_WEIGHTS * _W * above))
    return d2, math.sqrt(max(er2 - d2 * d2, 0.0))


def c4_exact(n: int) -> float:
    return math.sqrt(2.0 / (n - 1)) * math.exp(math.lgamma(n / 2) - math.lgamma((n - 1) / 2))


@cache
def constants(n: int) -> Constants:
    if not N_MIN <= n <= N_MAX:
        raise ValueError(f"subgroup size {n} is outside {N_MIN}..{N_MAX}, the sizes charts have constants for")
    d2, d3 = range_moments(n)
    c4 = c4_exact(n)
    if n in TABLE:
        return Constants(n, *TABLE[n], d2_exact=d2, d3_exact=d3, c4_exact=c4, published=True)
    spread = 3.0 * math.sqrt(1.0 - c4 * c4) / c4
    return Constants(
        n,
        d2=round(d2, 3),
        d3=round(d3, 3),
        c4=round(c4, 4),
        A2=round(3.0 / (d2 * math.sqrt(n)), 3),
        A3=round(3.0 / (c4 * math.sqrt(n)), 3),
        B3=round(max(0.0, 1.0 - spread), 3),
        B4=round(1.0 + spread, 3),
        D3=round(max(0.0, 1.0 - 3.0 * d3 / d2), 3),
        D4=round(1.0 + 3.0 * d3 / d2, 3),
        d2_exact=d2,
        d3_exact=d3,
        c4_exact=c4,
        published=False,
    )
