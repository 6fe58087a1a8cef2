"""The languages of the people on the floor: every text a terminal shows and every refusal it can meet is in
each terminal language, every domain refusal in each supervisor language; each terminal language renders in
Debian's chromium with the fonts ./run installs, without a missing glyph."""

import re
from pathlib import Path

import pytest

from shopfloor import errors
from shopfloor.i18n import (
    LANGUAGES,
    TERMINAL_ERROR_CODES,
    TERMINAL_LANGUAGES,
    catalog,
    error_catalog,
)
from shopfloor.web.terminal import ACTION_NAMES

TEMPLATES = Path(__file__).resolve().parents[2] / "src" / "shopfloor" / "web" / "templates"
# Templates of the terminal's pages (the page header included: it is on every terminal page).
TERMINAL_TEMPLATES = (
    "terminal.html",
    "pin_login.html",
    "base.html",
    "error.html",
    "_reason_button.html",
    "_terminal_maintenance.html",
    "_terminal_documents.html",
    "_maintenance_badge.html",
)
# Texts a terminal shows that the templates take from the code: states, durations, sign-in refusals, roles.
DYNAMIC = ("running", "idle", "setup", "down", "planned_stop", "no_order", "no data", "{m} min", "{h} h {m} min",
           "Wrong badge or PIN.", "Too many attempts; wait a few minutes.", "operator", "Not allowed", "Not found",
           "Server error")  # fmt: skip
FOREIGN = [lang for lang in TERMINAL_LANGUAGES if lang != "en"]


def terminal_texts() -> set[str]:
    texts = set(DYNAMIC) | set(ACTION_NAMES.values())
    for name in TERMINAL_TEMPLATES:
        source = (TEMPLATES / name).read_text(encoding="utf-8")
        texts |= {m[1] for m in re.findall(r"""_\((["'])(.*?)\1""", source)}
    return texts


def test_the_terminal_texts_are_read_from_its_templates():
    texts = terminal_texts()
    assert {"Report good", "The machine has stopped for {minutes} min: why?", "Badge or name"} <= texts


@pytest.mark.parametrize("lang", FOREIGN)
def test_every_terminal_text_is_in_every_terminal_language(lang):
    missing = sorted(t for t in terminal_texts() if t not in catalog(lang))
    assert missing == []
    for text in terminal_texts():  # the same placeholders as the English text
        assert set(re.findall(r"\{(\w+)\}", catalog(lang)[text])) == set(re.findall(r"\{(\w+)\}", text)), text


@pytest.mark.parametrize("lang", FOREIGN)
def test_every_refusal_a_terminal_can_show_is_in_every_terminal_language(lang):
    by_code = {cls.code: cls for cls in errors.all_errors()}
    assert set(TERMINAL_ERROR_CODES) <= set(by_code)
    entries = error_catalog(lang)
    for code in TERMINAL_ERROR_CODES:
        assert code in entries, code
        english, translated = entries[code]
        assert english == by_code[code].message, f"{code}: translated from an older message"
        assert set(re.findall(r"\{(\w+)\}", translated)) == set(re.findall(r"\{(\w+)\}", english)), code
    # The terminal's own refusals are all of them.
    assert {c.code for c in errors.all_errors() if c.code.startswith("terminal.")} <= set(TERMINAL_ERROR_CODES)


@pytest.mark.parametrize("lang", [lang for lang in LANGUAGES if lang != "en"])
def test_every_domain_refusal_is_in_every_supervisor_language(lang):
    entries = error_catalog(lang)
    missing = sorted(cls.code for cls in errors.all_errors() if entries.get(cls.code, ("",))[0] != cls.message)
    assert missing == []
