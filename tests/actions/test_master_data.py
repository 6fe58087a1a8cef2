"""Master data as a workbook and as CSV: exact round trips, every problem with sheet, row and column, nothing
saved when anything is wrong."""

from __future__ import annotations

import dataclasses
import io
import re
import zipfile
from datetime import datetime, timezone

import openpyxl
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from sqlalchemy import insert

from shopfloor.actions.demo import sample_plant
from shopfloor.actions.master_data import (
    export_csv,
    export_csv_zip,
    export_xlsx,
    import_csv,
    import_csv_zip,
    import_xlsx,
    replace_master,
)
from shopfloor.errors import MasterCodesInUse, MasterDataRefused
from shopfloor.model.master import (
    COLUMNS,
    ITEM_KINDS,
    LOCATION_KINDS,
    SHEETS,
    BomLine,
    Item,
    Location,
    MasterData,
    Operation,
    Partner,
)
from shopfloor.store.master import load_master, save_master
from shopfloor.store.plant import save_plant
from shopfloor.store.schema import lots

PLANT = sample_plant()

DATA = MasterData(
    items=(
        Item("DRUM-A", "건조기 드럼 A", "finished", "ea", "세탁기용 드럼\n2행"),
        Item("SHELL", "Vỏ trống (đã hàn)", "wip", "ea"),
        Item("SHEET", "Thép không gỉ tấm 0,6 mm", "raw", "kg"),
        Item("00123", "=leading zeros and a formula-like name", "consumable", "m²"),
    ),
    bom_lines=(
        BomLine("DRUM-A", "SHELL", 1.0),
        BomLine("SHELL", "SHEET", 0.1 + 0.2, 4.0),
        BomLine("DRUM-A", "00123", 1 / 3, 12.5),
    ),
    operations=(
        Operation("DRUM-A", 10, "WELD", "Hàn laser", "WLD-01", 42.0, 300.0),
        Operation("DRUM-A", 20, "CHECK", "누설 검사", "WELD", 30.5),
        Operation("SHELL", 10, "ROLL", "Cán", "CNC-01", 12.25, 0.0),
    ),
    suppliers=(Partner("POSCO", "(주)포스코", "KR", "구매팀, 054-220-0114"), Partner("VNSTEEL", "Thép Việt Nam", "VN")),
    customers=(Partner("LGE", "LG전자", "KR", 'Nguyễn Văn "An"'), Partner("#N/A", "#N/A")),
    locations=(Location("RM-01", "원자재 창고", "store"), Location("QA-HOLD", "Khu cách ly", "quarantine")),
    downtime_reasons=PLANT.downtime_reasons,
    defect_codes=PLANT.defect_codes,
)


def workbook(sheets: dict[str, list[list]] | None = None, drop: tuple[str, ...] = ()) -> bytes:
    """A workbook with every sheet (header only) unless ``sheets`` gives a sheet's rows (header included)."""
    wb = openpyxl.Workbook()
    wb.remove(wb.active)
    for sheet in SHEETS:
        if sheet in drop:
            continue
        ws = wb.create_sheet(sheet)
        for row in (sheets or {}).get(sheet, [list(COLUMNS[sheet])]):
            ws.append(row)
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


ITEM_ROWS = [["code", "name", "kind", "unit", "description"], ["A", "Part A", "raw", "kg", None]]


def refusal_of(call, *args) -> MasterDataRefused:
    with pytest.raises(MasterDataRefused) as caught:
        call(*args)
    return caught.value


def problems_of(call, *args) -> list[tuple]:
    """Each problem of the refusal as (sheet, row, column, message)."""
    with pytest.raises(MasterDataRefused) as caught:
        call(*args)
    return [(p.sheet, p.row, p.column, p.message) for p in caught.value.problems]


# -- round trips ----------------------------------------------------------------------------------------------
def test_workbook_round_trips_exactly_with_korean_and_vietnamese_text():
    content = export_xlsx(DATA)
    assert import_xlsx(content) == DATA
    assert import_xlsx(content).items[0].name == "건조기 드럼 A"
    assert import_xlsx(content).bom_lines[1].quantity == 0.1 + 0.2


