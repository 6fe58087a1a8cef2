"""Master data rules: every problem with its sheet, row and column; BOM cycles; multi-level explosion with scrap."""

from __future__ import annotations

import dataclasses
import math

import pytest

from shopfloor.errors import BomCycle, MasterDataRefused, NotANumber, QuantityInvalid, ValueRequired
from shopfloor.model.master import (
    COLUMNS,
    ITEM_KINDS,
    LOCATION_KINDS,
    BomLine,
    Item,
    Location,
    MasterData,
    Operation,
    Partner,
    Problem,
    Requirement,
    explode,
    gross_requirement,
    summarise,
)
from shopfloor.store import schema

VALID = MasterData(
    items=(
        Item("DRUM-A", "건조기 드럼 A", "finished", "ea"),
        Item("SHELL", "Vỏ trống", "component", "ea", "rolled and welded"),
        Item("SHEET", "Stainless sheet 0.6 mm", "raw", "kg"),
    ),
    bom_lines=(BomLine("DRUM-A", "SHELL", 1.0), BomLine("SHELL", "SHEET", 2.5, 4.0)),
    operations=(
        Operation("DRUM-A", 10, "WELD", "Laser welding", "WLD-01", 42.0, 300.0),
        Operation("DRUM-A", 20, "CHECK", "Leak test", "WELD", 30.0),
    ),
    suppliers=(Partner("POSCO", "POSCO", "KR", "+82 54 220 0114"), Partner("VN-STEEL", "Thép Việt")),
    customers=(Partner("LGE", "LG Electronics", "KR"),),
    locations=(Location("RM-01", "Raw material store", "store"), Location("QA-HOLD", "Quarantine", "quarantine")),
    downtime_reasons=("LASER_FAULT", "MATERIAL_WAIT"),
    defect_codes=("POROSITY",),
)
PLANT_CODES = {"WLD-01", "WLD-02", "WELD"}


def with_(data: MasterData, field: str, index: int, **changes) -> MasterData:
    """``data`` with entry ``index`` of ``field`` changed (or appended when index == len)."""
    entries = list(getattr(data, field))
    if index == len(entries):
        entries.append(changes.pop("new"))
    elif "new" in changes:
        entries[index] = changes.pop("new")
    else:
        entries[index] = dataclasses.replace(entries[index], **changes)
    return dataclasses.replace(data, **{field: tuple(entries)})


def test_valid_data_has_no_problems():
    assert VALID.problems() == []
    assert VALID.problems(PLANT_CODES) == []


def test_kinds_are_those_of_the_store():
    assert ITEM_KINDS == schema.ITEM_KINDS
    assert LOCATION_KINDS == ("store", "line", "wip", "shipping", "quarantine")
    assert tuple(COLUMNS) == (
        "items",
        "bom",
        "routings",
        "suppliers",
        "customers",
        "locations",
        "defect_codes",
        "downtime_reasons",
    )


