"""The events CSV through `shopfloor import events`: a strict reader (a stray double quote refuses the file with
its line, instead of swallowing the rows after it), and repeated rows stored once and said so."""

from sqlalchemy import func, select
from typer.testing import CliRunner

from shopfloor.cli import app
from shopfloor.store.db import open_store
from shopfloor.store.schema import machine_events
from tests.test_cli import PLANT

runner = CliRunner()
HEADER = "ts,machine,event,value,product,reason\n"


def _store(tmp_path) -> str:
    (tmp_path / "plant.yaml").write_text(PLANT)
    db = str(tmp_path / "s.db")
    assert runner.invoke(app, ["import", "plant", str(tmp_path / "plant.yaml"), "--db", db]).exit_code == 0
    return db


def _events(db: str) -> int:
    with open_store(db).connect() as conn:
        return conn.execute(select(func.count()).select_from(machine_events)).scalar_one()


def _import(db: str, tmp_path, text: str):
    (tmp_path / "events.csv").write_text(text)
    return runner.invoke(app, ["import", "events", str(tmp_path / "events.csv"), "--db", db])


def test_a_stray_double_quote_refuses_the_file_with_its_line_and_stores_nothing(tmp_path):
    db = _store(tmp_path)
    text = (
        HEADER + "2026-03-02T06:00:00+09:00,WLD-01,state,running,,\n"
        '2026-03-02T09:00:00+09:00,WLD-01,state,down,,"LASER_FAULT\n'
        "2026-03-02T09:47:00+09:00,WLD-01,state,running,,\n"
        "2026-03-02T13:00:00+09:00,WLD-01,good,18848,DRUM-A,\n"
        '2026-03-02T13:00:00+09:00,WLD-01,scrap,423,DRUM-A,"POROSITY"\n'
    )
    result = _import(db, tmp_path, text)
    assert result.exit_code != 0
    assert "line 3: a double quote opens a field that runs on to line 6" in result.output
    assert _events(db) == 0


def test_a_quote_never_closed_and_text_after_a_closing_quote_are_refused(tmp_path):
    db = _store(tmp_path)
    unclosed = HEADER + '2026-03-02T09:00:00+09:00,WLD-01,state,down,,"LASER_FAULT\n'
    result = _import(db, tmp_path, unclosed)
    assert result.exit_code != 0 and "line 2: a double quote opens a field that is never closed" in result.output
    trailing = HEADER + '2026-03-02T09:00:00+09:00,WLD-01,state,down,,"LASER"FAULT\n'
    result = _import(db, tmp_path, trailing)
    assert result.exit_code != 0 and "line 2: text after the closing double quote" in result.output
    assert _events(db) == 0


def test_rows_repeating_an_earlier_row_are_one_event_and_the_output_says_so(tmp_path):
    db = _store(tmp_path)
    row = "2026-03-02T13:00:00+09:00,WLD-01,good,5,DRUM-A,\n"
    text = HEADER + row + row + row + "2026-03-02T13:00:00+09:00,WLD-01,good,6,DRUM-A,\n"
    result = _import(db, tmp_path, text)
    assert result.exit_code == 0, result.output
    assert "2 event(s) imported from 4 row(s); 0 already stored, skipped" in result.output
    assert "2 row(s) repeat an earlier row of the file and are stored once" in result.output
    assert _events(db) == 2
    again = _import(db, tmp_path, text)
    assert "0 event(s) imported from 4 row(s); 2 already stored, skipped" in again.output
