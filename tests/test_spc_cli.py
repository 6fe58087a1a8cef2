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


def test_a_decimal_comma_in_a_one_column_file_is_refused_not_read_as_74(tmp_path):
    # "74,01" in a comma-separated file with one column was read as 74.0, losing the decimals silently.
    bad = tmp_path / "d.csv"
    bad.write_text("diameter\n74.00\n74,01\n73.99\n")
    r = runner.invoke(app, ["spc", str(bad), "--chart", "imr", "--column", "diameter"])
    said = " ".join(r.output.split())  # the console wraps long lines
    assert r.exit_code == 2 and "line 3: 2 cells but the header has 1 columns" in said and "decimal comma" in said
    semicolons = tmp_path / "s.csv"
    semicolons.write_text("diameter;lot\n74,00;A\n74,01;A\n73,99;B\n")
    r = runner.invoke(app, ["spc", str(semicolons), "--chart", "imr", "--column", "diameter", "--json"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["charts"][0]["values"] == [74.0, 74.01, 73.99]
    huge = tmp_path / "h.csv"
    huge.write_text("x\n1\n1e308\n")
    r = runner.invoke(app, ["spc", str(huge), "--chart", "imr", "--column", "x"])
    assert r.exit_code == 2 and "not a measurement" in " ".join(r.output.split())


def test_options_on_the_command_line(tmp_path):
    # Montgomery, ISQC 7th ed., Example 7.1 via the CLI: samples 15 and 23 excluded (numbered from 1) give the revised
    # p-bar 0.215 (qcc quick tour: 0.215, UCL 0.3892972), the points stay on the chart, JSON indices 0-based.
    oj = [12, 15, 8, 10, 4, 7, 16, 9, 14, 10, 5, 6, 17, 12, 22, 8, 10, 5, 13, 11, 20, 18, 24, 15, 9, 12, 7, 13, 9, 6]
    f = tmp_path / "oj.csv"
    f.write_text("d,n\n" + "".join(f"{d},50\n" for d in oj))
    args = ["spc", str(f), "--chart", "p", "--column", "d", "--size-column", "n", "--exclude", "15,23", "--json"]
    doc = json.loads(runner.invoke(app, args).stdout)
    p = doc["charts"][0]
    assert doc["indices"] == "0-based" and len(p["values"]) == 30 and 14 not in p["baseline"]
    assert p["centre"] == 0.215 and abs(p["ucl"] - 0.3892972) < 1e-6
    nist = ["spc", str(DATA / "nist_ewma_example.csv"), "--chart", "ewma", "--column", "x", "--lambda", "0.3"]
    nist += ["--target", "50", "--sigma", "2.0539", "--ewma-limits", "asymptotic", "--json"]
    ewma = json.loads(runner.invoke(app, nist).stdout)
    assert ewma["rules"] == "limits" and ewma["charts"][0]["violations"] == []
    assert abs(ewma["charts"][0]["ucl"] - 52.5884) < 1e-3
    r = runner.invoke(app, ["spc", str(f), "--chart", "c", "--column", "d", "--rules", "nelson:9"])
    assert r.exit_code == 2 and "nelson has rules 1, 2, 3, 4, 5, 6, 7, 8" in " ".join(r.output.split())
    help_text = " ".join(runner.invoke(app, ["spc", "--help"]).output.split())
    assert "in sigmas" in help_text and "0-based" in help_text