CASES = [
    # items
    (("items", 3, {"new": Item("", "spare", "raw", "ea")}), ("items", 5, "code", "a value is required")),
    (("items", 1, {"name": ""}), ("items", 3, "name", "a value is required")),
    (
        ("items", 3, {"new": Item("X" * 65, "spare", "raw", "ea")}),
        ("items", 5, "code", "longer than 64 characters (65)"),
    ),
    (
        ("items", 3, {"new": Item("SHEET", "spare", "raw", "ea")}),
        ("items", 5, "code", "'SHEET' appears twice (also on row 4)"),
    ),
    (("items", 0, {"name": " 드럼"}), ("items", 2, "name", "' 드럼' has leading or trailing spaces")),
    (("items", 0, {"name": "a\rb"}), ("items", 2, "name", "'a\\rb' contains the control character U+000D")),
    (
        ("items", 3, {"new": Item("A\tB", "spare", "raw", "ea")}),
        ("items", 5, "code", "'A\\tB' contains the control character U+0009"),
    ),
    (
        ("items", 2, {"kind": "metal"}),
        ("items", 4, "kind", "'metal' is not one of raw, component, wip, finished, consumable"),
    ),
    (("items", 2, {"unit": ""}), ("items", 4, "unit", "a value is required")),
    (("items", 2, {"unit": "u" * 17}), ("items", 4, "unit", "longer than 16 characters (17)")),
    (("items", 1, {"description": ""}), ("items", 3, "description", "empty text: leave it out instead")),
    (("items", 0, {"name": 5}), ("items", 2, "name", "expected text, got int 5")),
    # bom
    (("bom_lines", 1, {"quantity": 0.0}), ("bom", 3, "quantity", "must be greater than 0, got 0")),
    (("bom_lines", 1, {"quantity": -2.0}), ("bom", 3, "quantity", "must be greater than 0, got -2")),
    (("bom_lines", 1, {"quantity": math.nan}), ("bom", 3, "quantity", "nan is not a finite number")),
    (("bom_lines", 1, {"quantity": math.inf}), ("bom", 3, "quantity", "inf is not a finite number")),
    (("bom_lines", 1, {"quantity": "abc"}), ("bom", 3, "quantity", "'abc' is not a number")),
    (("bom_lines", 1, {"quantity": True}), ("bom", 3, "quantity", "True is not a number")),
    (("bom_lines", 1, {"scrap_pct": -1.0}), ("bom", 3, "scrap_pct", "must be at least 0, got -1")),
    (("bom_lines", 1, {"scrap_pct": 100.0}), ("bom", 3, "scrap_pct", "must be less than 100, got 100")),
    (("bom_lines", 0, {"parent": "NOPE"}), ("bom", 2, "parent", "unknown item 'NOPE'")),
    (("bom_lines", 0, {"component": "NOPE"}), ("bom", 2, "component", "unknown item 'NOPE'")),
    (
        ("bom_lines", 0, {"component": "DRUM-A"}),
        ("bom", 2, "component", "item 'DRUM-A' cannot be a component of itself"),
    ),
    (
        ("bom_lines", 2, {"new": BomLine("SHELL", "SHEET", 3.0)}),
        ("bom", 4, "component", "'SHEET' appears twice (also on row 3)"),
    ),
    # routings
    (("operations", 1, {"seq": 0}), ("routings", 3, "seq", "must be greater than 0, got 0")),
    (
        ("operations", 1, {"seq": 10}),
        ("routings", 3, "seq", "10 appears twice (also on row 2)"),
    ),
    (("operations", 1, {"seq": 1.5}), ("routings", 3, "seq", "1.5 is not a whole number")),
    (("operations", 1, {"seq": 2**31}), ("routings", 3, "seq", "must be at most 2147483647, got 2147483648")),
    (("operations", 0, {"item": "NOPE"}), ("routings", 2, "item", "unknown item 'NOPE'")),
    (("operations", 0, {"code": ""}), ("routings", 2, "operation", "a value is required")),
    (("operations", 0, {"work_centre": ""}), ("routings", 2, "work_centre", "a value is required")),
    (("operations", 0, {"ideal_cycle_s": 0.0}), ("routings", 2, "ideal_cycle_s", "must be greater than 0, got 0")),
    (("operations", 0, {"setup_s": -1.0}), ("routings", 2, "setup_s", "must be at least 0, got -1")),
    # suppliers and customers
    (
        ("suppliers", 0, {"country": "kr"}),
        (
            "suppliers",
            2,
            "country",
            "'kr' is not a two-letter upper-case country code (ISO 3166-1 alpha-2, e.g. KR, VN)",
        ),
    ),
    (
        ("customers", 0, {"country": "KOR"}),
        (
            "customers",
            2,
            "country",
            "'KOR' is not a two-letter upper-case country code (ISO 3166-1 alpha-2, e.g. KR, VN)",
        ),
    ),
    (("suppliers", 1, {"code": "POSCO"}), ("suppliers", 3, "code", "'POSCO' appears twice (also on row 2)")),
    (("customers", 0, {"name": ""}), ("customers", 2, "name", "a value is required")),
    (("customers", 0, {"contact": "x" * 201}), ("customers", 2, "contact", "longer than 200 characters (201)")),
    # locations
    (
        ("locations", 0, {"kind": "shelf"}),
        ("locations", 2, "kind", "'shelf' is not one of store, line, wip, shipping, quarantine"),
    ),
    (("locations", 1, {"code": "RM-01"}), ("locations", 3, "code", "'RM-01' appears twice (also on row 2)")),
    # reason and defect codes
    (
        ("downtime_reasons", 1, {"new": "MATERIAL WAIT"}),
        (
            "downtime_reasons",
            3,
            "code",
            "'MATERIAL WAIT' must be 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit",
        ),
    ),
    (
        ("defect_codes", 1, {"new": "POROSITY"}),
        ("defect_codes", 3, "code", "'POROSITY' appears twice (also on row 2)"),
    ),
    (("defect_codes", 0, {"new": ""}), ("defect_codes", 2, "code", "a value is required")),
]


