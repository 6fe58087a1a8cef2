"""Funding rules of co-funded smart-factory projects (pure).

A program sets, per year and project level, the state's share at most (``state_max_pct`` of the budget, and at
most ``state_cap`` in money) and the sponsor's share at least (``sponsor_min_pct``); the factory pays the rest.
A typical rule: state up to 30 %, parent company at least 30 %, supplier the remainder; for the smallest firms
state and parent may together cover the whole cost.  A project's shares must add up to its budget exactly.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Rule:
    year: int
    level: str
    state_max_pct: float
    sponsor_min_pct: float
    state_cap: int


def check_rule(rule: Rule) -> list[str]:
    problems = []
    for name in ("state_max_pct", "sponsor_min_pct"):
        value = getattr(rule, name)
        if not 0 <= value <= 100:
            problems.append(f"{name} {value:g} must be between 0 and 100")
    if rule.state_max_pct + rule.sponsor_min_pct > 100:
        problems.append("the state's maximum and the sponsor's minimum share add up to more than 100 %")
    if rule.state_cap < 0:
        problems.append("state_cap must not be negative")
    return problems


def check_shares(budget: int, state: int, sponsor: int, factory: int, rule: Rule) -> list[str]:
    """Every way the shares break the rule, each named with the figures."""
    problems = []
    if budget <= 0:
        problems.append("the budget must be more than zero")
    for name, amount in (("state", state), ("sponsor", sponsor), ("factory", factory)):
        if amount < 0:
            problems.append(f"the {name} share {amount:,} must not be negative")
    if state + sponsor + factory != budget:
        problems.append(f"the shares add up to {state + sponsor + factory:,}, not the budget {budget:,}")
    if budget > 0:
        if state * 100 > rule.state_max_pct * budget:
            problems.append(
                f"the state share {state:,} is {state * 100 / budget:.1f} % of the budget; the {rule.year} "
                f"{rule.level} rule allows at most {rule.state_max_pct:g} %"
            )
        if sponsor * 100 < rule.sponsor_min_pct * budget:
            problems.append(
                f"the sponsor share {sponsor:,} is {sponsor * 100 / budget:.1f} % of the budget; the {rule.year} "
                f"{rule.level} rule asks for at least {rule.sponsor_min_pct:g} %"
            )
    if state > rule.state_cap:
        problems.append(f"the state share {state:,} is above the {rule.year} {rule.level} cap of {rule.state_cap:,}")
    return problems
