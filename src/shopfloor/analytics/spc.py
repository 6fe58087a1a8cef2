"""Shewhart, EWMA and CUSUM control charts (pure NumPy), with phase I estimation and phase II limits.

Formulas from D. C. Montgomery, "Introduction to Statistical Quality Control", 7th ed. (Wiley 2013),
chapters 6, 7 and 9, the NIST/SEMATECH e-Handbook of Statistical Methods, section 6.3
(https://www.itl.nist.gov/div898/handbook/pmc/section3/pmc3.htm), and ASTM E2587 for unequal subgroup sizes;
L is the number of sigmas of the limits (``nsigmas``, 3 unless asked):

* X-bar/R, equal n:  CL = x-double-bar, limits x-double-bar +- A2 R-bar; R chart D3 R-bar .. D4 R-bar;
                     sigma = R-bar / d2.  With L other than 3: x-double-bar +- L sigma / sqrt(n), R-bar +- L d3 sigma.
* X-bar/S, equal n:  limits x-double-bar +- A3 s-bar; S chart B3 s-bar .. B4 s-bar; sigma = s-bar / c4
                     (L other than 3: s-bar +- L sigma sqrt(1 - c4^2)).
* Unequal n_i (ASTM E2587; the R package qcc's default "UWAVE-R" and "UWAVE-SD", the unweighted average of the
  subgroups' unbiased estimates): x-double-bar = sum n_i x-bar_i / sum n_i;
    R: sigma = mean of R_i / d2(n_i);  S: sigma = mean of s_i / c4(n_i);
    or pooled for S (Montgomery section 6.3.2): s_p = sqrt(sum (n_i - 1) s_i^2 / sum (n_i - 1)), used as s-bar;
  limits per subgroup: x-double-bar +- L sigma / sqrt(n_i); R chart d2(n_i) sigma +- L d3(n_i) sigma;
  S chart c4(n_i) sigma +- L sigma sqrt(1 - c4(n_i)^2); lower limits never below zero.
* I-MR:     limits x-bar +- L MR-bar / d2 (d2 = 1.128 for n = 2); MR chart D4 MR-bar (3.267)
* p:        p-bar +- L sqrt(p-bar (1 - p-bar) / n_i) per point; np: n p-bar +- L sqrt(n p-bar (1 - p-bar))
* c:        c-bar +- L sqrt(c-bar);  u: u-bar +- L sqrt(u-bar / n_i) per point
* EWMA:     z_i = lambda x_i + (1 - lambda) z_(i-1), z_0 = target; the variance of z_i (exact)
            v_i = (1 - lambda)^2 v_(i-1) + lambda^2 sigma_i^2, v_0 = 0, which for a constant sigma_i is
            sigma^2 lambda / (2 - lambda) (1 - (1 - lambda)^(2i)); asymptotic: sigma_i^2 lambda / (2 - lambda);
            limits target +- L sqrt(v_i).  sigma_i is sigma for individual values, sigma / sqrt(n_i) for subgroup means.
* CUSUM:    tabular, C+_i = max(0, x_i - (mu0 + K) + C+_(i-1)), C-_i = max(0, (mu0 - K) - x_i + C-_(i-1)),
            K = k sigma, H = h sigma (k and h in units of sigma); a signal when either exceeds H.  N+ and N- count
            the periods since the sum was last zero; the estimated new mean (Montgomery section 9.1.2) is
            mu0 + K + C+_i / N+_i when C+_i > H, mu0 - K - C-_i / N-_i when C-_i > H.

The factors are the published table values (3 decimals; ``spc_constants``), as the handbook and textbook
examples use them; software that computes with unrounded constants (SAS/QC, R's qcc) differs in about the fourth
significant digit of a limit, never in a verdict on the examples tested.

Known values: ``centre`` (for attribute charts p, c or u as a fraction or rate; the target mu0 of EWMA and CUSUM)
and ``sigma`` (of individual values) replace the estimates, as in phase II or for a standard given.  Lower limits of
count and range charts are never below zero.  Phase I: limits are estimated from the ``baseline`` points (all by
default) less the ``exclude``d ones; excluded points are still plotted and tested.  Indices are 0-based.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from shopfloor.analytics.spc_constants import constants

SIGMA_METHODS = ("uwave", "pooled")


class SpcError(ValueError):
    pass


@dataclass
class Chart:
    """One chart: the plotted statistic, its centre line and limits (arrays, per point), the sigma of the
    statistic at each point (for zone rules) and which points (0-based) formed the estimate."""

    kind: str
    values: np.ndarray
    centre: np.ndarray
    ucl: np.ndarray
    lcl: np.ndarray
    sigma: np.ndarray
    baseline: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        def compact(a: np.ndarray) -> float | list[float]:
            a = np.asarray(a, dtype=float)
            return float(a[0]) if a.size and np.allclose(a, a[0], rtol=1e-12, atol=0.0) else a.tolist()

        return {
            "chart": self.kind,
            "values": np.asarray(self.values, dtype=float).tolist(),
            "centre": compact(self.centre),
            "ucl": compact(self.ucl),
            "lcl": compact(self.lcl),
            "baseline": np.asarray(self.baseline, dtype=np.int64).tolist(),
            **self.extra,
        }


def _mask(n: int, baseline: Sequence[int] | int | None, exclude: Sequence[int] | None) -> np.ndarray:
    mask = np.zeros(n, dtype=bool)
    if baseline is None:
        mask[:] = True
    elif isinstance(baseline, (int, np.integer)):
        if not 1 <= baseline <= n:
            raise SpcError(f"phase I baseline of {baseline} points, but there are {n}")
        mask[:baseline] = True
    else:
        idx = np.asarray(list(baseline), dtype=np.int64)
        if idx.size and (idx.min() < 0 or idx.max() >= n):
            raise SpcError(f"baseline points must lie in 0..{n - 1}")
        mask[idx] = True
    for i in exclude or ():
        if not 0 <= i < n:
            raise SpcError(f"excluded point {i} does not exist (0..{n - 1})")
        mask[i] = False
    if not mask.any():
        raise SpcError("no points left to estimate the limits from")
    return mask


def _full(n: int, v: float) -> np.ndarray:
    return np.full(n, float(v))


def _nsigmas(L: float) -> float:
    if not (isinstance(L, (int, float)) and math.isfinite(L) and 0 < L <= 6):
        raise SpcError(f"nsigmas must be a number of sigmas above 0 and at most 6, not {L!r}")
    return float(L)


def _known(value: float | None, what: str, positive: bool = False) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float, np.floating)) or not math.isfinite(value):
        raise SpcError(f"{what} must be a finite number, not {value!r}")
    if positive and value <= 0:
        raise SpcError(f"{what} must be above 0, not {value:g}")
    return float(value)


def _checked(chart: Chart) -> Chart:
    """Refuse limits that overflowed: values that large cannot be charted (and would answer NaN)."""
    for name in ("values", "centre", "ucl", "lcl"):
        if not np.isfinite(getattr(chart, name)).all():
            raise SpcError(f"{chart.kind} chart: the values are too large to compute limits from (the {name} overflow)")
    return chart


def _subgroups(data: Sequence[Sequence[float]]) -> tuple[list[np.ndarray], np.ndarray]:
    """The subgroups as arrays and their sizes; sizes may differ."""
    groups = [np.asarray(g, dtype=float).ravel() for g in data]
    if not groups:
        raise SpcError("no subgroups")
    sizes = np.array([g.size for g in groups], dtype=np.int64)
    if sizes.min() < 2:
        raise SpcError("X-bar charts need subgroups of at least 2 values (use an individuals chart for single values)")
    if sizes.max() > 100:
        raise SpcError(f"subgroups of {sizes.max()} values: the constants go up to 100")
    for g in groups:
        if not np.isfinite(g).all():
            raise SpcError("subgroups contain missing or non-numeric values")
    return groups, sizes


def _group_stats(groups: list[np.ndarray], sizes: np.ndarray, kind: str) -> tuple[np.ndarray, np.ndarray]:
    if (sizes == sizes[0]).all():
        arr = np.vstack(groups)
        means = arr.mean(axis=1)
        spread = np.ptp(arr, axis=1) if kind == "r" else arr.std(axis=1, ddof=1)
        return means, spread
    means = np.array([g.mean() for g in groups])
    spread = np.array([np.ptp(g) if kind == "r" else g.std(ddof=1) for g in groups])
    return means, spread


def _prepare(data, baseline, exclude, centre, sigma, nsigmas, kind: str):
    """The checked arguments and the subgroups' statistics shared by the X-bar charts."""
    L = _nsigmas(nsigmas)
    centre, sigma = _known(centre, "centre"), _known(sigma, "sigma", positive=True)
    groups, sizes = _subgroups(data)
    means, spread = _group_stats(groups, sizes, kind)
    m = _mask(len(groups), baseline, exclude)
    return L, centre, sigma, sizes, means, spread, m, len(groups), np.flatnonzero(m)


