"""Defect rates in PPM by product, machine, shift or defect code, and the Pareto of defect codes.

PPM here is defective units per million produced (DPM-01 in the reference material; not DPMO): a unit that is
scrapped or sent to rework is one defective, whatever its defect code.  For a group, PPM = (SQ + RQ) / PQ x 10^6
with PQ = GQ + SQ + RQ of that group.  By defect code, the share of each code in the defective units is given,
and its contribution to the overall PPM (units with that code / all units produced x 10^6).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from shopfloor.analytics.pareto import pareto
from shopfloor.model.events import CountEvent, CountKind

GROUPS = ("product", "machine", "shift", "defect")
NO_CODE = "(no code)"


@dataclass(frozen=True)
class DefectRow:
    key: str
    produced: int
    good: int
    scrap: int
    rework: int
    ppm: float | None
    share_pct: float | None = None
    cumulative_pct: float | None = None

    def to_dict(self) -> dict:
        return {
            "key": self.key,
            "produced": self.produced,
            "good": self.good,
            "scrap": self.scrap,
            "rework": self.rework,
            "ppm": self.ppm,
            "share_pct": self.share_pct,
            "cumulative_pct": self.cumulative_pct,
        }


def _ppm(defective: int, produced: int) -> float | None:
    return defective * 1_000_000 / produced if produced else None


def defect_rates(
    counts: Iterable[CountEvent], by: str, shift_of: Callable[[CountEvent], str] | None = None
) -> list[DefectRow]:
    if by not in GROUPS:
        raise ValueError(f"by {by!r}: expected one of {', '.join(GROUPS)}")
    counts = list(counts)
    if by == "defect":
        produced = sum(c.quantity for c in counts)
        defective = [(c.reason or NO_CODE, c) for c in counts if c.kind is not CountKind.GOOD]
        rows = pareto((code, float(c.quantity), 1) for code, c in defective)
        out = []
        for r in rows:
            scrap = sum(c.quantity for code, c in defective if code == r.category and c.kind is CountKind.SCRAP)
            rework = int(r.value) - scrap
            out.append(
                DefectRow(
                    r.category, produced, 0, scrap, rework, _ppm(int(r.value), produced), r.share_pct, r.cumulative_pct
                )
            )
        return out
    sums: dict[str, list[int]] = {}
    for c in counts:
        if by == "product":
            key = c.product or "(no product)"
        elif by == "machine":
            key = c.machine
        else:
            if shift_of is None:
                raise ValueError("grouping by shift needs the shift calendar")
            key = shift_of(c)
        acc = sums.setdefault(key, [0, 0, 0])
        acc[{CountKind.GOOD: 0, CountKind.SCRAP: 1, CountKind.REWORK: 2}[c.kind]] += c.quantity
    rows = []
    for key, (good, scrap, rework) in sums.items():
        produced = good + scrap + rework
        rows.append(DefectRow(key, produced, good, scrap, rework, _ppm(scrap + rework, produced)))
    rows.sort(key=lambda r: (-(r.ppm or 0), r.key))
    return rows
