"""Funding rules of co-funded smart-factory projects, written as data (pure).

A program sets, per project type and year, a rule for each party that pays for a project: the state, the
sponsor (the parent company or public body that runs the co-operative scheme), the SME that gets the factory, and
any other payer (a local government, ``local``).  Per party a rule may give a minimum and a maximum share of the
project's total (in percent, exact decimals: a 33.3 % limit accepts 333 of 1,000 won) and a cap in won; the
project's total may have a minimum and a maximum.  A rule holds from ``effective_from`` to ``effective_to``
(inclusive; open-ended when None): a project is checked against the rule of its program, type and year in force on
the day its agreement was signed.  A project's shares add up to its total exactly; a party the rule does not name
pays nothing.

Money is integers of won; shares are compared exactly (``amount x 100 <= max % x total`` in integers and Decimal,
never in floating point).  Every refusal names the party, its share, the limit and the rule.

Example, the 2022 co-operative smart-factory scheme of the Ministry of SMEs and Startups (type 1: the state at most
30 % and at most 42 M won for the basic level, the sponsor at least 30 %, the SME at most 40 %; type 2 for small
firms: at most 20 M won in all, state and sponsor 50 % each and at most 10 M won each) is written as data in
``tests/data/hub_rules_2022.json``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from shopfloor.errors import (
    BudgetNotPositive,
    DomainError,
    PartyCode,
    PercentRange,
    RuleDates,
    RuleLimitsCrossed,
    RuleMinimumsAboveHundred,
    RuleTotalsCrossed,
    ShareAboveCap,
    ShareAboveMaximum,
    ShareBelowMinimum,
    ShareNegative,
    ShareOfPartyOutsideRule,
    SharesNotBudget,
    TotalAboveMaximum,
    TotalBelowMinimum,
    WonNegative,
)

STATE, SPONSOR, SME = "state", "sponsor", "sme"
PARTY_PATTERN = re.compile(r"^[a-z][a-z0-9_]{0,31}$")
PERCENT_PLACES = 4  # 33.3333 %: finer limits than that are not written in any program's notice


def won(amount: int) -> str:
    """An amount as refusals state it: digits grouped by thousands, as Korean and English readers both write."""
    return f"{amount:,}"


def percent_text(value: Decimal) -> str:
    """A percentage as written in a rule: ``33.3``, ``40``, never ``40.0000``."""
    text = format(value.normalize(), "f")
    return text


def parse_percent(value: Any, name: str) -> Decimal:
    """A percentage given as text or a number, exact: ``"33.3"`` and ``33.3`` are both 33.3."""
    try:
        pct = value if isinstance(value, Decimal) else Decimal(str(value))
    except (InvalidOperation, ValueError):
        raise PercentRange(name=name, value=str(value)) from None
    if not pct.is_finite() or not Decimal(0) <= pct <= Decimal(100) or pct != round(pct, PERCENT_PLACES):
        raise PercentRange(name=name, value=str(value))
    return pct


@dataclass(frozen=True)
class PartyLimit:
    """What one party may pay: at least ``min_pct`` and at most ``max_pct`` of the total, at most ``cap`` won."""

    party: str
    min_pct: Decimal | None = None
    max_pct: Decimal | None = None
    cap: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "min_pct": None if self.min_pct is None else percent_text(self.min_pct),
            "max_pct": None if self.max_pct is None else percent_text(self.max_pct),
            "cap": self.cap,
        }


@dataclass(frozen=True)
class Rule:
    """The funding rule of a program's project type in a year, in force from ``effective_from``."""

    program: str
    project_type: str
    year: int
    effective_from: date
    parties: tuple[PartyLimit, ...]
    effective_to: date | None = None
    total_min: int | None = None
    total_max: int | None = None
    note: str | None = field(default=None, compare=False)

    @property
    def name(self) -> str:
        """How refusals name the rule: program, type, year and the day it took effect."""
        return f"{self.program} {self.project_type} {self.year} ({self.effective_from.isoformat()})"

    def limit(self, party: str) -> PartyLimit | None:
        return next((p for p in self.parties if p.party == party), None)

    def in_force(self, day: date) -> bool:
        return self.effective_from <= day and (self.effective_to is None or day <= self.effective_to)

    def to_dict(self) -> dict[str, Any]:
        return {
            "program": self.program,
            "type": self.project_type,
            "year": self.year,
            "effective_from": self.effective_from.isoformat(),
            "effective_to": self.effective_to.isoformat() if self.effective_to else None,
            "total_min": self.total_min,
            "total_max": self.total_max,
            "parties": {p.party: p.to_dict() for p in self.parties},
            "note": self.note,
            "name": self.name,
        }

    @classmethod
    def from_dict(cls, doc: dict[str, Any], program: str | None = None) -> Rule:
        """A rule as written in data (``tests/data/hub_rules_2022.json``, the API's body); percentages exact."""
        parties = []
        for party, spec in (doc.get("parties") or {}).items():
            spec = spec or {}
            parties.append(
                PartyLimit(
                    party,
                    None if spec.get("min_pct") is None else parse_percent(spec["min_pct"], f"{party}.min_pct"),
                    None if spec.get("max_pct") is None else parse_percent(spec["max_pct"], f"{party}.max_pct"),
                    None if spec.get("cap") is None else int(spec["cap"]),
                )
            )
        to = doc.get("effective_to")
        return cls(
            program=program or doc["program"],
            project_type=doc["type"],
            year=int(doc["year"]),
            effective_from=_day(doc["effective_from"]),
            effective_to=_day(to) if to else None,
            parties=tuple(parties),
            total_min=doc.get("total_min"),
            total_max=doc.get("total_max"),
            note=doc.get("note"),
        )


