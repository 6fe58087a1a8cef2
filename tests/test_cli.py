"""The command line end to end on an SQLite file: import plant, import events, kpi --json."""

import json
import re
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from shopfloor.cli import COMMANDS, app, load

runner = CliRunner()

PLANT = """
site: {code: CHANGWON, name: Changwon plant, timezone: Asia/Seoul}
areas:
  - code: A1
    lines:
      - code: WELD
        machines: [{code: WLD-01, name: Laser welder 1}, {code: WLD-02, name: Laser welder 2}]
products: [{code: DRUM-A, ideal_cycle_s: 1.0}]
calendar:
  shifts:
    - {name: Day, start: "06:00", end: "14:00", days: [mon, tue, wed, thu, fri],
       breaks: [{start: "08:00", end: "08:15"}, {start: "10:00", end: "10:30"}, {start: "12:00", end: "12:15"}]}
"""

# The oee.com (Vorne Industries) worked example, "OEE Calculation" (https://www.oee.com/calculating-oee/):
# 420 min planned production time, 47 min down, ideal cycle 1.0 s, 19,271 total, 423 rejects
# -> A 0.888095, P 0.861081, Q 0.978050, OEE 0.747937.  Down from 09:00 to 09:47 KST on Monday 2026-03-02.
EVENTS = """ts,machine,event,value,product,reason
2026-03-02T06:00:00+09:00,WLD-01,state,running,,
2026-03-02T09:00:00+09:00,WLD-01,state,down,,LASER_FAULT
2026-03-02T09:47:00+09:00,WLD-01,state,running,,
2026-03-02T13:00:00+09:00,WLD-01,good,18848,DRUM-A,
2026-03-02T13:00:00+09:00,WLD-01,scrap,423,DRUM-A,POROSITY
2026-03-02T14:00:00+09:00,WLD-01,state,idle,,SHIFT_END
2026-03-02T06:00:00+09:00,WLD-02,state,running,,
2026-03-02T14:00:00+09:00,WLD-02,state,idle,,
"""


@pytest.fixture
def store(tmp_path):
    plant = tmp_path / "plant.yaml"
    plant.write_text(PLANT)
    db = str(tmp_path / "s.db")
    result = runner.invoke(app, ["import", "plant", str(plant), "--db", db])
    assert result.exit_code == 0, result.output
    return db, tmp_path


def kpi_json(db, *args):
    result = runner.invoke(app, ["kpi", *args, "--json", "--db", db])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


@pytest.mark.usefixtures("rollup_units")
def test_the_published_example_end_to_end(store):
    db, tmp = store
    (tmp / "events.csv").write_text(EVENTS)
    result = runner.invoke(app, ["import", "events", str(tmp / "events.csv"), "--db", db])
    assert result.exit_code == 0, result.output
    assert "8 event(s) imported" in result.output
    out = kpi_json(
        db, "--machine", "WLD-01", "--from", "2026-03-02T00:00:00+09:00", "--to", "2026-03-03T00:00:00+09:00"
    )
    for key in (
        "pbt_s",
        "apt_s",
        "adet_s",
        "asut_s",
        "pq",
        "gq",
        "sq",
        "rq",
        "availability",
        "effectiveness",
        "quality_ratio",
        "oee",
        "ppm",
        "output_per_hour",
    ):
        assert key in out
    # The machine runs through the breaks in this example's events only where the example says so: it does not
    # report break states, so running 06:00-14:00 includes the 60 break minutes as unscheduled production.
    assert out["pq"] == 19271 and out["gq"] == 18848 and out["sq"] == 423


