"""Korean, English and Vietnamese for every page: gettext catalogs (.po, read with Babel) and locale-aware
numbers, percentages, durations and dates.

Messages are written in English in the code and templates; ``translations/<lang>.po`` holds the Korean and
Vietnamese texts.  A site in Asia/Seoul defaults to Korean, any other to English; a user's own choice wins.
"""

from __future__ import annotations

from datetime import datetime
from functools import cache
from pathlib import Path
from zoneinfo import ZoneInfo

from babel import Locale
from babel.dates import format_datetime, format_time
from babel.messages.pofile import read_po
from babel.numbers import format_decimal, format_percent

LANGUAGES = {"ko": "한국어", "en": "English", "vi": "Tiếng Việt"}
# The catalogs live beside the templates that use most of their messages.
CATALOGS = Path(__file__).parent / "web" / "translations"


@cache
def catalog(lang: str) -> dict[str, str]:
    if lang == "en":
        return {}
    path = CATALOGS / f"{lang}.po"
    with open(path, "rb") as fh:
        cat = read_po(fh, locale=lang)
    return {m.id: m.string for m in cat if m.id and m.string and not m.fuzzy}


def default_language(timezone: str) -> str:
    return "ko" if timezone == "Asia/Seoul" else "en"


def pick_language(user_language: str | None, cookie: str | None, timezone: str) -> str:
    for lang in (user_language, cookie):
        if lang in LANGUAGES:
            return lang  # type: ignore[return-value]
    return default_language(timezone)


class Translator:
    """Everything a template needs to speak one language."""

    def __init__(self, lang: str, tz: ZoneInfo):
        self.lang = lang
        self.tz = tz
        self.locale = Locale.parse(lang)
        self._messages = catalog(lang)

    def gettext(self, message: str, **values: object) -> str:
        text = self._messages.get(message, message)
        return text.format(**values) if values else text

    def number(self, value: float | int | None, digits: int = 0) -> str:
        if value is None:
            return "–"
        fmt = "#,##0" + ("." + "0" * digits if digits else "")
        return format_decimal(value, format=fmt, locale=self.locale)

    def percent(self, value: float | None) -> str:
        return "–" if value is None else format_percent(value, format="#,##0.0%", locale=self.locale)

    def duration(self, seconds: float | None) -> str:
        if seconds is None:
            return "–"
        seconds = int(seconds)
        h, rem = divmod(seconds, 3600)
        m, _ = divmod(rem, 60)
        return self.gettext("{h} h {m} min", h=h, m=m) if h else self.gettext("{m} min", m=m)

    def datetime(self, ts: datetime | None) -> str:
        return "–" if ts is None else format_datetime(ts, "short", tzinfo=self.tz, locale=self.locale)

    def datetime_iso(self, text: str) -> str:
        """:meth:`datetime` for an ISO 8601 timestamp as stored in documents and reports."""
        return self.datetime(datetime.fromisoformat(text))

    def time(self, ts: datetime | None) -> str:
        return "–" if ts is None else format_time(ts, "short", tzinfo=self.tz, locale=self.locale)