def xbar_r(data, baseline=None, exclude=None, centre=None, sigma=None, nsigmas: float = 3.0) -> tuple[Chart, Chart]:
    """X-bar and R charts; subgroups may differ in size (limits per subgroup)."""
    L, centre, sigma, sizes, means, ranges, m, k, base = _prepare(data, baseline, exclude, centre, sigma, nsigmas, "r")
    if (sizes == sizes[0]).all():
        n = int(sizes[0])
        c = constants(n)
        xbb = float(means[m].mean()) if centre is None else centre
        rbar = float(ranges[m].mean()) if sigma is None else sigma * c.d2
        s = rbar / c.d2
        if L == 3.0:
            x_half, r_hi, r_lo = c.A2 * rbar, c.D4 * rbar, c.D3 * rbar
        else:
            x_half, r_hi, r_lo = L * s / math.sqrt(n), rbar + L * c.d3 * s, max(rbar - L * c.d3 * s, 0.0)
        xbar = Chart(
            "xbar", means, _full(k, xbb), _full(k, xbb + x_half), _full(k, xbb - x_half), _full(k, s / math.sqrt(n)),
            base, {"sigma": s, "n": n, "nsigmas": L},
        )  # fmt: skip
        r = Chart("r", ranges, _full(k, rbar), _full(k, r_hi), _full(k, r_lo), _full(k, c.d3 * s), base)
        return _checked(xbar), _checked(r)
    d2 = np.array([constants(int(n)).d2 for n in sizes])
    d3 = np.array([constants(int(n)).d3 for n in sizes])
    xbb = float((sizes[m] * means[m]).sum() / sizes[m].sum()) if centre is None else centre
    if sigma is None:
        sigma = float((ranges[m] / d2[m]).mean())
    se = sigma / np.sqrt(sizes)
    xbar = Chart(
        "xbar", means, _full(k, xbb), xbb + L * se, xbb - L * se, se, base,
        {"sigma": sigma, "n": sizes.tolist(), "nsigmas": L},
    )  # fmt: skip
    r_centre = d2 * sigma
    r = Chart(
        "r", ranges, r_centre, r_centre + L * d3 * sigma, np.maximum(r_centre - L * d3 * sigma, 0.0), d3 * sigma, base
    )
    return _checked(xbar), _checked(r)


