"""The fault table: each fault scenario adds its row (values sent, acknowledged, stored, lost, duplicated), and
the run prints them together at the end (the README's table comes from there)."""

from __future__ import annotations

import pytest

ROWS: list = []
HEADER = (
    "| scenario | values sent | acknowledged | stored | lost | duplicated | units made | units counted |\n"
    "|---|---|---|---|---|---|---|---|"
)


@pytest.fixture
def fault_table():
    return ROWS


def pytest_terminal_summary(terminalreporter):
    if ROWS:
        terminalreporter.write_sep("=", "ingest fault scenarios")
        terminalreporter.write_line(HEADER)
        for row in ROWS:
            terminalreporter.write_line(row.row())
