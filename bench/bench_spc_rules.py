"""Individuals chart and all Nelson / Western Electric rules on one million points, against a plain NumPy
implementation of the same chart and the same rules in the same run (windows counted by convolution, the same
violations with the same points), which is checked to give the identical answer."""

from __future__ import annotations

import time

import numpy as np

from shopfloor.analytics import spc
from shopfloor.analytics.run_rules import evaluate


def _best(fn, repeat=3):
    best, value = float("inf"), None
    for _ in range(repeat):
        t = time.perf_counter()
        value = fn()
        best = min(best, time.perf_counter() - t)
    return best, value


def _baseline_chart(x: np.ndarray):
    """Centre, sigma and limits of the individuals chart: mean, MR-bar / 1.128, +-3 sigma."""
    centre = x.mean()
    sigma = np.abs(np.diff(x)).mean() / 1.128
    return centre, sigma, centre + 3 * sigma, centre - 3 * sigma


def _ends(flags: np.ndarray, k: int, m: int | None = None) -> np.ndarray:
    counts = np.convolve(flags.astype(np.int64), np.ones(k, dtype=np.int64), mode="valid")
    ends = np.flatnonzero(counts >= (k if m is None else m)) + k - 1
    return ends if m is None else ends[flags[ends]]


def _baseline_rules(x: np.ndarray, centre: float, sigma: float, ucl: float, lcl: float, rules: str) -> list:
    z = (x - centre) / sigma
    out = []

    def add(name, ends, k, flags=None):
        for e in ends.tolist():
            pts = range(e - k + 1, e + 1)
            out.append((e, name, tuple(p for p in pts if flags is None or flags[p])))

    p = "nelson" if rules == "nelson" else "we"
    for i in np.flatnonzero((x > ucl) | (x < lcl)).tolist():
        out.append((i, f"{p}1", (i,)))
    above, below = x > centre, x < centre
    if rules == "nelson":
        for side in (above, below):
            add("nelson2", _ends(side, 9), 9)
        d = np.diff(x)
        for trend in (d > 0, d < 0):
            add("nelson3", _ends(trend, 5) + 1, 6)
        s = np.sign(d)
        add("nelson4", _ends((s[1:] * s[:-1]) < 0, 12) + 2, 14)
        zones = (("nelson5", 2.0, 2, 3), ("nelson6", 1.0, 4, 5))
    else:
        zones = (("we2", 2.0, 2, 3), ("we3", 1.0, 4, 5))
    for name, level, m, k in zones:
        for side in (z > level, z < -level):
            add(name, _ends(side, k, m), k, side)
    if rules == "nelson":
        add("nelson7", _ends(np.abs(z) < 1.0, 15), 15)
        window = np.ones(8, dtype=np.int64)
        beyond, up, down = (
            np.convolve(f.astype(np.int64), window, mode="valid") for f in (np.abs(z) > 1, z > 1, z < -1)
        )
        add("nelson8", np.flatnonzero((beyond == 8) & (up > 0) & (down > 0)) + 7, 8)
    else:
        for side in (above, below):
            add("we4", _ends(side, 8), 8)
    out.sort()
    return out


def run(quick: bool = False) -> list[dict]:
    n = 100_000 if quick else 1_000_000
    rng = np.random.default_rng(42)
    x = rng.normal(50.0, 2.0, n)
    x[n // 2 : n // 2 + 20] += 8.0  # a shift for the rules to find

    chart_s, (chart, _) = _best(lambda: spc.imr(x))
    base_chart_s, limits = _best(lambda: _baseline_chart(x))
    results = [
        {
            "name": f"individuals and moving-range chart of {n} points",
            "value": chart_s,
            "unit": "s",
            "baseline": base_chart_s,
            "baseline_unit": "s (NumPy: mean, MR-bar / d2, limits)",
            "ratio": chart_s / base_chart_s,
        }
    ]
    for rules, label in (("nelson", "Nelson rules 1-8"), ("we", "Western Electric rules 1-4")):
        ours_s, ours = _best(lambda r=rules: evaluate(chart, r), repeat=2)
        base_s, base = _best(lambda r=rules: _baseline_rules(x, *limits, r), repeat=2)
        same = sorted((v.index, v.rule, v.points) for v in ours) == base
        if not same:
            raise AssertionError(f"{label}: the NumPy baseline finds other violations than run_rules")
        results.append(
            {
                "name": f"{label} on {n} points ({len(ours)} violations, identical to the baseline's)",
                "value": ours_s,
                "unit": "s",
                "baseline": base_s,
                "baseline_unit": "s (NumPy convolution windows, same rules and points)",
                "ratio": ours_s / base_s,
            }
        )
    return results