@pytest.mark.usefixtures("rollup_units")
def test_the_published_example_with_breaks_reported(store):
    db, tmp = store
    lines = EVENTS.strip().splitlines()
    for start, end in (("08:00", "08:15"), ("10:00", "10:30"), ("12:00", "12:15")):
        lines.append(f"2026-03-02T{start}:00+09:00,WLD-01,state,idle,,BREAK")
        lines.append(f"2026-03-02T{end}:00+09:00,WLD-01,state,running,,")
    (tmp / "events.csv").write_text("\n".join(lines) + "\n")
    assert runner.invoke(app, ["import", "events", str(tmp / "events.csv"), "--db", db]).exit_code == 0
    out = kpi_json(db, "--machine", "WLD-01", "--from", "2026-03-02", "--to", "2026-03-03")
    assert out["pbt_s"] == 420 * 60
    assert out["apt_s"] == 373 * 60
    assert out["adet_s"] == 47 * 60
    assert out["availability"] == pytest.approx(0.888095, abs=1e-6)
    assert out["effectiveness"] == pytest.approx(0.861081, abs=1e-6)
    assert out["quality_ratio"] == pytest.approx(0.978050, abs=1e-6)
    assert out["oee"] == pytest.approx(0.747937, abs=1e-6)
    assert out["ppm"] == pytest.approx(423 / 19271 * 1e6)
    assert out["output_per_hour"] == pytest.approx(18848 / 7)
    line = kpi_json(db, "--line", "WELD", "--from", "2026-03-02", "--to", "2026-03-03")
    # WLD-02 ran all 8 h (7 h planned + 1 h through breaks) and produced nothing.
    assert line["pbt_s"] == 420 * 60 + 480 * 60
    assert line["apt_s"] == 373 * 60 + 480 * 60
    assert line["availability"] == pytest.approx((373 + 480) / (420 + 480))
    by_shift = kpi_json(db, "--site", "--from", "2026-03-02", "--to", "2026-03-03", "--by", "shift")
    day = [b for b in by_shift["buckets"] if b["bucket"] == "2026-03-02/Day"]
    assert len(day) == 1 and day[0]["gq"] == 18848
    by_hour = kpi_json(db, "--machine", "WLD-01", "--from", "2026-03-02", "--to", "2026-03-03", "--by", "hour")
    assert len(by_hour["buckets"]) == 24
    # Hours before the first event (06:00) had no data: null, not zero; the others add up to the day.
    assert [b["apt_s"] for b in by_hour["buckets"][:6]] == [None] * 6
    assert all(b["partial"] and b["coverage"]["fraction"] == 0 for b in by_hour["buckets"][:6])
    assert sum(b["apt_s"] for b in by_hour["buckets"][6:]) == pytest.approx(373 * 60)


def test_reimporting_the_same_file_adds_nothing(store):
    db, tmp = store
    (tmp / "events.csv").write_text(EVENTS)
    runner.invoke(app, ["import", "events", str(tmp / "events.csv"), "--db", db])
    (tmp / "copy.csv").write_text(EVENTS)
    result = runner.invoke(app, ["import", "events", str(tmp / "copy.csv"), "--db", db])
    assert result.exit_code == 0
    assert "0 event(s) imported" in result.output and "8 already stored" in result.output


