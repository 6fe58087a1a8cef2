"""`shopfloor spc` on the reference data: limits, violations, capability, and clear errors."""

import json

from typer.testing import CliRunner

from shopfloor.cli import app
from tests.conftest import DATA

runner = CliRunner()


def test_c_chart_of_the_nist_wafers_as_json():
    r = runner.invoke(
        app, ["spc", str(DATA / "nist_wafer_defects_c_chart.csv"), "--chart", "c", "--column", "defects", "--json"]
    )
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)["charts"][0]
    assert (out["centre"], out["ucl"], out["lcl"]) == (16.0, 28.0, 4.0)
    assert {"rule": "nelson1", "index": 23, "points": [23]} in out["violations"]


def test_imr_with_capability_and_western_electric_rules():
    r = runner.invoke(
        app,
        [
            "spc",
            str(DATA / "nist_flowrate_imr.csv"),
            "--chart",
            "imr",
            "--column",
            "flowrate",
            "--usl",
            "60",
            "--lsl",
            "40",
            "--rules",
            "we",
            "--json",
        ],
    )
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    assert abs(doc["charts"][0]["ucl"] - 55.8041) < 1e-3
    assert doc["capability"]["cp"] > 1 and doc["capability"]["ppm_total_within"] is not None


def test_wrong_column_and_bad_cells_are_named(tmp_path):
    r = runner.invoke(app, ["spc", str(DATA / "nist_flowrate_imr.csv"), "--chart", "imr", "--column", "flow"])
    assert r.exit_code == 2 and "no column 'flow'" in r.output
    bad = tmp_path / "bad.csv"
    bad.write_text("x\n1\n2\nabc\n")
    r = runner.invoke(app, ["spc", str(bad), "--chart", "imr", "--column", "x"])
    assert r.exit_code == 2 and "line 4, column 'x': 'abc' is not a number" in r.output
    r = runner.invoke(app, ["spc", str(bad), "--chart", "pie", "--column", "x"])
    assert r.exit_code == 2 and "expected one of" in r.output
