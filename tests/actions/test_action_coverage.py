"""Every action has its test on both stores: a function of ``shopfloor.actions`` that opens a change (or calls a
helper of its module that does) must be called in ``tests/actions/test_actions.py``, which checks its row,
its audit entry and its live event on SQLite and PostgreSQL."""

from __future__ import annotations

import ast
from pathlib import Path

import shopfloor.actions

ACTIONS = Path(shopfloor.actions.__file__).parent
TESTS = Path(__file__).parent / "test_actions.py"


def _calls(node: ast.AST) -> set[str]:
    return {
        call.func.id if isinstance(call.func, ast.Name) else call.func.attr
        for call in ast.walk(node)
        if isinstance(call, ast.Call) and isinstance(call.func, ast.Name | ast.Attribute)
    }


def actions() -> list[str]:
    """Public functions of the actions modules that change something through ``change``."""
    found = []
    for path in sorted(ACTIONS.glob("*.py")):
        functions = {
            f.name: f for f in ast.parse(path.read_text(encoding="utf-8")).body if isinstance(f, ast.FunctionDef)
        }
        writers = {name for name, f in functions.items() if "change" in _calls(f)}
        writers |= {name for name, f in functions.items() if _calls(f) & {w for w in writers if w.startswith("_")}}
        found += [f"{path.stem}.{name}" for name in sorted(writers) if not name.startswith("_") and name != "change"]
    return found


def test_the_actions_are_found():
    assert {"work_orders.transition_work_order", "lots.hold_lot", "quality.acknowledge_alarm"} <= set(actions())


def test_every_action_is_tested_on_both_stores():
    tested = _calls(ast.parse(TESTS.read_text(encoding="utf-8")))
    assert [a for a in actions() if a.split(".")[1] not in tested] == []