def xbar_s(
    data, baseline=None, exclude=None, centre=None, sigma=None, nsigmas: float = 3.0, sigma_method: str = "uwave"
) -> tuple[Chart, Chart]:
    """X-bar and S charts; subgroups may differ in size (limits per subgroup, sigma by ``sigma_method``)."""
    if sigma_method not in SIGMA_METHODS:
        raise SpcError(f"sigma method {sigma_method!r}: expected {' or '.join(SIGMA_METHODS)}")
    L, centre, sigma, sizes, means, sds, m, k, base = _prepare(data, baseline, exclude, centre, sigma, nsigmas, "s")
    if (sizes == sizes[0]).all() and sigma_method == "uwave":
        n = int(sizes[0])
        c = constants(n)
        xbb = float(means[m].mean()) if centre is None else centre
        sbar = float(sds[m].mean()) if sigma is None else sigma * c.c4
        s = sbar / c.c4
        spread = math.sqrt(1 - c.c4**2)
        if L == 3.0:
            x_half, s_hi, s_lo = c.A3 * sbar, c.B4 * sbar, c.B3 * sbar
        else:
            x_half, s_hi, s_lo = L * s / math.sqrt(n), sbar + L * s * spread, max(sbar - L * s * spread, 0.0)
        xbar = Chart(
            "xbar", means, _full(k, xbb), _full(k, xbb + x_half), _full(k, xbb - x_half), _full(k, s / math.sqrt(n)),
            base, {"sigma": s, "n": n, "nsigmas": L, "sigma_method": sigma_method},
        )  # fmt: skip
        s_chart = Chart("s", sds, _full(k, sbar), _full(k, s_hi), _full(k, s_lo), _full(k, s * spread), base)
        return _checked(xbar), _checked(s_chart)
    c4 = np.array([constants(int(n)).c4 for n in sizes])
    xbb = float((sizes[m] * means[m]).sum() / sizes[m].sum()) if centre is None else centre
    if sigma is None:
        if sigma_method == "pooled":
            dof = sizes[m] - 1
            sigma = float(math.sqrt((dof * sds[m] ** 2).sum() / dof.sum()))
        else:
            sigma = float((sds[m] / c4[m]).mean())
    se = sigma / np.sqrt(sizes)
    xbar = Chart(
        "xbar", means, _full(k, xbb), xbb + L * se, xbb - L * se, se, base,
        {"sigma": sigma, "n": sizes.tolist(), "nsigmas": L, "sigma_method": sigma_method},
    )  # fmt: skip
    # Montgomery's pooled estimate is used as s-bar itself, with the table's A3, B3 and B4 at each n_i.
    if sigma_method == "pooled" and L == 3.0:
        a3 = np.array([constants(int(n)).A3 for n in sizes])
        b3 = np.array([constants(int(n)).B3 for n in sizes])
        b4 = np.array([constants(int(n)).B4 for n in sizes])
        xbar.ucl, xbar.lcl = xbb + a3 * sigma, xbb - a3 * sigma
        s_chart = Chart("s", sds, _full(k, sigma), b4 * sigma, b3 * sigma, sigma * np.sqrt(1 - c4**2) / c4, base)
        return _checked(xbar), _checked(s_chart)
    s_centre = c4 * sigma
    s_se = sigma * np.sqrt(1 - c4**2)
    s_chart = Chart("s", sds, s_centre, s_centre + L * s_se, np.maximum(s_centre - L * s_se, 0.0), s_se, base)
    return _checked(xbar), _checked(s_chart)