def _day(value: Any) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value))


def check_rule(rule: Rule) -> list[DomainError]:
    """Every way a rule cannot be met or is written wrong."""
    problems: list[DomainError] = []
    mins = Decimal(0)
    for limit in rule.parties:
        if not PARTY_PATTERN.match(limit.party):
            problems.append(PartyCode(party=limit.party))
        for name in ("min_pct", "max_pct"):
            value = getattr(limit, name)
            if value is not None and not Decimal(0) <= value <= Decimal(100):
                problems.append(PercentRange(name=f"{limit.party}.{name}", value=percent_text(value)))
        if limit.min_pct is not None and limit.max_pct is not None and limit.min_pct > limit.max_pct:
            problems.append(
                RuleLimitsCrossed(party=limit.party, low=percent_text(limit.min_pct), high=percent_text(limit.max_pct))
            )
        if limit.cap is not None and limit.cap < 0:
            problems.append(WonNegative(name=f"{limit.party}.cap"))
        mins += limit.min_pct or 0
    if mins > 100:
        problems.append(RuleMinimumsAboveHundred(total=percent_text(mins)))
    for name in ("total_min", "total_max"):
        value = getattr(rule, name)
        if value is not None and value < 0:
            problems.append(WonNegative(name=name))
    if rule.total_min is not None and rule.total_max is not None and rule.total_min > rule.total_max:
        problems.append(RuleTotalsCrossed(low=won(rule.total_min), high=won(rule.total_max)))
    if rule.effective_to is not None and rule.effective_to < rule.effective_from:
        problems.append(RuleDates(start=rule.effective_from.isoformat(), end=rule.effective_to.isoformat()))
    return problems


def share_pct(amount: int, budget: int) -> str:
    """A share in percent as a refusal shows it: exact to two places, trailing zeros dropped (``33.3``)."""
    pct = (Decimal(amount) * 100 / Decimal(budget)).quantize(Decimal("0.01"))
    return percent_text(pct)


def check_shares(budget: int, shares: dict[str, int], rule: Rule) -> list[DomainError]:
    """Every way the shares of a project break ``rule``, each naming the party, its share, the limit and the
    rule.  A share exactly at a limit is within it."""
    problems: list[DomainError] = []
    name = rule.name
    if budget <= 0:
        problems.append(BudgetNotPositive())
    for party, amount in shares.items():
        if amount < 0:
            problems.append(ShareNegative(party=party, amount=won(amount)))
    total = sum(shares.values())
    if total != budget:
        problems.append(SharesNotBudget(total=won(total), budget=won(budget)))
    for party, amount in shares.items():
        if amount and rule.limit(party) is None:
            problems.append(ShareOfPartyOutsideRule(party=party, amount=won(amount), rule=name))
    if budget > 0:
        for limit in rule.parties:
            amount = shares.get(limit.party, 0)
            # amount / budget x 100 against the limit, in integers and exact decimals
            if limit.min_pct is not None and Decimal(amount) * 100 < limit.min_pct * budget:
                problems.append(
                    ShareBelowMinimum(
                        party=limit.party,
                        amount=won(amount),
                        pct=share_pct(amount, budget),
                        limit=percent_text(limit.min_pct),
                        rule=name,
                    )
                )
            if limit.max_pct is not None and Decimal(amount) * 100 > limit.max_pct * budget:
                problems.append(
                    ShareAboveMaximum(
                        party=limit.party,
                        amount=won(amount),
                        pct=share_pct(amount, budget),
                        limit=percent_text(limit.max_pct),
                        rule=name,
                    )
                )
            if limit.cap is not None and amount > limit.cap:
                problems.append(ShareAboveCap(party=limit.party, amount=won(amount), cap=won(limit.cap), rule=name))
    if rule.total_max is not None and budget > rule.total_max:
        problems.append(TotalAboveMaximum(total=won(budget), limit=won(rule.total_max), rule=name))
    if rule.total_min is not None and budget < rule.total_min:
        problems.append(TotalBelowMinimum(total=won(budget), limit=won(rule.total_min), rule=name))
    return problems


def rule_in_force(rules: list[Rule], day: date) -> Rule | None:
    """Of a program type's rules for a year, the one in force on ``day`` (the latest to take effect)."""
    live = [r for r in rules if r.in_force(day)]
    return max(live, key=lambda r: r.effective_from) if live else None
