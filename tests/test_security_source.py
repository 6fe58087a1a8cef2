"""Security properties read off the source: SQL is built only through SQLAlchemy (bound parameters), never by
formatting strings; uploads are read with a size limit."""

from __future__ import annotations

import re
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "shopfloor"
FORMATTED_SQL = re.compile(
    r"""(text|execute|exec_driver_sql)\(\s*(f["']|["'][^"']*["']\s*(%|\.format\(|\+))""", re.IGNORECASE
)


def test_no_sql_is_built_by_formatting_strings():
    found = []
    for path in SRC.rglob("*.py"):
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            if FORMATTED_SQL.search(line):
                found.append(f"{path.relative_to(SRC)}:{number}: {line.strip()}")
    assert found == []


def test_every_upload_is_read_with_a_limit():
    unlimited = []
    for path in SRC.rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        for match in re.finditer(r"(\w+)\.file\.read\(([^)]*)\)", text):
            if not match.group(2).strip():
                unlimited.append(f"{path.relative_to(SRC)}: {match.group(0)}")
    assert unlimited == []
    assert "UploadFile" in (SRC / "api" / "routers" / "master.py").read_text()  # the scan sees the uploads


def test_no_script_inserts_html_built_from_data():
    """Chart tooltips and page scripts build elements with textContent: a formatter returning a template string,
    innerHTML or insertAdjacentHTML would insert HTML from data (a reason, a lot code)."""
    found = []
    for path in (SRC / "web" / "static").glob("*.js"):
        text = path.read_text(encoding="utf-8")
        for pattern in (
            r"formatter:\s*\([^)]*\)\s*=>\s*`",
            r"\.innerHTML\s*=",
            r"insertAdjacentHTML",
            r"outerHTML\s*=",
        ):
            found += [f"{path.name}: {m.group(0)}" for m in re.finditer(pattern, text)]
    assert found == []


def test_every_workbook_is_written_through_the_one_writer():
    """Every module that makes a workbook writes its rows with ``reports/workbook.py``, which keeps text cells from
    being formulas; a worksheet's own ``append`` would store ``=...`` as a live formula."""
    writers = [p for p in SRC.rglob("*.py") if re.search(r"\bWorkbook\(\)", p.read_text(encoding="utf-8"))]
    assert len(writers) >= 5  # production, recall, improvement, master data, hub roll-up
    for path in writers:
        text = path.read_text(encoding="utf-8")
        assert "shopfloor.reports.workbook import" in text, path
        sheets = set(re.findall(r"(\w+) = wb\.(?:active|create_sheet\()", text))
        direct = [m.group(0) for m in re.finditer(r"\b(\w+)\.append\(", text) if m.group(1) in sheets]
        assert direct == [], path