def _individuals(values) -> np.ndarray:
    x = np.asarray(values, dtype=float)
    if x.ndim != 1 or len(x) < 2 or not np.isfinite(x).all():
        raise SpcError("an individuals chart needs at least two numeric values")
    return x


def moving_range_sigma(x: np.ndarray, mask: np.ndarray | None = None) -> float:
    """MR-bar / d2 over the moving ranges whose two points are both in ``mask``."""
    mr = np.abs(np.diff(x))
    if mask is not None:
        mr = mr[mask[1:] & mask[:-1]]
    if not mr.size:
        raise SpcError("no moving range left to estimate sigma from (two consecutive baseline points are needed)")
    return float(mr.mean()) / constants(2).d2


def imr(values, baseline=None, exclude=None, centre=None, sigma=None, nsigmas: float = 3.0) -> tuple[Chart, Chart]:
    L = _nsigmas(nsigmas)
    centre, sigma = _known(centre, "centre"), _known(sigma, "sigma", positive=True)
    x = _individuals(values)
    c = constants(2)
    mr = np.abs(np.diff(x))
    m = _mask(len(x), baseline, exclude)
    # A moving range belongs to the baseline when both of its points do.
    mr_mask = m[1:] & m[:-1]
    xbar = float(x[m].mean()) if centre is None else centre
    if sigma is None:
        if not mr_mask.any():
            raise SpcError("no moving range left to estimate sigma from (two consecutive baseline points are needed)")
        mrbar = float(mr[mr_mask].mean())
    else:
        mrbar = sigma * c.d2
    s = mrbar / c.d2
    k = len(x)
    mr_hi = c.D4 * mrbar if L == 3.0 else mrbar + L * c.d3 * s
    mr_lo = 0.0 if L == 3.0 else max(mrbar - L * c.d3 * s, 0.0)
    i_chart = Chart(
        "i", x, _full(k, xbar), _full(k, xbar + L * s), _full(k, xbar - L * s), _full(k, s), np.flatnonzero(m),
        {"sigma": s, "mr_bar": mrbar, "nsigmas": L},
    )  # fmt: skip
    mr_chart = Chart(
        "mr", mr, _full(k - 1, mrbar), _full(k - 1, mr_hi), _full(k - 1, mr_lo), _full(k - 1, c.d3 * s),
        np.flatnonzero(mr_mask),
    )  # fmt: skip
    return _checked(i_chart), _checked(mr_chart)


def _counts(name: str, counts, sizes=None) -> tuple[np.ndarray, np.ndarray]:
    c = np.asarray(counts, dtype=float)
    n = np.ones_like(c) if sizes is None else np.asarray(sizes, dtype=float)
    if c.shape != n.shape or c.ndim != 1 or not (np.isfinite(c).all() and np.isfinite(n).all()):
        raise SpcError(f"{name} chart: one finite count and size per subgroup")
    if (c < 0).any() or (n <= 0).any():
        raise SpcError(f"{name} chart: counts must be >= 0 and sizes > 0, one per subgroup")
    return c, n


