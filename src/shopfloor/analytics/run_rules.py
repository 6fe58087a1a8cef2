"""Run rules (tests for special causes) on a control chart, vectorised with NumPy running counts.

Nelson (L. S. Nelson, "The Shewhart Control Chart - Tests for Special Causes", Journal of Quality Technology
16(4), 1984; Minitab's "tests for special causes" with the same defaults):
  1 one point beyond 3 sigma; 2 nine in a row on one side; 3 six in a row increasing or decreasing;
  4 fourteen in a row alternating up and down; 5 two of three beyond 2 sigma on one side; 6 four of five beyond
  1 sigma on one side; 7 fifteen in a row within 1 sigma; 8 eight in a row beyond 1 sigma with points on both sides
  of the centre line (a mixture: Nelson's figure has none in zone C and points on both sides; eight beyond 1 sigma
  all on one side is rule 2's or 6's pattern, not this one).
Western Electric (Statistical Quality Control Handbook, 1956): 1 one beyond 3 sigma; 2 two of three beyond
  2 sigma on one side; 3 four of five beyond 1 sigma on one side; 4 eight in a row on one side.
``limits``: only points beyond the control limits (rule ``limit``), what EWMA and CUSUM charts are judged by: their
  statistics are autocorrelated, so run rules made for independent points would signal falsely.

A rule set is written ``nelson``, ``we`` or ``limits``, optionally with the rules to apply and their parameter:
``nelson:1,2,5`` (rules 1, 2 and 5), ``nelson:1,2=7,3=8`` (nine in a row becomes seven, six becomes eight),
``we:1,2=2/3`` (m of k written m/k).  The parameter of a run rule is its length K; of a zone rule (Nelson 5 and 6,
WE 2 and 3) its m of k; of rule 1 the number of sigmas is the chart's own (its limits).

Zones use each point's own sigma and centre (limits may vary per point).  A point exactly on a limit or zone
boundary is not beyond it.  Each violation names the rule, the point that completes the pattern (``index``, 0-based)
and all points of the pattern (0-based).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from shopfloor.analytics.spc import Chart

NELSON = {1: 3, 2: 9, 3: 6, 4: 14, 5: (2, 3), 6: (4, 5), 7: 15, 8: 8}
WESTERN_ELECTRIC = {1: 3, 2: (2, 3), 3: (4, 5), 4: 8}
LIMITS = {1: 3}
TABLES = {"nelson": NELSON, "we": WESTERN_ELECTRIC, "limits": LIMITS}
_ZONE_RULES = {"nelson": {5: 2.0, 6: 1.0}, "we": {2: 2.0, 3: 1.0}, "limits": {}}


class RuleSpecError(ValueError):
    pass


@dataclass(frozen=True)
class Violation:
    rule: str
    index: int
    points: tuple[int, ...]

    def to_dict(self) -> dict:
        return {"rule": self.rule, "index": self.index, "points": list(self.points)}


@dataclass(frozen=True)
class RuleSet:
    """Which rules of which set, with their parameters."""

    name: str
    enabled: frozenset[int]
    params: dict[int, int | tuple[int, int]]

    def spec(self) -> str:
        table = TABLES[self.name]
        if self.enabled == frozenset(table) and all(self.params[r] == table[r] for r in table):
            return self.name
        parts = []
        for rule in sorted(self.enabled):
            value = self.params[rule]
            if value == table[rule] or rule == 1:
                parts.append(str(rule))
            else:
                parts.append(f"{rule}={value[0]}/{value[1]}" if isinstance(value, tuple) else f"{rule}={value}")
        return f"{self.name}:{','.join(parts)}"


def parse_rules(spec: str) -> RuleSet:
    """``nelson``, ``we``, ``limits`` or ``set:rule[=param],...``; raises RuleSpecError saying what is wrong."""
    if not isinstance(spec, str) or not spec.strip():
        raise RuleSpecError("rules: expected nelson, we or limits, optionally with rules (nelson:1,2=7,5)")
    name, _, body = spec.strip().partition(":")
    name = name.strip().lower()
    if name not in TABLES:
        raise RuleSpecError(f"rules {spec!r}: the set is nelson, we or limits, not {name!r}")
    table = TABLES[name]
    params: dict[int, int | tuple[int, int]] = dict(table)
    if not body.strip():
        return RuleSet(name, frozenset(table), params)
    enabled = set()
    for item in body.split(","):
        rule_text, _, value = item.strip().partition("=")
        if not rule_text.strip().isdigit() or int(rule_text) not in table:
            raise RuleSpecError(f"rules {spec!r}: {name} has rules {', '.join(map(str, table))}, not {rule_text!r}")
        rule = int(rule_text)
        enabled.add(rule)
        if not value:
            continue
        if rule == 1:
            raise RuleSpecError(f"rules {spec!r}: rule 1 takes no parameter (its limits are the chart's own)")
        if isinstance(table[rule], tuple):
            m_text, _, k_text = value.partition("/")
            if not (m_text.strip().isdigit() and k_text.strip().isdigit()):
                raise RuleSpecError(f"rules {spec!r}: rule {rule} takes m/k (e.g. {rule}=2/3), not {value!r}")
            m, k = int(m_text), int(k_text)
            if not 1 <= m <= k <= 50:
                raise RuleSpecError(f"rules {spec!r}: rule {rule} needs 1 <= m <= k <= 50, not {m}/{k}")
            params[rule] = (m, k)
        else:
            if not value.strip().isdigit() or not 2 <= int(value) <= 50:
                raise RuleSpecError(f"rules {spec!r}: rule {rule} takes a run length of 2 to 50, not {value!r}")
            params[rule] = int(value)
    if name == "nelson" and 4 in enabled and params[4] < 3:  # type: ignore[operator]
        raise RuleSpecError(f"rules {spec!r}: rule 4 (alternating) needs at least 3 points")
    return RuleSet(name, frozenset(enabled), params)


def _run_lengths(flags: np.ndarray) -> np.ndarray:
    """For each point, how many consecutive True flags end there."""
    idx = np.arange(len(flags))
    last_false = np.maximum.accumulate(np.where(flags, -1, idx))
    return idx - last_false


def _windows_all(flags: np.ndarray, k: int) -> np.ndarray:
    """End indices of windows of ``k`` consecutive True flags."""
    if len(flags) < k:
        return np.array([], dtype=np.int64)
    return np.flatnonzero(_run_lengths(flags) >= k)


def _window_counts(flags: np.ndarray, k: int) -> np.ndarray:
    """Number of True flags in the window of ``k`` points ending at each index from k - 1 on."""
    csum = np.concatenate(([0], np.cumsum(flags, dtype=np.int64)))
    return csum[k:] - csum[:-k]


def _windows_count(flags: np.ndarray, m: int, k: int) -> np.ndarray:
    """End indices of windows of ``k`` points with at least ``m`` flags, the last point flagged."""
    if len(flags) < k:
        return np.array([], dtype=np.int64)
    ends = np.flatnonzero((_window_counts(flags, k) >= m) & flags[k - 1 :]) + k - 1
    return ends


def _emit(rule: str, ends: np.ndarray, k: int, out: list[Violation], flags: np.ndarray | None = None) -> None:
    if flags is None:
        for e in ends.tolist():
            out.append(Violation(rule, e, tuple(range(e - k + 1, e + 1))))
        return
    for e in ends.tolist():
        start = e - k + 1
        chosen = tuple((np.flatnonzero(flags[start : e + 1]) + start).tolist())
        out.append(Violation(rule, e, chosen))


def evaluate(
    chart: Chart,
    rules: str | RuleSet = "nelson",
    enabled: set[int] | None = None,
    params: dict[int, int | tuple[int, int]] | None = None,
) -> list[Violation]:
    """Violations of the chosen rule set (a spec such as ``nelson:1,2=7`` or a RuleSet), optionally only some
    rules (``enabled``) or other parameters (``params``), sorted by completing point."""
    try:
        rule_set = rules if isinstance(rules, RuleSet) else parse_rules(rules)
    except RuleSpecError as exc:
        raise ValueError(str(exc)) from None
    table = dict(rule_set.params)
    table.update(params or {})
    active = set(rule_set.enabled) & (set(enabled) if enabled is not None else set(table))
    prefix = rule_set.name
    x = np.asarray(chart.values, dtype=float)
    centre = np.asarray(chart.centre, dtype=float)
    sigma = np.asarray(chart.sigma, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        zscore = np.where(sigma > 0, (x - centre) / sigma, 0.0)
    above, below = x > centre, x < centre
    out: list[Violation] = []

    # Beyond the control limits (rule 1 of every set): strictly outside.
    if 1 in active:
        ucl, lcl = np.asarray(chart.ucl, dtype=float), np.asarray(chart.lcl, dtype=float)
        name = "limit" if prefix == "limits" else f"{prefix}1"
        for i in np.flatnonzero((x > ucl) | (x < lcl)).tolist():
            out.append(Violation(name, i, (i,)))
    if prefix == "nelson":
        if 2 in active:
            k = int(table[2])  # type: ignore[arg-type]
            for side in (above, below):
                _emit("nelson2", _windows_all(side, k), k, out)
        if 3 in active:
            k = int(table[3])  # type: ignore[arg-type]
            d = np.diff(x)
            for trend in (d > 0, d < 0):
                _emit("nelson3", _windows_all(trend, k - 1) + 1, k, out)
        if 4 in active:
            k = int(table[4])  # type: ignore[arg-type]
            d = np.sign(np.diff(x))
            alt = (d[1:] * d[:-1]) < 0
            _emit("nelson4", _windows_all(alt, k - 2) + 2, k, out)
    for rule, level in _ZONE_RULES[prefix].items():
        if rule in active:
            m, k = table[rule]  # type: ignore[misc]
            for side in (zscore > level, zscore < -level):
                _emit(f"{prefix}{rule}", _windows_count(side, m, k), k, out, side)
    if prefix == "nelson":
        if 7 in active:
            k = int(table[7])  # type: ignore[arg-type]
            _emit("nelson7", _windows_all(np.abs(zscore) < 1.0, k), k, out)
        if 8 in active:
            k = int(table[8])  # type: ignore[arg-type]
            beyond = np.abs(zscore) > 1.0
            ends = _windows_all(beyond, k)
            if ends.size:
                # A mixture: the window holds points on both sides of the centre line.
                ups, downs = _window_counts(zscore > 1.0, k), _window_counts(zscore < -1.0, k)
                ends = ends[(ups[ends - k + 1] > 0) & (downs[ends - k + 1] > 0)]
            _emit("nelson8", ends, k, out)
    elif prefix == "we" and 4 in active:
        k = int(table[4])  # type: ignore[arg-type]
        for side in (above, below):
            _emit("we4", _windows_all(side, k), k, out)
    out.sort(key=lambda v: (v.index, v.rule))
    return out