def test_workbook_layout_has_bold_frozen_headers():
    wb = openpyxl.load_workbook(io.BytesIO(export_xlsx(DATA)))
    assert wb.sheetnames == list(SHEETS)
    for sheet in SHEETS:
        ws = wb[sheet]
        assert [c.value for c in ws[1]] == list(COLUMNS[sheet])
        assert all(c.font.bold for c in ws[1])
        assert ws.freeze_panes == "A2"
    assert wb["bom"]["C3"].value == 0.1 + 0.2  # a number, not text
    assert wb["items"]["B5"].data_type == "s"  # the "=..." name stays text


def test_csv_round_trips_exactly_and_opens_in_excel_with_korean_text():
    files = export_csv(DATA)
    assert list(files) == [f"{s}.csv" for s in SHEETS]
    assert files["items.csv"].startswith(b"\xef\xbb\xbfcode,name,kind,unit,description\r\n")
    assert "건조기 드럼 A".encode() in files["items.csv"]
    assert import_csv(files) == DATA
    assert import_csv_zip(export_csv_zip(DATA)) == DATA
    with zipfile.ZipFile(io.BytesIO(export_csv_zip(DATA))) as zf:
        assert sorted(zf.namelist()) == sorted(files)


_text = st.text(
    st.characters(exclude_categories=("Cs", "Cc", "Cn"), include_characters="\n\t가나다ăâđêôơư"),
    min_size=1,
    max_size=12,
).map(str.strip)
_code = st.text(st.characters(exclude_categories=("Cs", "Cc", "Cn", "Zs", "Zl", "Zp")), min_size=1, max_size=10)
_reason = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9._-]{0,10}", fullmatch=True)
_positive = st.floats(min_value=0, max_value=1e9, exclude_min=True, allow_nan=False, allow_infinity=False)
_optional = st.none() | _text


@st.composite
def master_data(draw) -> MasterData:
    codes = draw(st.lists(_code, min_size=1, max_size=6, unique=True))
    items = tuple(
        Item(
            c,
            draw(_text),
            draw(st.sampled_from(ITEM_KINDS)),
            draw(_code.filter(lambda u: len(u) <= 16)),
            draw(_optional),
        )
        for c in codes
    )
    # a parent always comes before its components in ``codes``, so the bill has no cycle
    downward = [(a, b) for a in range(len(codes)) for b in range(a + 1, len(codes))]
    pairs = draw(st.lists(st.sampled_from(downward), max_size=6, unique=True)) if downward else []
    bom = tuple(
        BomLine(
            codes[a],
            codes[b],
            draw(_positive),
            draw(st.floats(min_value=0, max_value=100, exclude_max=True, allow_nan=False)),
        )
        for a, b in pairs
    )
    steps = draw(st.lists(st.tuples(st.sampled_from(codes), st.integers(1, 2**31 - 1)), max_size=5, unique=True))
    operations = tuple(
        Operation(
            item,
            seq,
            draw(_code),
            draw(_text),
            draw(st.sampled_from(["WLD-01", "CNC-02", "MOULD"])),
            draw(_positive),
            draw(st.floats(min_value=0, max_value=1e6, allow_nan=False)),
        )
        for item, seq in steps
    )

    def partners() -> tuple[Partner, ...]:
        return tuple(
            Partner(c, draw(_text), draw(st.none() | st.sampled_from(["KR", "VN", "US"])), draw(_optional))
            for c in draw(st.lists(_code, max_size=3, unique=True))
        )

    locations = tuple(
        Location(c, draw(_text), draw(st.sampled_from(LOCATION_KINDS)))
        for c in draw(st.lists(_code, max_size=3, unique=True))
    )
    data = MasterData(
        items=items,
        bom_lines=bom,
        operations=operations,
        suppliers=partners(),
        customers=partners(),
        locations=locations,
        downtime_reasons=tuple(draw(st.lists(_reason, max_size=3, unique=True))),
        defect_codes=tuple(draw(st.lists(_reason, max_size=3, unique=True))),
    )
    assume(data.problems() == [])
    return data


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(master_data())
def test_export_then_import_gives_the_same_data(data):
    assert import_xlsx(export_xlsx(data)) == data
    assert import_csv(export_csv(data)) == data
    assert import_csv_zip(export_csv_zip(data)) == data