def p_chart(defectives, sizes, baseline=None, exclude=None, centre=None, nsigmas: float = 3.0) -> Chart:
    L = _nsigmas(nsigmas)
    centre = _known(centre, "known fraction nonconforming")
    if centre is not None and not 0 < centre < 1:
        raise SpcError(f"a known fraction nonconforming lies between 0 and 1, not {centre:g}")
    d, n = _counts("p", defectives, sizes)
    if (d > n).any():
        raise SpcError("p chart: more defectives than units in a subgroup")
    m = _mask(len(d), baseline, exclude)
    pbar = float(d[m].sum() / n[m].sum()) if centre is None else centre
    s = np.sqrt(pbar * (1 - pbar) / n)
    return _checked(
        Chart(
            "p",
            d / n,
            _full(len(d), pbar),
            np.minimum(pbar + L * s, 1.0),
            np.maximum(pbar - L * s, 0.0),
            s,
            np.flatnonzero(m),
            {"nsigmas": L},
        )  # fmt: skip
    )


def np_chart(defectives, size: int, baseline=None, exclude=None, centre=None, nsigmas: float = 3.0) -> Chart:
    """``centre`` is a known fraction nonconforming p (the centre line is n p)."""
    L = _nsigmas(nsigmas)
    centre = _known(centre, "known fraction nonconforming")
    if centre is not None and not 0 < centre < 1:
        raise SpcError(f"a known fraction nonconforming lies between 0 and 1, not {centre:g}")
    d, _ = _counts("np", defectives)
    if (d > size).any():
        raise SpcError(f"np chart: more nonconforming units than the {size} inspected")
    m = _mask(len(d), baseline, exclude)
    pbar = float(d[m].mean() / size) if centre is None else centre
    s = math.sqrt(size * pbar * (1 - pbar))
    k = len(d)
    return _checked(
        Chart(
            "np",
            d,
            _full(k, size * pbar),
            _full(k, size * pbar + L * s),
            _full(k, max(size * pbar - L * s, 0)),
            _full(k, s),
            np.flatnonzero(m),
            {"nsigmas": L, "n": size},
        )  # fmt: skip
    )


def c_chart(defects, baseline=None, exclude=None, centre=None, nsigmas: float = 3.0) -> Chart:
    L = _nsigmas(nsigmas)
    centre = _known(centre, "known defects per unit", positive=True)
    c, _ = _counts("c", defects)
    m = _mask(len(c), baseline, exclude)
    cbar = float(c[m].mean()) if centre is None else centre
    s = math.sqrt(cbar)
    k = len(c)
    return _checked(
        Chart(
            "c",
            c,
            _full(k, cbar),
            _full(k, cbar + L * s),
            _full(k, max(cbar - L * s, 0.0)),
            _full(k, s),
            np.flatnonzero(m),
            {"nsigmas": L},
        )  # fmt: skip
    )


