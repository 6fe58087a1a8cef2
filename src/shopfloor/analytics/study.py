"""A control chart study in one call: the chart (or pair of charts) of a kind, its run-rule violations and, for
variables with specification limits, the capability.  Used by ``shopfloor spc`` and by inspection
characteristics, so both give the same numbers.

Chart kinds: ``xbar-r``, ``xbar-s`` (subgroups), ``imr`` (individual values), ``p`` and ``u`` (counts with the
units inspected per subgroup), ``np`` (counts, constant sample size), ``c`` (counts), ``ewma`` and ``cusum``
(individual values).  Phase I: limits from the first ``phase1`` points (all when None), points listed in
``exclude`` left out of the estimate but still plotted and tested.  Phase II: pass the frozen ``centre`` and
``sigma`` (of individual values for variables; ``centre`` only for attribute charts).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from shopfloor.analytics import spc
from shopfloor.analytics.capability import capability
from shopfloor.analytics.run_rules import evaluate

CHARTS = ("xbar-r", "xbar-s", "imr", "p", "np", "c", "u", "ewma", "cusum")
VARIABLE_CHARTS = ("xbar-r", "xbar-s", "imr", "ewma", "cusum")


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
    rules: str = "nelson",
    lam: float = 0.2,
    target: float | None = None,
    k: float = 0.5,
    h: float = 5.0,
    centre: float | None = None,
    sigma: float | None = None,
) -> dict[str, Any]:
    """``{"chart", "charts": [Chart.to_dict() + violations], "capability"?}``; raises ``spc.SpcError`` or
    ``ValueError`` with the reason when the data cannot make this chart."""
    if chart not in CHARTS:
        raise spc.SpcError(f"chart {chart!r}: expected one of {', '.join(CHARTS)}")
    charts: list[spc.Chart]
    sigma_within = None
    if chart in ("xbar-r", "xbar-s"):
        if groups is None:
            raise spc.SpcError(f"an {chart} chart needs subgroups")
        fn = spc.xbar_r if chart == "xbar-r" else spc.xbar_s
        charts = list(fn(groups, baseline=phase1, exclude=exclude, centre=centre, sigma=sigma))
        sigma_within = charts[0].extra["sigma"]
        flat = [v for g in groups for v in g]
    else:
        if values is None:
            raise spc.SpcError(f"a {chart} chart needs values")
        flat = list(values)
        if chart == "imr":
            charts = list(spc.imr(values, baseline=phase1, exclude=exclude, centre=centre, sigma=sigma))
            sigma_within = charts[0].extra["sigma"]
        elif chart in ("p", "u"):
            if sizes is None:
                raise spc.SpcError(f"a {chart} chart needs the units inspected per subgroup")
            fn = spc.p_chart if chart == "p" else spc.u_chart
            charts = [fn(values, sizes, baseline=phase1, exclude=exclude, centre=centre)]
        elif chart == "np":
            if not subgroup_size:
                raise spc.SpcError("an np chart needs the constant sample size")
            charts = [spc.np_chart(values, subgroup_size, baseline=phase1, exclude=exclude, centre=centre)]
        elif chart == "c":
            charts = [spc.c_chart(values, baseline=phase1, exclude=exclude, centre=centre)]
        elif chart == "ewma":
            charts = [spc.ewma(values, lam=lam, target=target, baseline=phase1, sigma=sigma)]
        else:
            base = list(values[:phase1] if phase1 else values)
            mu = target if target is not None else sum(base) / len(base)
            s = sigma if sigma is not None else spc.imr(base)[0].extra["sigma"]
            charts = [spc.cusum(values, target=mu, sigma=s, k=k, h=h)]
    result: dict[str, Any] = {"chart": chart, "charts": []}
    for c in charts:
        doc = c.to_dict()
        doc["violations"] = (
            [v.to_dict() for v in evaluate(c, rules)]
            if c.kind != "cusum"
            else [{"rule": "cusum", "index": i, "points": [i]} for i in c.extra["signals"]]
        )
        result["charts"].append(doc)
    if chart in VARIABLE_CHARTS and (usl is not None or lsl is not None):
        result["capability"] = capability(flat, usl=usl, lsl=lsl, sigma_within=sigma_within).to_dict()
    return result
