"""Control chart constants for subgroup sizes 2..25, computed from their definitions.

For n independent standard normal observations (D. C. Montgomery, "Introduction to Statistical Quality
Control", 7th ed., Wiley 2013, sections 6.2 and 6.3 and Appendix VI; ASTM E2587):

* d2 = E[R]   = integral of 1 - Phi(x)^n - (1 - Phi(x))^n dx                 (mean of the relative range)
* d3 = sd[R]  with E[R^2] = 2 * double integral over x < y of
               1 - Phi(y)^n - (1 - Phi(x))^n + (Phi(y) - Phi(x))^n           (Tippett 1925)
* c4 = sqrt(2 / (n - 1)) * Gamma(n / 2) / Gamma((n - 1) / 2)                  (mean of s / sigma)
* A2 = 3 / (d2 sqrt(n)),  D3 = max(0, 1 - 3 d3 / d2),  D4 = 1 + 3 d3 / d2
* A3 = 3 / (c4 sqrt(n)),  B3 = max(0, 1 - 3 sqrt(1 - c4^2) / c4),  B4 = 1 + 3 sqrt(1 - c4^2) / c4
* E2 = 3 / d2 (individuals chart from the moving range of two)

Published tables round these to 3 or 4 decimals; a few table entries differ from the exact values in the last
digit (e.g. D4 for n = 3 is printed 2.574, exactly 2.5746).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cache

import numpy as np

N_MIN, N_MAX = 2, 25


def _phi_grid(points: int) -> tuple[np.ndarray, float]:
    grid = np.linspace(-8.0, 8.0, points)
    return 0.5 * (1.0 + np.array([math.erf(x / math.sqrt(2.0)) for x in grid])), float(grid[1] - grid[0])


_PHI, _STEP = _phi_grid(3201)  # d2: a single integral, fine grid
_PHI2, _STEP2 = _phi_grid(801)  # d3: a double integral; 0.02 steps keep it within 1e-4 of Tippett's values


@dataclass(frozen=True)
class Constants:
    """The constants of one subgroup size, rounded as the published tables print them (d2, d3 and the
    factors to 3 decimals, c4 to 4), which is what reproduces textbook and handbook results; the unrounded
    values are kept as ``d2_exact``, ``d3_exact``, ``c4_exact``."""

    n: int
    d2_exact: float
    d3_exact: float
    c4_exact: float

    @property
    def d2(self) -> float:
        return round(self.d2_exact, 3)

    @property
    def d3(self) -> float:
        return round(self.d3_exact, 3)

    @property
    def c4(self) -> float:
        return round(self.c4_exact, 4)

    @property
    def A2(self) -> float:
        return round(3.0 / (self.d2_exact * math.sqrt(self.n)), 3)

    @property
    def D3(self) -> float:
        return round(max(0.0, 1.0 - 3.0 * self.d3_exact / self.d2_exact), 3)

    @property
    def D4(self) -> float:
        return round(1.0 + 3.0 * self.d3_exact / self.d2_exact, 3)

    @property
    def A3(self) -> float:
        return round(3.0 / (self.c4_exact * math.sqrt(self.n)), 3)

    @property
    def B3(self) -> float:
        return round(max(0.0, 1.0 - 3.0 * math.sqrt(1.0 - self.c4_exact**2) / self.c4_exact), 3)

    @property
    def B4(self) -> float:
        return round(1.0 + 3.0 * math.sqrt(1.0 - self.c4_exact**2) / self.c4_exact, 3)


def _trapezoid(y: np.ndarray, step: float, axis: int = -1) -> np.ndarray:
    return np.trapezoid(y, dx=step, axis=axis)


@cache
def constants(n: int) -> Constants:
    if not N_MIN <= n <= N_MAX:
        raise ValueError(f"subgroup size {n} is outside 2..25, the range of the constant tables")
    d2 = float(_trapezoid(1.0 - _PHI**n - (1.0 - _PHI) ** n, _STEP))
    # E[R^2] = 2 * integral over x < y of the joint survival term (Tippett 1925).
    px = _PHI2[:, None]
    py = _PHI2[None, :]
    term = 1.0 - py**n - (1.0 - px) ** n + np.clip(py - px, 0.0, None) ** n
    upper = np.triu(np.ones_like(term), k=1) + 0.5 * np.eye(len(_PHI2))
    er2 = 2.0 * float(_trapezoid(_trapezoid(term * upper, _STEP2, axis=1), _STEP2))
    d3 = math.sqrt(max(er2 - d2 * d2, 0.0))
    c4 = math.sqrt(2.0 / (n - 1)) * math.exp(math.lgamma(n / 2) - math.lgamma((n - 1) / 2))
    return Constants(n, d2, d3, c4)
