"""Shewhart, EWMA and CUSUM control charts (pure NumPy), with phase I estimation and phase II limits.

Formulas from D. C. Montgomery, "Introduction to Statistical Quality Control", 7th ed. (Wiley 2013),
chapters 6, 7 and 9, and the NIST/SEMATECH e-Handbook of Statistical Methods, section 6.3
(https://www.itl.nist.gov/div898/handbook/pmc/section3/pmc3.htm):

* X-bar/R:  CL = x-double-bar, limits x-double-bar +- A2 R-bar; R chart D3 R-bar .. D4 R-bar; sigma = R-bar / d2
* X-bar/S:  limits x-double-bar +- A3 s-bar; S chart B3 s-bar .. B4 s-bar; sigma = s-bar / c4
* I-MR:     limits x-bar +- 3 MR-bar / d2 (d2 = 1.128 for n = 2); MR chart D4 MR-bar (3.267)
* p:        p-bar +- 3 sqrt(p-bar (1 - p-bar) / n_i) per point; np: n p-bar +- 3 sqrt(n p-bar (1 - p-bar))
* c:        c-bar +- 3 sqrt(c-bar);  u: u-bar +- 3 sqrt(u-bar / n_i) per point
* EWMA:     z_i = lambda x_i + (1 - lambda) z_(i-1), z_0 = target; limits target +- L sigma
            sqrt(lambda / (2 - lambda) (1 - (1 - lambda)^(2i))) (exact) or the asymptotic form
* CUSUM:    tabular, C+_i = max(0, x_i - (mu0 + K) + C+_(i-1)), C-_i = max(0, (mu0 - K) - x_i + C-_(i-1)),
            K = k sigma, H = h sigma; a signal when either exceeds H.

The factors are the published table values (3 decimals; ``spc_constants``), as the handbook and textbook
examples use them; software that computes with unrounded constants (SAS/QC, R's qcc) differs in about the fourth
significant digit of a limit, never in a verdict on the examples tested.

Lower limits of count and range charts are never below zero.  Phase I: limits are estimated from the
``baseline`` points (all by default) less the ``exclude``d ones; excluded points are still plotted and
tested.  Phase II: pass the frozen ``centre`` and ``sigma`` (or limits) from a phase I study.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from shopfloor.analytics.spc_constants import constants


class SpcError(ValueError):
    pass


@dataclass
class Chart:
    """One chart: the plotted statistic, its centre line and limits (arrays, per point), the sigma of the
    statistic at each point (for zone rules) and which points formed the estimate."""

    kind: str
    values: np.ndarray
    centre: np.ndarray
    ucl: np.ndarray
    lcl: np.ndarray
    sigma: np.ndarray
    baseline: list[int] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        def compact(a: np.ndarray) -> float | list[float]:
            a = np.asarray(a, dtype=float)
            return float(a[0]) if a.size and np.allclose(a, a[0]) else [float(x) for x in a]

        return {
            "chart": self.kind,
            "values": [float(v) for v in self.values],
            "centre": compact(self.centre),
            "ucl": compact(self.ucl),
            "lcl": compact(self.lcl),
            "baseline": self.baseline,
            **self.extra,
        }


def _mask(n: int, baseline: Sequence[int] | int | None, exclude: Sequence[int] | None) -> np.ndarray:
    mask = np.zeros(n, dtype=bool)
    if baseline is None:
        mask[:] = True
    elif isinstance(baseline, int):
        if not 1 <= baseline <= n:
            raise SpcError(f"phase I baseline of {baseline} points, but there are {n}")
        mask[:baseline] = True
    else:
        mask[list(baseline)] = True
    for i in exclude or ():
        if not 0 <= i < n:
            raise SpcError(f"excluded point {i} does not exist (0..{n - 1})")
        mask[i] = False
    if not mask.any():
        raise SpcError("no points left to estimate the limits from")
    return mask


def _full(n: int, v: float) -> np.ndarray:
    return np.full(n, float(v))


def _subgroups(data: Sequence[Sequence[float]]) -> tuple[np.ndarray, int]:
    sizes = {len(g) for g in data}
    if len(sizes) != 1:
        raise SpcError(f"subgroups of unequal sizes {sorted(sizes)}: use equal subgroups for X-bar charts")
    n = sizes.pop()
    arr = np.asarray(data, dtype=float)
    if not np.isfinite(arr).all():
        raise SpcError("subgroups contain missing or non-numeric values")
    return arr, n


def xbar_r(data, baseline=None, exclude=None, centre=None, sigma=None) -> tuple[Chart, Chart]:
    arr, n = _subgroups(data)
    c = constants(n)
    means, ranges = arr.mean(axis=1), arr.max(axis=1) - arr.min(axis=1)
    m = _mask(len(arr), baseline, exclude)
    xbb = float(means[m].mean()) if centre is None else float(centre)
    rbar = float(ranges[m].mean()) if sigma is None else float(sigma) * c.d2
    k = len(arr)
    s_mean = rbar / c.d2 / math.sqrt(n)
    xbar = Chart(
        "xbar",
        means,
        _full(k, xbb),
        _full(k, xbb + c.A2 * rbar),
        _full(k, xbb - c.A2 * rbar),
        _full(k, s_mean),
        [int(i) for i in np.flatnonzero(m)],
        {"sigma": rbar / c.d2, "n": n},
    )
    r = Chart(
        "r",
        ranges,
        _full(k, rbar),
        _full(k, c.D4 * rbar),
        _full(k, c.D3 * rbar),
        _full(k, c.d3 * rbar / c.d2),
        [int(i) for i in np.flatnonzero(m)],
    )
    return xbar, r


def xbar_s(data, baseline=None, exclude=None, centre=None, sigma=None) -> tuple[Chart, Chart]:
    arr, n = _subgroups(data)
    c = constants(n)
    means, sds = arr.mean(axis=1), arr.std(axis=1, ddof=1)
    m = _mask(len(arr), baseline, exclude)
    xbb = float(means[m].mean()) if centre is None else float(centre)
    sbar = float(sds[m].mean()) if sigma is None else float(sigma) * c.c4
    k = len(arr)
    xbar = Chart(
        "xbar",
        means,
        _full(k, xbb),
        _full(k, xbb + c.A3 * sbar),
        _full(k, xbb - c.A3 * sbar),
        _full(k, sbar / c.c4 / math.sqrt(n)),
        [int(i) for i in np.flatnonzero(m)],
        {"sigma": sbar / c.c4, "n": n},
    )
    s = Chart(
        "s",
        sds,
        _full(k, sbar),
        _full(k, c.B4 * sbar),
        _full(k, c.B3 * sbar),
        _full(k, sbar * math.sqrt(1 - c.c4**2) / c.c4),
        [int(i) for i in np.flatnonzero(m)],
    )
    return xbar, s


def imr(values, baseline=None, exclude=None, centre=None, sigma=None) -> tuple[Chart, Chart]:
    x = np.asarray(values, dtype=float)
    if len(x) < 2 or not np.isfinite(x).all():
        raise SpcError("an individuals chart needs at least two numeric values")
    c = constants(2)
    mr = np.abs(np.diff(x))
    m = _mask(len(x), baseline, exclude)
    # A moving range belongs to the baseline when both of its points do.
    mr_mask = m[1:] & m[:-1]
    xbar = float(x[m].mean()) if centre is None else float(centre)
    mrbar = float(mr[mr_mask].mean()) if sigma is None else float(sigma) * c.d2
    s = mrbar / c.d2
    k = len(x)
    i_chart = Chart(
        "i",
        x,
        _full(k, xbar),
        _full(k, xbar + 3 * s),
        _full(k, xbar - 3 * s),
        _full(k, s),
        [int(i) for i in np.flatnonzero(m)],
        {"sigma": s, "mr_bar": mrbar},
    )
    mr_chart = Chart(
        "mr",
        mr,
        _full(k - 1, mrbar),
        _full(k - 1, c.D4 * mrbar),
        _full(k - 1, 0.0),
        _full(k - 1, c.d3 * mrbar / c.d2),
        [int(i) for i in np.flatnonzero(mr_mask)],
    )
    return i_chart, mr_chart


def _counts(name: str, counts, sizes=None) -> tuple[np.ndarray, np.ndarray]:
    c = np.asarray(counts, dtype=float)
    n = np.ones_like(c) if sizes is None else np.asarray(sizes, dtype=float)
    if c.shape != n.shape or (c < 0).any() or (n <= 0).any() or not np.isfinite(c).all():
        raise SpcError(f"{name} chart: counts must be >= 0 and sizes > 0, one per subgroup")
    return c, n


def p_chart(defectives, sizes, baseline=None, exclude=None, centre=None) -> Chart:
    d, n = _counts("p", defectives, sizes)
    if (d > n).any():
        raise SpcError("p chart: more defectives than units in a subgroup")
    m = _mask(len(d), baseline, exclude)
    pbar = float(d[m].sum() / n[m].sum()) if centre is None else float(centre)
    s = np.sqrt(pbar * (1 - pbar) / n)
    return Chart(
        "p",
        d / n,
        _full(len(d), pbar),
        np.minimum(pbar + 3 * s, 1.0),
        np.maximum(pbar - 3 * s, 0.0),
        s,
        [int(i) for i in np.flatnonzero(m)],
    )


def np_chart(defectives, size: int, baseline=None, exclude=None, centre=None) -> Chart:
    d, _ = _counts("np", defectives)
    m = _mask(len(d), baseline, exclude)
    pbar = float(d[m].mean() / size) if centre is None else float(centre)
    s = math.sqrt(size * pbar * (1 - pbar))
    k = len(d)
    return Chart(
        "np",
        d,
        _full(k, size * pbar),
        _full(k, size * pbar + 3 * s),
        _full(k, max(size * pbar - 3 * s, 0)),
        _full(k, s),
        [int(i) for i in np.flatnonzero(m)],
    )


def c_chart(defects, baseline=None, exclude=None, centre=None) -> Chart:
    c, _ = _counts("c", defects)
    m = _mask(len(c), baseline, exclude)
    cbar = float(c[m].mean()) if centre is None else float(centre)
    s = math.sqrt(cbar)
    k = len(c)
    return Chart(
        "c",
        c,
        _full(k, cbar),
        _full(k, cbar + 3 * s),
        _full(k, max(cbar - 3 * s, 0.0)),
        _full(k, s),
        [int(i) for i in np.flatnonzero(m)],
    )


def u_chart(defects, units, baseline=None, exclude=None, centre=None) -> Chart:
    c, n = _counts("u", defects, units)
    m = _mask(len(c), baseline, exclude)
    ubar = float(c[m].sum() / n[m].sum()) if centre is None else float(centre)
    s = np.sqrt(ubar / n)
    return Chart(
        "u",
        c / n,
        _full(len(c), ubar),
        ubar + 3 * s,
        np.maximum(ubar - 3 * s, 0.0),
        s,
        [int(i) for i in np.flatnonzero(m)],
    )


def ewma(
    values,
    lam: float,
    target: float | None = None,
    sigma: float | None = None,
    L: float = 3.0,
    asymptotic: bool = False,
    baseline=None,
    exclude=None,
) -> Chart:
    x = np.asarray(values, dtype=float)
    if not 0 < lam <= 1:
        raise SpcError("EWMA lambda must be in (0, 1]")
    m = _mask(len(x), baseline, exclude)
    mu = float(x[m].mean()) if target is None else float(target)
    if sigma is None:
        sigma = float(np.abs(np.diff(x[m])).mean() / constants(2).d2) if m.sum() > 1 else 0.0
    z = np.empty_like(x)
    prev = mu
    for i, xi in enumerate(x):
        prev = lam * xi + (1 - lam) * prev
        z[i] = prev
    i = np.arange(1, len(x) + 1)
    factor = lam / (2 - lam) * (np.ones_like(z) if asymptotic else 1 - (1 - lam) ** (2 * i))
    s = sigma * np.sqrt(factor)
    return Chart(
        "ewma",
        z,
        _full(len(x), mu),
        mu + L * s,
        mu - L * s,
        s,
        [int(i) for i in np.flatnonzero(m)],
        {"lambda": lam, "L": L, "sigma": sigma},
    )


def cusum(values, target: float, sigma: float, k: float = 0.5, h: float = 5.0) -> Chart:
    x = np.asarray(values, dtype=float)
    K, H = k * sigma, h * sigma
    hi, lo = np.empty_like(x), np.empty_like(x)
    a = b = 0.0
    for i, xi in enumerate(x):
        a = max(0.0, xi - (target + K) + a)
        b = max(0.0, (target - K) - xi + b)
        hi[i], lo[i] = a, b
    n = len(x)
    signals = [int(i) for i in np.flatnonzero((hi > H) | (lo > H))]
    return Chart(
        "cusum",
        hi,
        _full(n, 0.0),
        _full(n, H),
        _full(n, -H),
        _full(n, sigma),
        list(range(n)),
        {"c_plus": [float(v) for v in hi], "c_minus": [float(v) for v in lo], "signals": signals, "K": K, "H": H},
    )
