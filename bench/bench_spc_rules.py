"""All Nelson and Western Electric rules on one million points, against the plain vectorised NumPy
computation of the same individuals-chart limits (mean, MR-bar / d2, +-3 sigma) in the same run."""

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


def run(quick: bool = False) -> list[dict]:
    n = 100_000 if quick else 1_000_000
    rng = np.random.default_rng(42)
    x = rng.normal(50.0, 2.0, n)
    x[n // 2 : n // 2 + 20] += 8.0  # a shift for the rules to find
    chart, _ = spc.imr(x)

    def limits():
        mean = x.mean()
        sigma = np.abs(np.diff(x)).mean() / 1.128
        return mean - 3 * sigma, mean + 3 * sigma

    base_s, _ = _best(limits)
    nelson_s, nelson = _best(lambda: evaluate(chart, "nelson"), repeat=1)
    we_s, we = _best(lambda: evaluate(chart, "we"), repeat=1)
    return [
        {
            "name": f"Nelson rules 1-8 on {n} points ({len(nelson)} violations)",
            "value": nelson_s,
            "unit": "s",
            "baseline": base_s,
            "baseline_unit": "s (NumPy limits)",
            "ratio": nelson_s / base_s,
        },
        {
            "name": f"Western Electric rules 1-4 on {n} points ({len(we)} violations)",
            "value": we_s,
            "unit": "s",
            "baseline": base_s,
            "baseline_unit": "s (NumPy limits)",
            "ratio": we_s / base_s,
        },
    ]