def u_chart(defects, units, baseline=None, exclude=None, centre=None, nsigmas: float = 3.0) -> Chart:
    L = _nsigmas(nsigmas)
    centre = _known(centre, "known defects per unit", positive=True)
    c, n = _counts("u", defects, units)
    m = _mask(len(c), baseline, exclude)
    ubar = float(c[m].sum() / n[m].sum()) if centre is None else centre
    s = np.sqrt(ubar / n)
    return _checked(
        Chart(
            "u",
            c / n,
            _full(len(c), ubar),
            ubar + L * s,
            np.maximum(ubar - L * s, 0.0),
            s,
            np.flatnonzero(m),
            {"nsigmas": L},
        )  # fmt: skip
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
    sizes: Sequence[int] | None = None,
) -> Chart:
    """EWMA of individual values, or of subgroup means when ``sizes`` (the n of each mean) is given; ``sigma`` is
    the sigma of individual values (estimated from the baseline's moving ranges when not given)."""
    L = _nsigmas(L)
    target, sigma = _known(target, "target"), _known(sigma, "sigma", positive=True)
    x = np.asarray(values, dtype=float)
    if x.ndim != 1 or not len(x) or not np.isfinite(x).all():
        raise SpcError("an EWMA chart needs numeric values")
    if not (isinstance(lam, (int, float)) and 0 < lam <= 1):
        raise SpcError("EWMA lambda must be in (0, 1]")
    n = np.ones(len(x)) if sizes is None else np.asarray(sizes, dtype=float)
    if n.shape != x.shape or (n < 1).any():
        raise SpcError("EWMA of subgroup means: one size of at least 1 per mean")
    m = _mask(len(x), baseline, exclude)
    mu = float((n[m] * x[m]).sum() / n[m].sum()) if target is None else target
    if sigma is None:
        if sizes is not None:
            raise SpcError("an EWMA of subgroup means needs sigma (the within-subgroup sigma of individual values)")
        sigma = moving_range_sigma(x, m)
    # z_i = lam x_i + (1 - lam) z_(i-1): a first-order linear filter, done in C rather than a Python loop.
    z = _ewma_filter(x, lam, mu)
    point_var = sigma**2 / n
    if asymptotic:
        var = point_var * lam / (2 - lam)
    elif sizes is None:
        i = np.arange(1, len(x) + 1)
        var = point_var * lam / (2 - lam) * (1 - (1 - lam) ** (2 * i))
    else:
        var = _ewma_filter(lam**2 * point_var, (1 - lam) ** 2, 0.0, weight_input=False)
    s = np.sqrt(var)
    return _checked(
        Chart(
            "ewma",
            z,
            _full(len(x), mu),
            mu + L * s,
            mu - L * s,
            s,
            np.flatnonzero(m),
            {
                "lambda": lam,
                "L": L,
                "sigma": sigma,
                "limits": "asymptotic" if asymptotic else "exact",
                "of": "individuals" if sizes is None else "subgroup means",
            },
        )  # fmt: skip
    )


def _ewma_filter(x: np.ndarray, lam: float, start: float, weight_input: bool = True) -> np.ndarray:
    """y_i = a u_i + (1 - lam) y_(i-1) with y_0 = start; a = lam (EWMA) or 1 (variance recursion, where ``lam`` is
    the decay and ``x`` already carries the factor)."""
    from scipy.signal import lfilter  # noqa: PLC0415 -- scipy.signal costs 0.2 s to import; only EWMA needs it

    a = lam if weight_input else 1.0
    decay = (1 - lam) if weight_input else lam
    y, _ = lfilter([a], [1.0, -decay], x, zi=[decay * start])
    return y


def cusum(values, target: float, sigma: float, k: float = 0.5, h: float = 5.0) -> Chart:
    """Tabular CUSUM of individual values (or of means, with the sigma of a mean); k and h in units of sigma."""
    target, sigma = _known(target, "target"), _known(sigma, "sigma", positive=True)
    for what, v in (("k", k), ("h", h)):
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v <= 0:
            raise SpcError(f"CUSUM {what} must be a number of sigmas above 0, not {v!r}")
    x = np.asarray(values, dtype=float)
    if x.ndim != 1 or not len(x) or not np.isfinite(x).all():
        raise SpcError("a CUSUM chart needs numeric values")
    K, H = k * sigma, h * sigma
    n = len(x)
    hi, lo = np.empty(n), np.empty(n)
    n_hi, n_lo = np.zeros(n, dtype=np.int64), np.zeros(n, dtype=np.int64)
    a = b = 0.0
    na = nb = 0
    for i, xi in enumerate(x.tolist()):
        a = max(0.0, xi - (target + K) + a)
        b = max(0.0, (target - K) - xi + b)
        na = na + 1 if a > 0 else 0
        nb = nb + 1 if b > 0 else 0
        hi[i], lo[i], n_hi[i], n_lo[i] = a, b, na, nb
    up, down = hi > H, lo > H
    signals = np.flatnonzero(up | down)
    new_mean: list[float | None] = [None] * n
    for i in signals.tolist():
        if up[i]:
            new_mean[i] = target + K + hi[i] / n_hi[i]
        else:
            new_mean[i] = target - K - lo[i] / n_lo[i]
    return _checked(
        Chart(
            "cusum",
            hi,
            _full(n, 0.0),
            _full(n, H),
            _full(n, -H),
            _full(n, sigma),
            np.arange(n),
            {
                "c_plus": hi.tolist(),
                "c_minus": lo.tolist(),
                "n_plus": n_hi.tolist(),
                "n_minus": n_lo.tolist(),
                "signals": signals.tolist(),
                "new_mean": new_mean,
                "K": K,
                "H": H,
                "k": k,
                "h": h,
                "target": target,
                "sigma": sigma,
            },
        )  # fmt: skip
    )
