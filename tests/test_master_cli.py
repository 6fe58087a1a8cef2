"""``shopfloor export master`` and ``shopfloor import master``: a round trip, and a refused file with its cells."""

from __future__ import annotations

from openpyxl import load_workbook
from typer.testing import CliRunner

from shopfloor.cli import app
from shopfloor.store.db import open_store
from tests.lots_data import add_master_data


def test_export_edit_and_import_back(tmp_path):
    db = str(tmp_path / "m.db")
    engine = open_store(db)
    with engine.begin() as conn:
        add_master_data(conn)
    engine.dispose()
    xlsx = tmp_path / "master.xlsx"
    result = CliRunner().invoke(app, ["export", "master", str(xlsx), "--db", db])
    assert result.exit_code == 0, result.output
    wb = load_workbook(xlsx)
    wb["items"].append(["BOLT", "볼트 M8", "component", "pcs", None])
    wb["bom"].append(["SHELL", "BOLT", "abc", 0])  # not a number
    wb.save(xlsx)
    refused = CliRunner().invoke(app, ["import", "master", str(xlsx), "--db", db])
    assert refused.exit_code == 2 and "bom" in refused.output and "quantity" in refused.output
    assert "'abc' is not a number" in refused.output
    wb["bom"].cell(wb["bom"].max_row, 3).value = 8
    wb.save(xlsx)
    ok = CliRunner().invoke(app, ["import", "master", str(xlsx), "--db", db])
    assert ok.exit_code == 0, ok.output
    zipped = tmp_path / "master.zip"
    assert CliRunner().invoke(app, ["export", "master", str(zipped), "--db", db]).exit_code == 0
    import zipfile

    with zipfile.ZipFile(zipped) as zf:
        items_csv = zf.read("items.csv").decode("utf-8-sig")
    assert "BOLT,볼트 M8,component,pcs" in items_csv
    wrong = CliRunner().invoke(app, ["export", "master", str(tmp_path / "m.txt"), "--db", db])
    assert (wrong.exit_code, wrong.output) == (2, "error: m.txt: the file name must end in .xlsx or .zip\n")