def test_a_file_with_bad_rows_is_refused_whole_with_line_numbers(store):
    db, tmp = store
    bad = (
        EVENTS
        + "\n".join(
            [
                "2026-03-02T15:00:00,WLD-01,state,running,,",
                "2026-03-02T15:00:00+09:00,WLD-09,good,1,DRUM-A,",
                "2026-03-02T15:00:00+09:00,WLD-01,state,flying,,",
                "2026-03-02T15:00:00+09:00,WLD-01,good,-4,DRUM-A,",
                "2026-03-02T15:00:00+09:00,WLD-01,good,2.5,DRUM-A,",
                "2026-03-02T15:00:00+09:00,WLD-01,weld,1,DRUM-A,",
                "not a date,WLD-01,good,1,DRUM-A,",
                "2026-03-02T15:00:00+09:00,WLD-01,good,1,NOPE,",
                "2026-03-02T15:00:00+09:00,WLD-01,good",
                "2099-01-01T00:00:00+09:00,WLD-01,good,1,DRUM-A,",
            ]
        )
        + "\n"
    )
    (tmp / "bad.csv").write_text(bad)
    result = runner.invoke(app, ["import", "events", str(tmp / "bad.csv"), "--db", db])
    assert result.exit_code == 2
    text = result.output
    for expected in (
        "line 10: ts '2026-03-02T15:00:00' has no UTC offset",
        "line 11: unknown machine 'WLD-09'",
        "line 12: state 'flying' must be one of",
        "line 13: good quantity -4 is negative",
        "line 14: good quantity '2.5' is not a whole number",
        "line 15: event 'weld' must be one of",
        "line 16: ts 'not a date' is not an ISO 8601",
        "line 17: unknown product 'NOPE'",
        "line 18: 3 field(s), expected 6",
        "line 19: ts 2099-01-01T00:00:00+09:00 is in the future",
        "nothing imported",
    ):
        assert expected in text
    out = kpi_json(db, "--machine", "WLD-01", "--from", "2026-03-02", "--to", "2026-03-03")
    # Nothing was stored: the window has no data, so its figures are unknown (null), not zero.
    assert out["pq"] is None and out["apt_s"] is None and out["coverage"]["fraction"] == 0


@pytest.mark.parametrize(
    "header, message",
    [
        ("ts,machine,event,qty", "missing column(s) value"),
        ("ts,machine,event,value,colour", "unknown column(s) 'colour'"),
        ("ts,ts,machine,event,value", "column(s) ts appear more than once"),
    ],
)
def test_wrong_columns_are_named(store, header, message):
    db, tmp = store
    (tmp / "cols.csv").write_text(header + "\n")
    result = runner.invoke(app, ["import", "events", str(tmp / "cols.csv"), "--db", db])
    assert result.exit_code == 2 and message in result.output


def test_not_utf8_and_empty_files_are_refused(store):
    db, tmp = store
    (tmp / "latin.csv").write_bytes(
        "ts,machine,event,value\n2026-03-02T06:00:00+09:00,WLD-01,state,r\xe9\n".encode("latin-1")
    )
    assert "not UTF-8" in runner.invoke(app, ["import", "events", str(tmp / "latin.csv"), "--db", db]).output
    (tmp / "empty.csv").write_text("")
    assert "file is empty" in runner.invoke(app, ["import", "events", str(tmp / "empty.csv"), "--db", db]).output


def test_a_bad_plant_file_lists_its_problems(tmp_path):
    (tmp_path / "p.yaml").write_text("site: {code: X}\nareas: []\n")
    result = runner.invoke(app, ["import", "plant", str(tmp_path / "p.yaml"), "--db", str(tmp_path / "x.db")])
    assert result.exit_code == 2
    assert "site.timezone: missing" in result.output and "areas: at least one area" in result.output


def test_kpi_refuses_an_unknown_scope_and_reversed_window(store):
    db, _ = store
    r = runner.invoke(app, ["kpi", "--machine", "NOPE", "--db", db])
    assert (r.exit_code, r.output) == (2, "error: unknown machine NOPE\n")
    r = runner.invoke(app, ["kpi", "--machine", "WLD-01", "--line", "WELD", "--db", db])
    assert (r.exit_code, r.output) == (2, "error: choose exactly one of a machine, a line or the site\n")
    r = runner.invoke(app, ["kpi", "--site", "--from", "2026-03-03", "--to", "2026-03-02", "--db", db])
    assert r.exit_code == 2 and r.output.startswith("error: the end (2026-03-01T15:00:00+00:00) must be after")


def test_demo_prints_kpis(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["demo", "--no-serve", "--db", str(tmp_path / "demo.db")])
    assert result.exit_code == 0, result.output
    assert "CHANGWON" in result.output and "OEE" in result.output


