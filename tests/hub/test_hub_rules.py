"""Funding rules written as data: the 2022 co-operative smart factory scheme (tests/data/hub_rules_2022.json, its
source in tests/data/SOURCES.md), every broken share refused with its party, share, limit and rule, shares exactly
at a limit accepted (exact decimals, never floating point)."""

from __future__ import annotations

import json
from datetime import date
from fractions import Fraction
from pathlib import Path

import pytest

from shopfloor.errors import (
    PercentRange,
    RuleLimitsCrossed,
    RuleMinimumsAboveHundred,
    ShareAboveCap,
    ShareAboveMaximum,
    ShareBelowMinimum,
    ShareOfPartyOutsideRule,
    SharesNotBudget,
    TotalAboveMaximum,
)
from shopfloor.model.funding import Rule, check_rule, check_shares, parse_percent, rule_in_force

DATA = Path(__file__).parents[1] / "data" / "hub_rules_2022.json"
M = 1_000_000


@pytest.fixture(scope="module")
def rules() -> dict[str, Rule]:
    doc = json.loads(DATA.read_text(encoding="utf-8"))
    found = {r["type"]: Rule.from_dict(r, doc["program"]) for r in doc["rules"]}
    assert all(check_rule(r) == [] for r in found.values())
    return found


def test_the_basic_type_refuses_an_sme_share_above_40_percent(rules):
    basic = rules["type1-basic"]
    name = "SANGSAENG-2022 type1-basic 2022 (2022-01-01)"
    assert check_shares(100 * M, {"state": 0, "sponsor": 30 * M, "sme": 70 * M}, basic) == [
        ShareAboveMaximum(party="sme", amount="70,000,000", pct="70", limit="40", rule=name)
    ]
    assert check_shares(100 * M, {"state": 20 * M, "sponsor": 30 * M, "sme": 50 * M}, basic) == [
        ShareAboveMaximum(party="sme", amount="50,000,000", pct="50", limit="40", rule=name)
    ]
    (refusal,) = check_shares(100 * M, {"state": 20 * M, "sponsor": 30 * M, "sme": 50 * M}, basic)
    assert str(refusal) == (
        "the sme share of 50,000,000 won is 50 % of the total; "
        "the rule SANGSAENG-2022 type1-basic 2022 (2022-01-01) allows at most 40 %"
    )
    # every limit met exactly: state 30 %, sponsor 30 %, SME 40 %
    assert check_shares(100 * M, {"state": 30 * M, "sponsor": 30 * M, "sme": 40 * M}, basic) == []
    # a bigger project: 30 % of 150 M is 45 M, above the basic level's 42 M cap
    assert check_shares(150 * M, {"state": 45 * M, "sponsor": 45 * M, "sme": 60 * M}, basic) == [
        ShareAboveCap(party="state", amount="45,000,000", cap="42,000,000", rule=name)
    ]
    assert check_shares(150 * M, {"state": 42 * M, "sponsor": 48 * M, "sme": 60 * M}, basic) == []
    sponsor_short = check_shares(100 * M, {"state": 30 * M, "sponsor": 29_999_999, "sme": 40_000_001}, basic)
    assert sponsor_short == [
        ShareBelowMinimum(party="sponsor", amount="29,999,999", pct="30", limit="30", rule=name),
        ShareAboveMaximum(party="sme", amount="40,000,001", pct="40", limit="40", rule=name),
    ]


def test_the_small_firm_type_has_a_project_total_and_a_cap_per_party(rules):
    small = rules["type2-small"]
    name = "SANGSAENG-2022 type2-small 2022 (2022-01-01)"
    assert check_shares(30 * M, {"state": 10 * M, "sponsor": 20 * M}, small) == [
        ShareBelowMinimum(party="state", amount="10,000,000", pct="33.33", limit="50", rule=name),
        ShareAboveMaximum(party="sponsor", amount="20,000,000", pct="66.67", limit="50", rule=name),
        ShareAboveCap(party="sponsor", amount="20,000,000", cap="10,000,000", rule=name),
        TotalAboveMaximum(total="30,000,000", limit="20,000,000", rule=name),
    ]
    assert check_shares(20 * M, {"state": 10 * M, "sponsor": 10 * M}, small) == []
    assert check_shares(20 * M, {"state": 10 * M, "sponsor": 5 * M, "sme": 5 * M}, small) == [
        ShareOfPartyOutsideRule(party="sme", amount="5,000,000", rule=name),
        ShareBelowMinimum(party="sponsor", amount="5,000,000", pct="25", limit="50", rule=name),
    ]
    assert check_shares(20 * M, {"state": 10 * M, "sponsor": 9 * M}, small)[0] == SharesNotBudget(
        total="19,000,000", budget="20,000,000"
    )


@pytest.mark.parametrize("limit", ["33.3", "57.7", "12.34", "0.1", "66.6667", "29.3"])
def test_a_share_exactly_at_a_limit_is_accepted_and_one_won_more_is_refused(limit):
    rule = Rule.from_dict(
        {
            "type": "t",
            "year": 2026,
            "effective_from": "2026-01-01",
            "parties": {"state": {"max_pct": limit}, "sme": {}},
        },
        "P",
    )
    exact = Fraction(limit)
    for budget in (1_000, 10_000, 1_000_000, 123_450_000, 999_999_990_000):
        amount = exact * budget / 100
        if amount.denominator != 1:
            continue
        at_limit = int(amount)
        assert check_shares(budget, {"state": at_limit, "sme": budget - at_limit}, rule) == [], (limit, budget)
        over = check_shares(budget, {"state": at_limit + 1, "sme": budget - at_limit - 1}, rule)
        assert [type(p) for p in over] == [ShareAboveMaximum], (limit, budget)


def test_33_3_percent_is_exact_where_floating_point_is_not():
    # 999 won of 3,000 is 33.3 % exactly; compared in floats (amount x 100 > 33.3 x total) it is refused
    assert 999 * 100 > 33.3 * 3_000
    rule = Rule.from_dict(
        {"type": "t", "year": 2026, "effective_from": "2026-01-01", "parties": {"state": {"max_pct": 33.3}, "sme": {}}},
        "P",
    )
    assert check_shares(3_000, {"state": 999, "sme": 2_001}, rule) == []


def test_rules_are_checked_and_the_rule_in_force_on_a_day_applies():
    bad = Rule.from_dict(
        {
            "type": "t",
            "year": 2026,
            "effective_from": "2026-01-01",
            "parties": {"state": {"min_pct": "60", "max_pct": "50"}, "sme": {"min_pct": "50"}},
        },
        "P",
    )
    assert check_rule(bad) == [
        RuleLimitsCrossed(party="state", low="60", high="50"),
        RuleMinimumsAboveHundred(total="110"),
    ]
    with pytest.raises(PercentRange):
        parse_percent("100.5", "state.max_pct")
    with pytest.raises(PercentRange):
        parse_percent("12.34567", "state.max_pct")
    first = Rule.from_dict(
        {
            "type": "t",
            "year": 2026,
            "effective_from": "2026-01-01",
            "effective_to": "2026-06-30",
            "parties": {"state": {"max_pct": "30"}},
        },
        "P",
    )
    second = Rule.from_dict(
        {"type": "t", "year": 2026, "effective_from": "2026-07-01", "parties": {"state": {"max_pct": "25"}}}, "P"
    )
    assert rule_in_force([first, second], date(2026, 6, 30)) is first
    assert rule_in_force([first, second], date(2026, 7, 1)) is second
    assert rule_in_force([first, second], date(2025, 12, 31)) is None
