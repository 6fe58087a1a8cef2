"""A control chart study in one call: the chart (or pair of charts) of a kind, its rule violations and, for
variables with specification limits, the capability.  Used by ``shopfloor spc`` and by inspection
characteristics, so both give the same numbers.

Chart kinds: ``xbar-r``, ``xbar-s`` (subgroups, equal or unequal sizes), ``imr`` (individual values), ``p`` and
``u`` (counts with the units inspected per subgroup), ``np`` (counts, constant sample size), ``c`` (counts), ``ewma``
(individual values, or subgroup means when given subgroups) and ``cusum`` (individual values or subgroup means).

Phase I: limits from the first ``phase1`` points (all when None), points listed in ``exclude`` (0-based) left out
of the estimate but still plotted and tested (revised limits).  Known values: ``centre`` (the target of EWMA and
CUSUM; p, c or u for attribute charts) and ``sigma`` (of individual values) replace the estimates.  ``nsigmas`` is the
width of the limits (L of the EWMA).  Run rules: ``rules`` as in ``run_rules.parse_rules``; by default Nelson on
Shewhart charts and only the limits on EWMA (``limits``); a CUSUM signals when a sum exceeds its decision interval.

Capability is computed on one stated set of values: the phase I subgroups less the excluded ones
(``capability_on="phase1"``, the default) or every subgroup shown (``"all"``), with the sigma within subgroups of the
chart's estimate; the answer's ``capability.basis`` says which set, how many subgroups and values, and which method
(normal, percentile or Box-Cox).  Every index in the answer is 0-based.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from shopfloor.analytics import spc
from shopfloor.analytics.capability import capability
from shopfloor.analytics.run_rules import RuleSpecError, evaluate, parse_rules

CHARTS = ("xbar-r", "xbar-s", "imr", "p", "np", "c", "u", "ewma", "cusum")
VARIABLE_CHARTS = ("xbar-r", "xbar-s", "imr", "ewma", "cusum")
SUBGROUP_CHARTS = ("xbar-r", "xbar-s")
CAPABILITY_SETS = ("phase1", "all")


def default_rules(chart: str) -> str:
    return "limits" if chart in ("ewma", "cusum") else "nelson"


def _baseline_mask(count: int, phase1: int | None, exclude: Sequence[int] | None) -> np.ndarray:
    return spc._mask(count, phase1, exclude)


def control_study(
    chart: str,
    values: Sequence[float] | None = None,
    groups: Sequence[Sequence[float]] | None = None,
    sizes: Sequence[float] | None = None,
    subgroup_size: int | None = None,
    usl: float | None = None,
    lsl: float | None = None,
    phase1: int | None = None,
    exclude: Sequence[int] | None = None,
    rules: str | None = None,
    lam: float = 0.2,
    target: float | None = None,
    k: float = 0.5,
    h: float = 5.0,
    centre: float | None = None,
    sigma: float | None = None,
    nsigmas: float = 3.0,
    ewma_limits: str = "exact",
    sigma_method: str = "uwave",
    nominal: float | None = None,
    capability_on: str = "phase1",
    capability_method: str = "normal",
    confidence: float = 0.95,
) -> dict[str, Any]:
    """``{"chart", "rules", "charts": [Chart.to_dict() + violations], "capability"?}``; raises ``spc.SpcError`` or
    ``ValueError`` with the reason when the data cannot make this chart.  ``target`` is a synonym of ``centre``."""
    if chart not in CHARTS:
        raise spc.SpcError(f"chart {chart!r}: expected one of {', '.join(CHARTS)}")
    if target is not None and centre is not None and target != centre:
        raise spc.SpcError("give the known centre once (centre or target), not two different values")
    centre = centre if centre is not None else target
    if capability_on not in CAPABILITY_SETS:
        raise spc.SpcError(f"capability on {capability_on!r}: expected phase1 or all")
    if ewma_limits not in ("exact", "asymptotic"):
        raise spc.SpcError(f"EWMA limits {ewma_limits!r}: expected exact or asymptotic")
    rule_spec = rules or default_rules(chart)
    if chart == "cusum" and rules and parse_rules(rules).name != "limits":
        raise spc.SpcError("a CUSUM chart is judged by its decision interval h only; run rules do not apply")
    try:
        rule_set = parse_rules(rule_spec)
    except RuleSpecError as exc:
        raise spc.SpcError(str(exc)) from None
    charts: list[spc.Chart]
    sigma_within = None
    cap_groups: list[list[float]] | None = None
    if chart in SUBGROUP_CHARTS or (chart in ("ewma", "cusum") and groups is not None):
        if groups is None:
            raise spc.SpcError(f"an {chart} chart needs subgroups")
        groups = [list(g) for g in groups]
        cap_groups = groups
        if chart == "xbar-r":
            charts = list(spc.xbar_r(groups, phase1, exclude, centre, sigma, nsigmas))
        elif chart == "xbar-s":
            charts = list(spc.xbar_s(groups, phase1, exclude, centre, sigma, nsigmas, sigma_method))
        else:
            # EWMA / CUSUM of subgroup means, sigma within subgroups from the baseline's ranges.
            within = spc.xbar_r(groups, phase1, exclude, centre, sigma)[0]
            means, n = within.values, np.array([len(g) for g in groups], dtype=float)
            mu, s = float(within.centre[0]), float(within.extra["sigma"])
            if chart == "ewma":
                charts = [spc.ewma(means, lam, mu, s, nsigmas, ewma_limits == "asymptotic", phase1, exclude, sizes=n)]
            else:
                if not (n == n[0]).all():
                    raise spc.SpcError("a CUSUM of subgroup means needs subgroups of one size")
                charts = [spc.cusum(means, mu, s / np.sqrt(n[0]), k, h)]
        sigma_within = charts[0].extra["sigma"]
    else:
        if values is None:
            raise spc.SpcError(f"a {chart} chart needs values")
        if chart == "imr":
            charts = list(spc.imr(values, phase1, exclude, centre, sigma, nsigmas))
            sigma_within = charts[0].extra["sigma"]
            cap_groups = [[v] for v in values]
        elif chart in ("p", "u"):
            if sizes is None:
                raise spc.SpcError(f"a {chart} chart needs the units inspected per subgroup")
            fn = spc.p_chart if chart == "p" else spc.u_chart
            charts = [fn(values, sizes, phase1, exclude, centre, nsigmas)]
        elif chart == "np":
            if not subgroup_size:
                raise spc.SpcError("an np chart needs the constant sample size")
            charts = [spc.np_chart(values, subgroup_size, phase1, exclude, centre, nsigmas)]
        elif chart == "c":
            charts = [spc.c_chart(values, phase1, exclude, centre, nsigmas)]
        elif chart == "ewma":
            charts = [spc.ewma(values, lam, centre, sigma, nsigmas, ewma_limits == "asymptotic", phase1, exclude)]
            sigma_within = charts[0].extra["sigma"]
            cap_groups = [[v] for v in values]
        else:
            x = np.asarray(values, dtype=float)
            mask = _baseline_mask(len(x), phase1, exclude)
            mu = centre if centre is not None else float(x[mask].mean())
            s = sigma if sigma is not None else spc.moving_range_sigma(x, mask)
            charts = [spc.cusum(values, mu, s, k, h)]
            sigma_within = s
            cap_groups = [[v] for v in values]
    result: dict[str, Any] = {"chart": chart, "rules": rule_set.spec() if chart != "cusum" else "cusum", "charts": []}
    for c in charts:
        doc = c.to_dict()
        doc["violations"] = (
            [v.to_dict() for v in evaluate(c, rule_set)]
            if c.kind != "cusum"
            else [{"rule": "cusum", "index": i, "points": [i]} for i in c.extra["signals"]]
        )
        result["charts"].append(doc)
    if chart in VARIABLE_CHARTS and cap_groups is not None and (usl is not None or lsl is not None):
        result["capability"] = _capability(
            cap_groups, phase1, exclude, capability_on, usl, lsl, sigma_within, nominal, capability_method, confidence
        )
    return result


def _capability(
    groups: list[list[float]],
    phase1: int | None,
    exclude: Sequence[int] | None,
    on: str,
    usl: float | None,
    lsl: float | None,
    sigma_within: float | None,
    nominal: float | None,
    method: str,
    confidence: float,
) -> dict[str, Any]:
    count = len(groups)
    mask = _baseline_mask(count, phase1, exclude) if on == "phase1" else np.ones(count, dtype=bool)
    chosen = np.flatnonzero(mask)
    flat = [v for i in chosen.tolist() for v in groups[i]]
    excluded = sorted(set(exclude or ()) & set(range(phase1 or count))) if on == "phase1" else []
    if on == "phase1" and phase1:
        described = f"phase I subgroups 1-{phase1}"
    else:
        described = f"all {count} subgroups"
    if excluded:
        described += f" less {len(excluded)} excluded"
    basis = {
        "set": on,
        "subgroups": int(chosen.size),
        "values": len(flat),
        "excluded": excluded,
        "method": method,
        "description": f"{described} ({chosen.size} subgroups, {len(flat)} values), {method} method",
    }
    cap = capability(
        flat, usl=usl, lsl=lsl, sigma_within=sigma_within, target=nominal, confidence=confidence, method=method
    ).to_dict()
    return cap | {"basis": basis}