# -- reading a workbook ---------------------------------------------------------------------------------------
def test_a_number_that_is_not_a_number_names_sheet_row_and_column():
    items = ITEM_ROWS + [[f"P{i}", f"Part {i}", "component", "ea"] for i in range(6)]
    rows = [list(COLUMNS["bom"])] + [["A", f"P{i}", 1] for i in range(5)] + [["A", "P5", "abc"]]
    with pytest.raises(MasterDataRefused) as caught:
        import_xlsx(workbook({"items": items, "bom": rows}))
    assert len(caught.value.problems) == 1
    assert "bom: row 7, column quantity: 'abc' is not a number" in str(caught.value)
    assert [(p.sheet, p.row, p.column, p.error.code) for p in caught.value.problems] == [
        ("bom", 7, "quantity", "master.not_number")
    ]


def test_missing_sheet_and_header_problems():
    content = workbook(
        {
            "items": [["code", "name", "kind", "colour", "Name", "description"], ["A", "Part", "raw", "red", "x"]],
            "bom": [],
        },
        drop=("customers",),
    )
    assert problems_of(import_xlsx, content) == [
        ("items", 1, "name", "the column appears twice"),
        ("items", 1, "unit", "the column is missing"),
        ("items", 1, "colour", "unknown column 'colour' (expected columns code, name, kind, unit, description)"),
        ("bom", 1, None, "the header row is missing (expected columns parent, component, quantity, scrap_pct)"),
        (
            "customers",
            None,
            None,
            "the sheet is missing (expected items, bom, routings, suppliers, customers, locations, defect_codes,"
            " downtime_reasons)",
        ),
    ]


def test_blank_required_cells_and_bad_numbers_are_all_reported():
    content = workbook(
        {
            "items": ITEM_ROWS
            + [["B", None, "raw", "kg"], [None, "No code", "raw", "kg"], ["C", "Part C", "raw", "kg"]],
            "bom": [list(COLUMNS["bom"]), ["A", "B", None, 1], ["A", "C", 2, "five"], [None, "A", 1]],
            "routings": [
                list(COLUMNS["routings"]),
                ["A", 10.5, "OP", "Op", "WLD-01", 1],
                ["A", "x", "OP", "Op", "WLD-01", "1,5"],
                ["A", None, "OP", "Op", "WLD-01", None, -1],
            ],
        }
    )
    assert problems_of(import_xlsx, content) == [
        ("items", 3, "name", "a value is required"),
        ("items", 4, "code", "a value is required"),
        ("bom", 2, "quantity", "a value is required"),
        ("bom", 3, "scrap_pct", "'five' is not a number"),
        ("bom", 4, "parent", "a value is required"),
        ("routings", 2, "seq", "10.5 is not a whole number"),
        ("routings", 3, "seq", "'x' is not a whole number"),
        ("routings", 3, "ideal_cycle_s", "'1,5' is not a number"),
        ("routings", 4, "seq", "a value is required"),
        ("routings", 4, "ideal_cycle_s", "a value is required"),
        ("routings", 4, "setup_s", "must be at least 0, got -1"),
    ]


