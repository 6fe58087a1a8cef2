"""The fault table: each fault scenario adds its row (values sent, acknowledged, stored, lost, duplicated), and
the run prints them together at the end (the README's table comes from there)."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

ROWS: list = []
HEADER = (
    "| scenario | values sent | acknowledged | stored | lost | duplicated | units made | units counted |\n"
    "|---|---|---|---|---|---|---|---|"
)


@pytest.fixture
def fault_table():
    return ROWS


@pytest.fixture
def tiny_disk(tmp_path):
    """A small disk of its own (a 160 KiB tmpfs, mounted for the test and unmounted after); skips without root."""
    path = tmp_path / "tiny"
    path.mkdir()
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("a small tmpfs cannot be mounted here (needs root)")
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=160k", "tmpfs", str(path)], capture_output=True).returncode:
        pytest.skip("a small tmpfs cannot be mounted here")
    try:
        yield path
    finally:
        subprocess.run(["umount", str(path)], capture_output=True)


def pytest_terminal_summary(terminalreporter):
    if ROWS:
        terminalreporter.write_sep("=", "ingest fault scenarios")
        terminalreporter.write_line(HEADER)
        for row in ROWS:
            terminalreporter.write_line(row.row())
