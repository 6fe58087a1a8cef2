"""Monthly outcomes at the hub (pure): the KPIs a factory may share, their units and plausible ranges, which
months can be reported, and how a month's figure compares with a project's baseline and target.

Every shareable KPI has a ``KpiSpec``: its unit, the range a true value lies in (a ratio between 0 and 1, a defect
rate between 0 and 1,000,000 PPM), and whether lower is better.  A KPI name without a spec here (one added to the
shareable list later) gets ``GENERIC``: any finite number from 0 up, higher is better, shown without a unit.

Months: a factory reports a month once it has begun somewhere on Earth (in UTC+14, the first time zone to enter
it); the month is still running until it has ended there too, and a running month is reported only marked
``partial``.  Months before 2000 are refused as typing errors.

Attainment of a target (the share of the planned change that was achieved):

    attainment = (value - baseline) / (target - baseline)

1.0 when the target is met exactly, above 1 beyond it, 0 at the baseline, negative when worse than the baseline;
the same formula serves a KPI that should fall (PPM: baseline 10,000, target 2,000, value 6,000 gives 0.5) and one
that should rise.  Undefined (None) when target equals baseline or a figure is missing.  This is the "linear
target" progress of goal-tracking tools ((current - start) / (target - start), MetaPulse's help "Objective key
result progress calculation").  Improvement since the baseline is ``(value - baseline) / |baseline|`` in percent,
with its sign turned for a KPI whose lower values are better, so that positive is better either way.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from typing import Any

from shopfloor.errors import DomainError, KpiValueInvalid, MonthInFuture, MonthInvalid, MonthNotClosed

FIRST_YEAR = 2000
EARLIEST_ZONE = timedelta(hours=14)  # UTC+14 (Line Islands): where a month begins and ends first


@dataclass(frozen=True)
class KpiSpec:
    unit: str  # "%" for a ratio shown in percent, else the unit printed after the number
    low: float
    high: float
    lower_is_better: bool = False
    digits: int = 1  # decimals shown (of the percentage for a ratio)

    @property
    def ratio(self) -> bool:
        return self.unit == "%"


KPI_SPECS: dict[str, KpiSpec] = {
    "ppm": KpiSpec("PPM", 0, 1_000_000, lower_is_better=True, digits=0),
    "output_per_hour": KpiSpec("units/h", 0, 1e9, digits=1),
    "operating_rate": KpiSpec("%", 0, 1),
    # OEE above 1 means an ideal cycle time set slower than the machine runs: still a figure the factory measured
    "oee": KpiSpec("%", 0, 2),
    "labour_productivity": KpiSpec("units/person-h", 0, 1e9, digits=2),
    "lead_time_h": KpiSpec("h", 0, 100_000, lower_is_better=True),
    "first_pass_yield": KpiSpec("%", 0, 1),
    "scrap_ratio": KpiSpec("%", 0, 1, lower_is_better=True),
    "on_time_delivery": KpiSpec("%", 0, 1),
}
GENERIC = KpiSpec("", 0, 1e12)
# The KPIs a program follows unless it names its own: defect rate, output per hour, operating rate, productivity,
# OEE and lead time (only those among them that factories can share are kept, see ``program_kpis``).
PROGRAM_KPIS = ("ppm", "output_per_hour", "operating_rate", "labour_productivity", "oee", "lead_time_h")


def spec_of(kpi: str) -> KpiSpec:
    return KPI_SPECS.get(kpi, GENERIC)


def program_kpis(shareable: tuple[str, ...]) -> list[str]:
    """The default KPIs of a program: those of ``PROGRAM_KPIS`` that factories can share."""
    return [k for k in PROGRAM_KPIS if k in shareable]


def check_kpi_value(kpi: str, value: Any) -> DomainError | None:
    """None when ``value`` is a plausible figure of ``kpi`` (or None: undefined that month), else the refusal.
    A boolean is no number, whatever JSON libraries make of it."""
    if value is None:
        return None
    spec = spec_of(kpi)
    ok = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    if not ok or not spec.low <= value <= spec.high:
        shown = str(value)[:40]
        return KpiValueInvalid(kpi=kpi, value=shown, low=f"{spec.low:g}", high=f"{spec.high:g}")
    return None


def month_start(period: Any) -> date:
    """The first day of a ``YYYY-MM`` month from 2000 on; else ``MonthInvalid``."""
    text = str(period)
    if not (isinstance(period, str) and len(text) == 7 and text[4] == "-" and (text[:4] + text[5:]).isdigit()):
        raise MonthInvalid(period=text[:20])
    year, month = int(text[:4]), int(text[5:])
    if year < FIRST_YEAR or not 1 <= month <= 12:
        raise MonthInvalid(period=text)
    return date(year, month, 1)


def next_month(first: date) -> date:
    return date(first.year + (first.month == 12), first.month % 12 + 1, 1)


def month_running(period: str, now: datetime) -> bool:
    """Whether ``period`` is still running at ``now``: refuses a month that has not begun anywhere yet."""
    first = month_start(period)
    begins = datetime(first.year, first.month, 1, tzinfo=timezone.utc) - EARLIEST_ZONE
    if now < begins:
        raise MonthInFuture(period=period)
    after = next_month(first)
    return now < datetime(after.year, after.month, 1, tzinfo=timezone.utc) - EARLIEST_ZONE


def check_reportable(period: str, partial: bool, now: datetime) -> None:
    """A closed month, or the running month marked partial; never a month to come."""
    if month_running(period, now) and not partial:
        raise MonthNotClosed(period=period)


def attainment(baseline: float | None, target: float | None, value: float | None) -> float | None:
    """The share of the planned change achieved: (value - baseline) / (target - baseline)."""
    if baseline is None or target is None or value is None or target == baseline:
        return None
    return (value - baseline) / (target - baseline)


def improvement_pct(kpi: str, baseline: float | None, value: float | None) -> float | None:
    """Change since the baseline in percent of it, positive when better (whichever way the KPI improves)."""
    if baseline in (None, 0) or value is None:
        return None
    change = (value - baseline) / abs(baseline) * 100
    return -change if spec_of(kpi).lower_is_better else change


def target_met(kpi: str, target: float | None, value: float | None) -> bool | None:
    if target is None or value is None:
        return None
    return value <= target if spec_of(kpi).lower_is_better else value >= target


# How pages and documents name the KPIs and the parties (English; the catalogs translate them).
KPI_LABELS = {
    "ppm": "Defect rate",
    "output_per_hour": "Output per hour",
    "operating_rate": "Operating rate",
    "oee": "OEE",
    "labour_productivity": "Labour productivity",
    "lead_time_h": "Lead time",
    "first_pass_yield": "First pass yield",
    "scrap_ratio": "Scrap ratio",
    "on_time_delivery": "On-time delivery",
}
PARTY_LABELS = {"state": "State", "sponsor": "Sponsor", "sme": "SME", "local": "Local government"}
SELF_REPORTED_LABELS = {"sales": "Sales", "employees": "Employees", "manufacturing_cost": "Manufacturing cost"}


def kpi_label(kpi: str) -> str:
    return KPI_LABELS.get(kpi, kpi)


def party_label(party: str) -> str:
    return PARTY_LABELS.get(party, party)