def test_spaces_are_trimmed_numbers_as_text_accepted_and_blank_rows_skipped():
    content = workbook(
        {
            "items": [
                [" Code ", "NAME", "kind", "unit"],
                ["  A ", " Part A\u3000", " raw", "kg "],
                [None, None, None, None],
                ["B", "Part B", "component", "ea"],
                ["", "  ", None, None],
                [None, None, None, None],
            ],
            "bom": [list(COLUMNS["bom"]), ["A", "B", " 2.5 ", "10"]],
            "routings": [list(COLUMNS["routings"]), ["A", "10", "OP10", "Op", "WLD-01", "1.5", " "]],
            "suppliers": [["code", "name"], [1001, "Numeric code"]],
        }
    )
    data = import_xlsx(content)
    assert data.items == (Item("A", "Part A", "raw", "kg"), Item("B", "Part B", "component", "ea"))
    assert data.bom_lines == (BomLine("A", "B", 2.5, 10.0),)
    assert data.operations == (Operation("A", 10, "OP10", "Op", "WLD-01", 1.5, 0.0),)
    assert data.suppliers == (Partner("1001", "Numeric code"),)


def test_rows_after_a_skipped_row_keep_their_row_number():
    content = workbook({"items": ITEM_ROWS + [[None] * 4, ["A", "Again", "raw", "kg"]]})
    assert problems_of(import_xlsx, content) == [("items", 4, "code", "'A' appears twice (also on row 2)")]


def test_rows_outside_the_size_a_workbook_declares_are_read():
    source = zipfile.ZipFile(io.BytesIO(export_xlsx(DATA)))
    out = io.BytesIO()
    with source, zipfile.ZipFile(out, "w") as target:
        for info in source.infolist():
            content = source.read(info)
            if info.filename.startswith("xl/worksheets/"):
                content = re.sub(rb'<dimension ref="[^"]*"', b'<dimension ref="A1:A1"', content)
            target.writestr(info, content)
    assert b'<dimension ref="A1:A1"' in zipfile.ZipFile(out).read("xl/worksheets/sheet1.xml")
    assert import_xlsx(out.getvalue()) == DATA


def test_a_value_without_a_header_is_a_problem():
    content = workbook({"items": [["code", "name", "kind", "unit", None], ["A", "Part", "raw", "kg", "stray"]]})
    assert problems_of(import_xlsx, content) == [("items", 2, None, "a value in column E, which has no header")]


def test_validation_problems_come_with_parse_problems():
    content = workbook(
        {
            "items": ITEM_ROWS + [["B", "Part B", "metal", "kg"]],
            "bom": [list(COLUMNS["bom"]), ["A", "B", "x"], ["B", "A", 1], ["A", "B", 1]],
            "locations": [list(COLUMNS["locations"]), ["L1", "Line store", "shelf"]],
        }
    )
    assert [str(p) for p in refusal_of(import_xlsx, content).problems] == [
        "items: row 3, column kind: 'metal' is not one of raw, component, wip, finished, consumable",
        "bom: row 2, column quantity: 'x' is not a number",
        "bom: row 3, column component: BOM cycle: A -> B -> A",
        "bom: row 4, column component: 'B' appears twice (also on row 2)",
        "locations: row 2, column kind: 'shelf' is not one of store, line, wip, shipping, quarantine",
    ]


def test_work_centres_are_checked_against_the_given_plant_codes():
    content = workbook({"items": ITEM_ROWS, "routings": [list(COLUMNS["routings"]), ["A", 10, "OP", "Op", "X-9", 1]]})
    assert import_xlsx(content).operations[0].work_centre == "X-9"
    assert problems_of(import_xlsx, content, {"WLD-01"}) == [
        ("routings", 2, "work_centre", "'X-9' is not a machine or line of the plant")
    ]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"code,name\nA,B\n", "not an Excel workbook (.xlsx)"),
        (b"", "not an Excel workbook (.xlsx)"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(504), "an Excel 97-2003 file (.xls)"),
        (export_csv_zip(DATA), "not an Excel workbook (.xlsx)"),
    ],
    ids=["csv", "empty", "xls", "zip-of-csv"],
)
def test_a_file_that_is_not_a_workbook_is_refused_clearly(content, message):
    [problem] = problems_of(import_xlsx, content)
    assert problem[:3] == (None, None, None)
    assert problem[3].startswith(message)