@pytest.mark.parametrize(("change", "expected"), CASES, ids=[f"{c[1][0]}-{c[1][2]}-{i}" for i, c in enumerate(CASES)])
def test_every_rule_is_reported_with_sheet_row_and_column(change, expected):
    field, index, changes = change
    data = with_(VALID, field, index, **dict(changes))
    assert found(data, PLANT_CODES) == [expected]


def test_an_unknown_item_code_does_not_also_report_its_bill_lines_twice():
    data = with_(VALID, "items", 2, code="")
    assert found(data) == [
        ("items", 4, "code", "a value is required"),
        ("bom", 3, "component", "unknown item 'SHEET'"),
    ]


def test_work_centres_are_checked_only_against_given_plant_codes():
    data = with_(VALID, "operations", 0, work_centre="PRESS-9")
    assert data.problems() == []
    assert found(data, PLANT_CODES) == [
        ("routings", 2, "work_centre", "'PRESS-9' is not a machine or line of the plant")
    ]


def test_a_bom_cycle_is_reported_with_its_path_on_the_line_that_closes_it():
    data = dataclasses.replace(
        VALID,
        items=VALID.items + (Item("A", "A", "wip", "ea"), Item("B", "B", "wip", "ea"), Item("C", "C", "wip", "ea")),
        bom_lines=VALID.bom_lines
        + (BomLine("A", "B", 1.0), BomLine("B", "C", 1.0), BomLine("C", "A", 1.0), BomLine("C", "SHEET", 1.0)),
    )
    assert found(data) == [("bom", 6, "component", "BOM cycle: A -> B -> C -> A")]


def test_two_item_cycle_and_a_separate_one_are_both_reported():
    items = tuple(Item(c, c, "wip", "ea") for c in "ABCD")
    data = MasterData(
        items=items,
        bom_lines=(BomLine("A", "B", 1.0), BomLine("B", "A", 1.0), BomLine("C", "D", 1.0), BomLine("D", "C", 1.0)),
    )
    assert [str(p) for p in data.problems()] == [
        "bom: row 3, column component: BOM cycle: A -> B -> A",
        "bom: row 5, column component: BOM cycle: C -> D -> C",
    ]


def test_rows_read_from_a_file_are_reported_as_they_were_in_the_file():
    data = dataclasses.replace(with_(VALID, "bom_lines", 1, quantity=-1.0), source_rows={"bom": (2, 9)})
    assert found(data) == [("bom", 9, "quantity", "must be greater than 0, got -1")]
    assert data == with_(VALID, "bom_lines", 1, quantity=-1.0)


def test_problem_text_names_sheet_row_and_column():
    assert (
        str(Problem("bom", 7, "quantity", NotANumber(value="'abc'")))
        == "bom: row 7, column quantity: 'abc' is not a number"
    )
    assert str(Problem("items", 1, None, ValueRequired())) == "items: row 1: a value is required"
    assert str(Problem("items", None, None, ValueRequired())) == "items: a value is required"
    assert str(Problem(None, None, None, ValueRequired())) == "a value is required"
    assert Problem("bom", 7, "quantity", NotANumber(value="'abc'")).to_dict() == {
        "sheet": "bom", "row": 7, "column": "quantity", "code": "master.not_number", "params": {"value": "'abc'"},
        "message": "'abc' is not a number",
    }  # fmt: skip


def test_the_error_lists_at_most_fifty_problems():
    problems = [Problem("items", row, "code", ValueRequired()) for row in range(2, 62)]
    error = MasterDataRefused(problems)
    assert error.problems == problems
    text = str(error)
    assert text.startswith("invalid master data (60 problem(s)), nothing was saved:\n")
    assert "items: row 51, column code" in text and "items: row 52, column code" not in text
    assert text.endswith("... and 10 more")