def test_user_add_and_token(tmp_path):
    db = str(tmp_path / "u.db")
    r = runner.invoke(
        app, ["user", "add", "lee", "--role", "admin", "--db", db], input="admin-password-1\nadmin-password-1\n"
    )
    assert r.exit_code == 0, r.output
    r = runner.invoke(app, ["user", "add", "op", "--pin", "--badge", "B-7", "--db", db], input="1234\n1234\n")
    assert r.exit_code == 0, r.output
    r = runner.invoke(
        app, ["user", "add", "lee", "--role", "admin", "--db", db], input="admin-password-1\nadmin-password-1\n"
    )
    assert r.exit_code == 2 and "exists already" in r.output
    r = runner.invoke(app, ["user", "token", "lee", "--name", "gateway", "--db", db])
    assert r.exit_code == 0 and r.stdout.strip().startswith("sf_")


def test_user_set_deactivate_reset_and_sign_out(tmp_path):
    db = str(tmp_path / "u.db")
    r = runner.invoke(app, ["user", "add", "op", "--pin", "--badge", "B-7", "--db", db], input="1234\n1234\n")
    assert r.exit_code == 0, r.output
    r = runner.invoke(app, ["user", "set", "op", "--language", "vi", "--badge", "B-8", "--db", db])
    assert r.exit_code == 0 and "vi, badge B-8" in r.output, r.output
    r = runner.invoke(app, ["user", "reset-pin", "op", "--db", db], input="12\n12\n")
    assert r.exit_code == 2 and "PIN" in r.output
    r = runner.invoke(app, ["user", "reset-pin", "op", "--db", db], input="5678\n5678\n")
    assert r.exit_code == 0 and "sessions ended" in r.output
    r = runner.invoke(app, ["user", "sign-out", "op", "--db", db])
    assert r.exit_code == 0 and "0 session(s) ended" in r.output
    r = runner.invoke(app, ["user", "deactivate", "op", "--reason", "left", "--db", db])
    assert r.exit_code == 0, r.output
    r = runner.invoke(app, ["user", "list", "--db", db])
    assert r.exit_code == 0 and re.search(r"op .*operator .*vi .*B-8 .*no .*0", r.output), r.output
    r = runner.invoke(app, ["user", "deactivate", "nobody", "--db", db])
    assert r.exit_code == 2 and "no user nobody" in r.output


def test_each_summary_in_the_listing_is_how_its_command_s_help_begins():
    for name in COMMANDS:
        command = load(name)
        assert " ".join((command.help or "").split()).startswith(COMMANDS[name].summary), name


def test_version_and_help_load_neither_the_store_nor_the_web_framework():
    heavy = ("sqlalchemy", "alembic", "fastapi", "uvicorn", "shopfloor.store", "shopfloor.api", "shopfloor.settings")
    script = (
        "import sys\n"
        "from shopfloor.cli import app\n"
        "try:\n"
        "    app(sys.argv[1:])\n"
        "except SystemExit as end:\n"
        "    assert end.code in (0, None), end.code\n"
        f"print('loaded:', sorted(m for m in sys.modules if m.startswith({heavy!r})), file=sys.stderr)\n"
    )
    for args in (["--version"], ["--help"]):
        done = subprocess.run([sys.executable, "-c", script, *args], capture_output=True, text=True, check=True)
        assert done.stderr.strip() == "loaded: []", args


def test_bench_markdown_prints_the_rows_of_json_files(tmp_path):
    rows = [{"bench": "bench_web", "name": "taps", "value": 12.0, "unit": "ms", "baseline": 4.0,
             "baseline_unit": "ms (bare)", "ratio": 3.0, "server_cpu_ms_per_request": 1.5}]  # fmt: skip
    file = tmp_path / "rows.json"
    file.write_text(json.dumps({"quick": False, "rows": rows}))
    result = runner.invoke(app, ["bench", "--markdown", str(file), "--markdown", str(file)])
    assert result.exit_code == 0, result.output
    lines = [line for line in result.output.splitlines() if line.startswith("| `bench_web`")]
    assert lines == ["| `bench_web` | taps | 12 ms | 4 ms (bare) (server cpu ms per request: 1.5) | 3 | ?, ? |"] * 2