def test_more_than_fifty_problems_are_all_kept_and_the_message_is_cut():
    rows = [list(COLUMNS["items"])] + [[None, "No code", "raw", "kg"] for _ in range(70)]
    with pytest.raises(MasterDataRefused) as caught:
        import_xlsx(workbook({"items": rows}))
    assert len(caught.value.problems) == 70
    assert str(caught.value).endswith("... and 20 more")


# -- reading CSV ----------------------------------------------------------------------------------------------
def test_a_subset_of_csv_files_leaves_the_other_sheets_empty():
    files = export_csv(DATA)
    data = import_csv({"items.csv": files["items.csv"], "locations.csv": files["locations.csv"]})
    assert data == MasterData(items=DATA.items, locations=DATA.locations)


def test_csv_with_semicolons_without_bom_and_crlf():
    content = "code;name;kind;unit\r\nA;Bộ phận A;raw;kg\r\n;;;\r\n".encode()
    assert import_csv({"items.csv": content}).items == (Item("A", "Bộ phận A", "raw", "kg"),)


def test_csv_problems_name_the_sheet_row_and_column():
    files = {
        "items.csv": b"code,name,kind,unit\nA,Part A,raw,kg\nB,Part B,raw,kg\nC,Part C,raw,kg\n",
        "bom.csv": b"parent,component,quantity,scrap_pct\nA,B,1\nA,B,2\nB,C,1e400\nA,C,abc,-1\n",
        "notes.csv": b"x\n",
        "customers.csv": "code,name\nC1,고객\n".encode("cp949"),
    }
    assert [str(p) for p in refusal_of(import_csv, files).problems] == [
        "notes.csv: not a sheet of the master data (expected items.csv, bom.csv, routings.csv, suppliers.csv,"
        " customers.csv, locations.csv, defect_codes.csv, downtime_reasons.csv)",
        "bom: row 3, column component: 'B' appears twice (also on row 2)",
        "bom: row 4, column quantity: '1e400' is not a number",
        "bom: row 5, column quantity: 'abc' is not a number",
        "bom: row 5, column scrap_pct: must be at least 0, got -1",
        "customers: the file is not UTF-8 but looks like CP949, the encoding of Korean Excel's 'CSV (comma"
        " delimited)': in Excel choose Save As and the type 'CSV UTF-8 (comma delimited)', then send that file",
    ]


def test_a_zip_without_csv_files_is_refused():
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as zf:
        zf.writestr("readme.txt", "hello")
    [problem] = problems_of(import_csv_zip, out.getvalue())
    assert problem[3].startswith("the zip holds no CSV files")
    [problem] = problems_of(import_csv_zip, b"not a zip")
    assert problem == (None, None, None, "not a zip archive of CSV files")


def test_csv_files_in_a_folder_of_the_zip_are_read():
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as zf:
        for name, content in export_csv(DATA).items():
            zf.writestr(f"master/{name}", content)
        zf.writestr("__MACOSX/master/._items.csv", b"\x00\x05")
    assert import_csv_zip(out.getvalue()) == DATA


# -- importing into the store ---------------------------------------------------------------------------------
def test_import_master_saves_a_workbook_and_a_zip(engine):
    with engine.begin() as conn:
        save_plant(conn, PLANT, "test")
        summary = replace_master(conn, export_xlsx(DATA), "master.xlsx", "admin")
    assert summary["format"] == "xlsx" and summary["items"] == 4 and summary["sheets"] == list(SHEETS)
    with engine.connect() as conn:
        assert load_master(conn) == DATA.sorted()
    smaller = dataclasses.replace(DATA, operations=DATA.operations[:1], customers=())
    with engine.begin() as conn:
        assert replace_master(conn, export_csv_zip(smaller), "master.zip", "admin")["format"] == "zip"
    with engine.connect() as conn:
        assert load_master(conn) == smaller.sorted()