def test_lists_become_tuples_and_sorting_orders_by_key():
    data = MasterData(items=[Item("B", "b", "raw", "kg"), Item("A", "a", "raw", "kg")])
    assert isinstance(data.items, tuple)
    assert [i.code for i in data.sorted().items] == ["A", "B"]
    assert data.counts()["items"] == 2


# -- explosion ------------------------------------------------------------------------------------------------
# A bicycle, four levels deep.  Quantities per parent and scrap allowances:
#   BIKE  -> FRAME x1,  WHEEL x2 (+5 %),  BOLT x4 (+10 %)
#   FRAME -> TUBE x3 (+10 %),  BOLT x2
#   TUBE  -> STEEL x0.5 kg (+20 %)
#   WHEEL -> RIM x1,  SPOKE x36 (+2 %)
BIKE_BOM = (
    BomLine("BIKE", "FRAME", 1),
    BomLine("BIKE", "WHEEL", 2, 5),
    BomLine("BIKE", "BOLT", 4, 10),
    BomLine("FRAME", "TUBE", 3, 10),
    BomLine("FRAME", "BOLT", 2),
    BomLine("TUBE", "STEEL", 0.5, 20),
    BomLine("WHEEL", "RIM", 1),
    BomLine("WHEEL", "SPOKE", 36, 2),
)


def test_explosion_of_ten_bicycles_matches_the_hand_calculation():
    rows = explode(BIKE_BOM, "BIKE", 10)
    assert [(r.level, r.parent, r.component) for r in rows] == [
        (1, "BIKE", "FRAME"),
        (2, "FRAME", "TUBE"),
        (3, "TUBE", "STEEL"),
        (2, "FRAME", "BOLT"),
        (1, "BIKE", "WHEEL"),
        (2, "WHEEL", "RIM"),
        (2, "WHEEL", "SPOKE"),
        (1, "BIKE", "BOLT"),
    ]
    expected = [
        10 * 1 * 1.00,  # FRAME = 10
        10 * 3 * 1.10,  # TUBE  = 33
        33 * 0.5 * 1.20,  # STEEL = 19.8 kg (the tubes' own allowance carries down)
        10 * 2 * 1.00,  # BOLT for the frames = 20
        10 * 2 * 1.05,  # WHEEL = 21
        21 * 1 * 1.00,  # RIM   = 21
        21 * 36 * 1.02,  # SPOKE = 771.12
        10 * 4 * 1.10,  # BOLT for the bike = 44
    ]
    assert [r.quantity for r in rows] == pytest.approx(expected, rel=1e-12)
    assert expected == pytest.approx([10, 33, 19.8, 20, 21, 21, 771.12, 44], rel=1e-12)
    totals = summarise(rows)
    assert list(totals) == ["STEEL", "BOLT", "RIM", "SPOKE"]
    assert totals == pytest.approx({"STEEL": 19.8, "BOLT": 20 + 44, "RIM": 21, "SPOKE": 771.12}, rel=1e-12)


def test_gross_requirement_formula():
    assert gross_requirement(100, 1, 20) == pytest.approx(120)
    # a yield loss of 20 % is an allowance of 25 %: 125 issued, 20 % of them lost, 100 good
    assert gross_requirement(100, 1, 100 * 20 / (100 - 20)) * (1 - 0.20) == pytest.approx(100)


def test_explosion_of_an_item_without_bill_and_of_zero():
    assert explode(BIKE_BOM, "STEEL", 5) == []
    assert explode(BIKE_BOM, "WHEEL", 0) == [Requirement(1, "WHEEL", "RIM", 0.0), Requirement(1, "WHEEL", "SPOKE", 0.0)]


def test_explosion_refuses_a_cycle_and_a_bad_quantity():
    bom = BIKE_BOM + (BomLine("STEEL", "FRAME", 1),)
    with pytest.raises(BomCycle) as cycle:
        explode(bom, "BIKE", 1)
    assert cycle.value == BomCycle(path="FRAME -> TUBE -> STEEL -> FRAME")
    for bad in (-1, math.nan, math.inf):
        with pytest.raises(QuantityInvalid):
            explode(BIKE_BOM, "BIKE", bad)


def found(data: MasterData, plant_codes: set[str] | None = None) -> list[tuple]:
    """Each problem as (sheet, row, column, message)."""
    return [(p.sheet, p.row, p.column, p.message) for p in data.problems(plant_codes)]
