"""``shopfloor trace`` and ``shopfloor recall`` on a store holding a six-level genealogy."""

from __future__ import annotations

import json

import pytest
from openpyxl import load_workbook
from typer.testing import CliRunner

from shopfloor.cli import app
from shopfloor.store.db import open_store
from tests.lots_data import add_master_data, five_levels


@pytest.fixture
def db(tmp_path):
    path = str(tmp_path / "lots.db")
    engine = open_store(path)
    with engine.begin() as conn:
        five_levels(conn, add_master_data(conn))
    engine.dispose()
    return path


def test_trace_json_prints_nodes_and_edges(db):
    result = CliRunner().invoke(app, ["trace", "FG-1-1", "--backward", "--json", "--db", db])
    assert result.exit_code == 0, result.output
    graph = json.loads(result.stdout)
    assert graph["root"] == "FG-1-1" and graph["direction"] == "backward"
    assert {"COIL-A", "COIL-B", "WIRE-1"} <= {n["code"] for n in graph["nodes"]}
    assert {"from": "COIL-M", "to": "SHELL-1"}.items() <= next(
        e for e in graph["edges"] if e["to"] == "SHELL-1"
    ).items()
    forward = json.loads(CliRunner().invoke(app, ["trace", "COIL-A", "--forward", "--json", "--db", db]).stdout)
    assert any(n["type"] == "shipment" and n["customer"] == "LGE" for n in forward["nodes"])


def test_trace_refuses_unclear_requests(db):
    both = CliRunner().invoke(app, ["trace", "FG-1", "--backward", "--forward", "--db", db])
    assert both.exit_code == 2 and "exactly one of --backward and --forward" in both.output
    missing = CliRunner().invoke(app, ["trace", "NOPE", "--forward", "--db", db])
    assert (missing.exit_code, missing.output) == (2, "error: no lot NOPE\n")


def test_recall_holds_what_is_in_stock_and_writes_excel(db, tmp_path):
    xlsx = tmp_path / "recall.xlsx"
    result = CliRunner().invoke(
        app, ["recall", "COIL-B", "--hold", "supplier complaint 17", "--xlsx", str(xlsx), "--json", "--db", db]
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["summary"]["customers"] == ["LGE"] and report["summary"]["shipments"] == 1
    assert report["summary"]["supplier_lots"] == []  # COIL-B is itself a supplier lot: nothing upstream
    status = {n["code"]: n["status"] for n in report["affected"]}
    assert status["FG-1-2"] == "hold" and status["FG-1-1"] == "shipped" and status["COIL-B"] == "consumed"
    wb = load_workbook(xlsx)
    assert wb.sheetnames == [
        "summary",
        "affected",
        "shipments",
        "origin",
        "orders",
        "consuming orders",
        "inspections",
        "ncrs",
    ]
    shipped = list(wb["shipments"].iter_rows(values_only=True))
    assert shipped[0][:3] == ("customer", "customer_name", "shipment") and shipped[1][:3] == (
        "LGE",
        "LG Electronics",
        "DN-77",
    )


def test_recall_pdf_lists_the_affected_lots_and_the_customer(db, tmp_path):
    from pypdf import PdfReader

    pdf = tmp_path / "recall.pdf"
    result = CliRunner().invoke(app, ["recall", "WIRE-1", "--pdf", str(pdf), "--db", db])
    assert result.exit_code == 0, result.output
    text = "".join(page.extract_text() for page in PdfReader(pdf).pages)
    for expected in ("WIRE-1", "DRUM-1", "FG-1-2", "LGE", "DN-77", "HYOSUNG", "용접 와이어"):
        assert expected in text
