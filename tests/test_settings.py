"""The settings: every SHOPFLOOR_* variable of the README's table is a field of the one settings object and the
reverse; options given on the command line win; nothing but the settings module reads the environment."""

from __future__ import annotations

import re
from pathlib import Path

from shopfloor.settings import Settings, environment_variables

REPO = Path(__file__).resolve().parent.parent
SRC = REPO / "src" / "shopfloor"


def _readme_table() -> dict[str, str]:
    section = (REPO / "README.md").read_text(encoding="utf-8").split("### Settings", 1)[1].split("\n### ", 1)[0]
    return {m[1]: m[2].strip() for m in re.finditer(r"^\| `(SHOPFLOOR_[A-Z_]+)` \| ([^|]+) \|", section, re.M)}


def test_the_readme_table_lists_every_setting_with_its_description():
    assert _readme_table() == environment_variables()


def test_variables_are_read_and_options_win(monkeypatch):
    monkeypatch.setenv("SHOPFLOOR_DB", "postgresql://db.example/plant")
    monkeypatch.setenv("SHOPFLOOR_SECURE", "1")
    monkeypatch.setenv("SHOPFLOOR_LOG_LEVEL", "warning")
    read = Settings()
    assert (read.db, read.secure, read.log_level) == ("postgresql://db.example/plant", True, "WARNING")
    assert read.with_options(db="other.db", hub=None).db == "other.db"
    assert read.with_options(db=None).db == "postgresql://db.example/plant"


def test_nothing_else_reads_the_environment():
    readers = sorted(
        str(path.relative_to(SRC))
        for path in SRC.rglob("*.py")
        if re.search(r"os\.environ|os\.getenv|getenv\(", path.read_text(encoding="utf-8"))
    )
    assert readers == []


def test_hashing_cannot_be_weakened_from_the_environment():
    accounts = (SRC / "store" / "accounts.py").read_text(encoding="utf-8")
    assert "environ" not in accounts and "CHEAPEST" not in accounts
