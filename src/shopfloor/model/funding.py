"""Funding rules of co-funded smart-factory projects (pure).

A program sets, per year and project level, the state's share at most (``state_max_pct`` of the budget, and at
most ``state_cap`` in money) and the sponsor's share at least (``sponsor_min_pct``); the factory pays the rest.
A typical rule: state up to 30 %, parent company at least 30 %, supplier the remainder; for the smallest firms
state and parent may together cover the whole cost.  A project's shares must add up to its budget exactly.
"""

from __future__ import annotations

from dataclasses import dataclass

from shopfloor.errors import (
    BudgetNotPositive,
    DomainError,
    PercentRange,
    ShareNegative,
    SharesAboveHundred,
    SharesNotBudget,
    SponsorShareTooLow,
    StateCapNegative,
    StateShareAboveCap,
    StateShareTooHigh,
)


@dataclass(frozen=True)
class Rule:
    year: int
    level: str
    state_max_pct: float
    sponsor_min_pct: float
    state_cap: int


def check_rule(rule: Rule) -> list[DomainError]:
    problems: list[DomainError] = []
    for name in ("state_max_pct", "sponsor_min_pct"):
        value = getattr(rule, name)
        if not 0 <= value <= 100:
            problems.append(PercentRange(name=name, value=f"{value:g}"))
    if rule.state_max_pct + rule.sponsor_min_pct > 100:
        problems.append(SharesAboveHundred())
    if rule.state_cap < 0:
        problems.append(StateCapNegative())
    return problems


def check_shares(budget: int, state: int, sponsor: int, factory: int, rule: Rule) -> list[DomainError]:
    """Every way the shares break the rule, each named with the figures."""
    problems: list[DomainError] = []
    if budget <= 0:
        problems.append(BudgetNotPositive())
    for name, amount in (("state", state), ("sponsor", sponsor), ("factory", factory)):
        if amount < 0:
            problems.append(ShareNegative(funder=name, amount=f"{amount:,}"))
    if state + sponsor + factory != budget:
        problems.append(SharesNotBudget(total=f"{state + sponsor + factory:,}", budget=f"{budget:,}"))
    year, level = rule.year, rule.level
    if budget > 0:
        if state * 100 > rule.state_max_pct * budget:
            pct, limit = f"{state * 100 / budget:.1f}", f"{rule.state_max_pct:g}"
            problems.append(StateShareTooHigh(amount=f"{state:,}", pct=pct, year=year, level=level, limit=limit))
        if sponsor * 100 < rule.sponsor_min_pct * budget:
            pct, limit = f"{sponsor * 100 / budget:.1f}", f"{rule.sponsor_min_pct:g}"
            problems.append(SponsorShareTooLow(amount=f"{sponsor:,}", pct=pct, year=year, level=level, limit=limit))
    if state > rule.state_cap:
        problems.append(StateShareAboveCap(amount=f"{state:,}", year=year, level=level, cap=f"{rule.state_cap:,}"))
    return problems