def test_one_csv_file_replaces_only_its_sheet(engine):
    with engine.begin() as conn:
        save_plant(conn, PLANT, "test")
        save_master(conn, DATA, "test")
    content = "code,name,kind\nWH-2,Kho thành phẩm,shipping\n".encode()
    with engine.begin() as conn:
        summary = replace_master(conn, content, "locations (1).csv", "admin")
    assert summary["sheets"] == ["locations"] and summary["format"] == "csv"
    with engine.connect() as conn:
        assert (
            load_master(conn)
            == dataclasses.replace(DATA, locations=(Location("WH-2", "Kho thành phẩm", "shipping"),)).sorted()
        )


def test_a_csv_file_that_breaks_stored_data_is_refused_with_the_stored_row(engine):
    with engine.begin() as conn:
        save_plant(conn, PLANT, "test")
        save_master(conn, DATA, "test")
    content = b"code,name,kind,unit\nDRUM-A,Drum,finished,ea\nSHELL,Shell,wip,ea\n"
    with engine.begin() as conn:
        with pytest.raises(MasterDataRefused) as caught:
            replace_master(conn, content, "items.csv", "admin")
    # the stored bill, in export order: DRUM-A > 00123 (row 2), DRUM-A > SHELL (row 3), SHELL > SHEET (row 4)
    assert [str(p) for p in caught.value.problems] == [
        "bom: row 2, column component: unknown item '00123' (in the stored data, as on this row of an export)",
        "bom: row 4, column component: unknown item 'SHEET' (in the stored data, as on this row of an export)",
    ]
    with engine.connect() as conn:
        assert load_master(conn) == DATA.sorted()


def test_nothing_is_saved_when_the_file_has_any_problem(engine):
    with engine.begin() as conn:
        save_plant(conn, PLANT, "test")
        save_master(conn, DATA, "test")
    bad = dataclasses.replace(
        DATA, operations=DATA.operations + (Operation("SHELL", 20, "PRESS", "Ép", "PRESS-9", 3.0),)
    )
    with engine.begin() as conn:
        with pytest.raises(MasterDataRefused, match="routings: row 5, column work_centre: 'PRESS-9' is not a machine"):
            replace_master(conn, export_xlsx(bad.sorted()), "master.xlsx", "admin")
    with engine.begin() as conn:
        with pytest.raises(MasterDataRefused, match="'PRESS-9'"):
            replace_master(conn, export_xlsx(bad), "master.xlsx", "admin", plant_codes={"WLD-01", "WELD", "CNC-01"})
    with engine.connect() as conn:
        assert load_master(conn) == DATA.sorted()


def test_import_refuses_to_delete_an_item_a_lot_uses(engine):
    with engine.begin() as conn:
        save_plant(conn, PLANT, "test")
        save_master(conn, DATA, "test")
        conn.execute(
            insert(lots).values(
                code="LOT-7",
                item="SHEET",
                qty_milli=2_500_000,
                status="available",
                location="RM-01",
                supplier="POSCO",
                created_at=datetime(2026, 3, 2, tzinfo=timezone.utc),
            )
        )
    without = dataclasses.replace(
        DATA, items=tuple(i for i in DATA.items if i.code != "SHEET"), bom_lines=DATA.bom_lines[:1]
    )
    with engine.begin() as conn:
        with pytest.raises(MasterCodesInUse) as refused:
            replace_master(conn, export_xlsx(without), "master.xlsx", "admin")
    assert refused.value == MasterCodesInUse(codes="items SHEET")
    with engine.connect() as conn:
        assert load_master(conn) == DATA.sorted()


@pytest.mark.parametrize(
    ("content", "filename", "message"),
    [
        (b"hello", "notes.txt", "notes.txt: not an Excel workbook (.xlsx), a zip of CSV files or a CSV file"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(504), "old.xls", "an Excel 97-2003 file (.xls)"),
        (b"hello", "master.xlsx", "not an Excel workbook (.xlsx)"),
        (b"code\nA\n", "reasons.csv", "reasons.csv: not a sheet of the master data"),
    ],
)
def test_import_master_refuses_files_it_cannot_read(engine, content, filename, message):
    with engine.begin() as conn:
        with pytest.raises(MasterDataRefused) as caught:
            replace_master(conn, content, filename, "admin")
    assert str(caught.value.problems[0]).startswith(message)
