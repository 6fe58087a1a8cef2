"""Run rules (tests for special causes) on a control chart, vectorised with NumPy sliding windows.

Nelson (L. S. Nelson, "The Shewhart Control Chart - Tests for Special Causes", Journal of Quality Technology
16(4), 1984; Minitab's "tests for special causes" with the same defaults):
  1 one point beyond 3 sigma; 2 nine in a row on one side; 3 six in a row increasing or decreasing;
  4 fourteen in a row alternating up and down; 5 two of three beyond 2 sigma on one side; 6 four of five beyond
  1 sigma on one side; 7 fifteen in a row within 1 sigma; 8 eight in a row beyond 1 sigma on either side.
Western Electric (Statistical Quality Control Handbook, 1956): 1 one beyond 3 sigma; 2 two of three beyond
  2 sigma on one side; 3 four of five beyond 1 sigma on one side; 4 eight in a row on one side.

Zones use each point's own sigma and centre (limits may vary per point).  A point exactly on a limit is not
beyond it.  Each violation names the rule, the point that completes the pattern (``index``) and all points of
the pattern.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from shopfloor.analytics.spc import Chart

NELSON = {1: 3, 2: 9, 3: 6, 4: 14, 5: (2, 3), 6: (4, 5), 7: 15, 8: 8}
WESTERN_ELECTRIC = {1: 3, 2: (2, 3), 3: (4, 5), 4: 8}


@dataclass(frozen=True)
class Violation:
    rule: str
    index: int
    points: tuple[int, ...]

    def to_dict(self) -> dict:
        return {"rule": self.rule, "index": self.index, "points": list(self.points)}


def _windows_all(flags: np.ndarray, k: int) -> np.ndarray:
    """End indices of windows of ``k`` consecutive True flags."""
    if len(flags) < k:
        return np.array([], dtype=int)
    return np.flatnonzero(sliding_window_view(flags, k).all(axis=1)) + k - 1


def _windows_count(flags: np.ndarray, m: int, k: int) -> np.ndarray:
    """End indices of windows of ``k`` points with at least ``m`` flags, the last point flagged."""
    if len(flags) < k:
        return np.array([], dtype=int)
    counts = sliding_window_view(flags.astype(np.int8), k).sum(axis=1)
    ends = np.arange(k - 1, len(flags))
    return ends[(counts >= m) & flags[k - 1 :]]


def _emit(rule: str, ends: np.ndarray, k: int, out: list[Violation], flags: np.ndarray | None = None) -> None:
    for e in ends:
        pts = range(e - k + 1, e + 1)
        chosen = tuple(int(p) for p in pts if flags is None or flags[p])
        out.append(Violation(rule, int(e), chosen))


def evaluate(
    chart: Chart,
    rules: str = "nelson",
    enabled: set[int] | None = None,
    params: dict[int, int | tuple[int, int]] | None = None,
) -> list[Violation]:
    """Violations of the chosen rule set (``nelson`` or ``we``), optionally only some rules or other K."""
    if rules not in ("nelson", "we"):
        raise ValueError(f"rules {rules!r}: expected nelson or we")
    table = dict(NELSON if rules == "nelson" else WESTERN_ELECTRIC)
    table.update(params or {})
    prefix = "nelson" if rules == "nelson" else "we"
    x = np.asarray(chart.values, dtype=float)
    centre = np.asarray(chart.centre, dtype=float)
    sigma = np.asarray(chart.sigma, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        zscore = np.where(sigma > 0, (x - centre) / sigma, 0.0)
    above, below = x > centre, x < centre
    out: list[Violation] = []

    def on(rule: int) -> bool:
        return rule in table and (enabled is None or rule in enabled)

    # Beyond the control limits (rule 1 of both sets): strictly outside.
    if on(1):
        ucl, lcl = np.asarray(chart.ucl, dtype=float), np.asarray(chart.lcl, dtype=float)
        for i in np.flatnonzero((x > ucl) | (x < lcl)):
            out.append(Violation(f"{prefix}1", int(i), (int(i),)))
    if rules == "nelson":
        if on(2):
            k = int(table[2])
            for side in (above, below):
                _emit(f"{prefix}2", _windows_all(side, k), k, out)
        if on(3):
            k = int(table[3])
            d = np.diff(x)
            for trend in (d > 0, d < 0):
                _emit(f"{prefix}3", _windows_all(trend, k - 1) + 1, k, out)
        if on(4):
            k = int(table[4])
            d = np.sign(np.diff(x))
            alt = (d[1:] * d[:-1]) < 0
            _emit(f"{prefix}4", _windows_all(alt, k - 2) + 2, k, out)
        zone_rules = ((5, 2.0), (6, 1.0))
    else:
        zone_rules = ((2, 2.0), (3, 1.0))
    for rule, level in zone_rules:
        if on(rule):
            m, k = table[rule]  # type: ignore[misc]
            for side in (zscore > level, zscore < -level):
                _emit(f"{prefix}{rule}", _windows_count(side, m, k), k, out, side)
    if rules == "nelson":
        if on(7):
            k = int(table[7])
            _emit(f"{prefix}7", _windows_all(np.abs(zscore) < 1.0, k), k, out)
        if on(8):
            k = int(table[8])
            _emit(f"{prefix}8", _windows_all(np.abs(zscore) > 1.0, k), k, out)
    elif on(4):
        k = int(table[4])
        for side in (above, below):
            _emit(f"{prefix}4", _windows_all(side, k), k, out)
    out.sort(key=lambda v: (v.index, v.rule))
    return out
