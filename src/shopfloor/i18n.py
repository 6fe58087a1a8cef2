"""Korean, English and Vietnamese for every page: gettext catalogs (.po, read with Babel) and locale-aware
numbers, percentages, durations and dates.

Messages are written in English in the code and templates; ``translations/<lang>.po`` holds the Korean and
Vietnamese texts.  A site in Asia/Seoul defaults to Korean, any other to English; a user's own choice wins.
The messages of errors (``shopfloor.errors``) are in the same catalogs, each under its code as ``msgctxt``.
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

from shopfloor.errors import DomainError, Problems, Translation

LANGUAGES = {"ko": "한국어", "en": "English", "vi": "Tiếng Việt"}
# The operator terminal speaks the languages of the people on the floor too (the employment permit system's
# countries); its catalogs hold the terminal's texts and the refusals a terminal can show.  Each is named in
# itself.  Supervisor and office pages stay in LANGUAGES.
TERMINAL_LANGUAGES = {
    **LANGUAGES,
    "ne": "नेपाली",
    "km": "ខ្មែរ",
    "id": "Bahasa Indonesia",
    "my": "မြန်မာ",
    "th": "ไทย",
    "uz": "Oʻzbekcha",
    "fil": "Filipino",
    "si": "සිංහල",
}
# The refusals an operator can meet at the terminal (its entries, lots, inspections, sign-in): each has its
# message in every terminal language (tests/web/test_floor_languages.py).
TERMINAL_ERROR_CODES = (
    "document.not_confirmed",
    "maintenance.breakdown_open",
    "skill.expired",
    "skill.missing",
    "terminal.count_approval",
    "terminal.count_implausible",
    "auth.csrf",
    "auth.role_forbidden",
    "auth.sign_in_required",
    "auth.throttled",
    "auth.wrong_secret",
    "handover.no_shift",
    "handover.text",
    "lot.action_not_allowed",
    "lot.final",
    "lot.issue_order_not_running",
    "lot.not_found",
    "lot.not_in_bom",
    "lot.output_order_not_running",
    "lot.short",
    "photo.not_image",
    "photo.too_large",
    "quantity.decimals",
    "quantity.negative",
    "quantity.not_finite",
    "quantity.not_number",
    "quantity.not_positive",
    "quantity.too_large",
    "request.field.missing",
    "request.field.not_number",
    "request.field.not_whole_number",
    "request.field.too_large",
    "request.field.too_long",
    "request.field.too_small",
    "request.invalid",
    "sample.impossible",
    "sample.inspected",
    "sample.nonconforming",
    "sample.size",
    "sample.value_not_number",
    "sample.values_missing",
    "server.fault",
    "terminal.action_unknown",
    "terminal.clock_ahead",
    "terminal.defect_missing",
    "terminal.defect_unknown",
    "terminal.entry_too_old",
    "terminal.machine_not_stopped",
    "terminal.quantity",
    "terminal.reason_missing",
    "terminal.reason_unknown",
    "work_order.final",
    "work_order.machine_busy",
    "work_order.not_found",
    "work_order.transition_not_allowed",
)
# The catalogs live beside the templates that use most of their messages.
CATALOGS = Path(__file__).parent / "web" / "translations"


@cache
def _read(lang: str):
    with open(CATALOGS / f"{lang}.po", "rb") as fh:
        return read_po(fh, locale=lang)


@cache
def catalog(lang: str) -> dict[str, str]:
    """The messages of pages and documents: English text to ``lang``'s."""
    if lang == "en":
        return {}
    return {m.id: m.string for m in _read(lang) if m.id and m.string and not m.fuzzy and m.context is None}


@cache
def error_catalog(lang: str) -> dict[str, tuple[str, str]]:
    """The error messages: code to (English message, ``lang``'s message)."""
    if lang == "en":
        return {}
    return {m.context: (m.id, m.string) for m in _read(lang) if m.context and m.string and not m.fuzzy}


def error_translation(lang: str) -> Translation:
    """Error templates in ``lang``: none where the catalog has no entry for the code, or has one for an older
    English message (the English message is shown then rather than a translation of something else)."""
    errors = error_catalog(lang) if lang in TERMINAL_LANGUAGES else {}

    def template(code: str, english: str) -> str | None:
        entry = errors.get(code)
        return entry[1] if entry and entry[0] == english else None

    return template


def error_message(error: DomainError, lang: str) -> str:
    """``error``'s message in ``lang``; for several problems, the summary and each of them."""
    translation = error_translation(lang)
    own = error.translated(translation)
    if isinstance(error, Problems) and error.problems:
        return own + ": " + "; ".join(p.translated(translation) for p in error.problems)
    return own


def accepted_language(header: str | None) -> str | None:
    """The first language of an ``Accept-Language`` header that shopfloor speaks (a terminal's included), or None."""
    for part in (header or "").split(","):
        tag = part.split(";")[0].strip().lower()
        primary = tag.split("-")[0]
        if primary in TERMINAL_LANGUAGES:
            return primary
    return None


def default_language(timezone: str) -> str:
    return "ko" if timezone == "Asia/Seoul" else "en"


def pick_language(user_language: str | None, cookie: str | None, timezone: str, terminal: bool = False) -> str:
    """The user's language, else the browser's choice, else the site's; a terminal page may use a terminal
    language, other pages only theirs."""
    spoken = TERMINAL_LANGUAGES if terminal else LANGUAGES
    for lang in (user_language, cookie):
        if lang in spoken:
            return lang  # type: ignore[return-value]
    return default_language(timezone)


def won_korean(amount: int) -> str:
    """Korean grouping of large amounts by 억 (10^8) and 만 (10^4): 123,456,789 is 1억 2,345만 6,789원."""
    sign, n = ("-" if amount < 0 else ""), abs(amount)
    eok, man, rest = n // 10**8, n // 10**4 % 10**4, n % 10**4
    parts = [f"{eok:,}억"] if eok else []
    parts += [f"{man:,}만"] if man else []
    if rest or not parts:
        return sign + " ".join([*parts, f"{rest:,}원"])
    return sign + " ".join(parts) + " 원"


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

    def error(self, error: DomainError) -> str:
        """An error's message in this language; for several problems, the summary and each of them."""
        return error_message(error, self.lang)

    def number(self, value: float | int | None, digits: int = 0) -> str:
        if value is None:
            return "–"
        fmt = "#,##0" + ("." + "0" * digits if digits else "")
        return format_decimal(value, format=fmt, locale=self.locale)

    def won(self, amount: int | None) -> str:
        """An amount of won as its readers write it: 1억 2,345만 원 in Korean, ₩123,450,000 in English."""
        if amount is None:
            return "–"
        if self.lang == "ko":
            return won_korean(amount)
        if self.lang == "en":
            return ("-" if amount < 0 else "") + "₩" + format_decimal(abs(amount), format="#,##0", locale=self.locale)
        return format_decimal(amount, format="#,##0", locale=self.locale) + " won"

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
