"""Logging for the long-running commands (``serve``, ``ingest``, ``demo``, ``simulate``): plain lines for a
terminal, or one JSON object per line (``SHOPFLOOR_LOG_FORMAT=json``) for a log collector.

Secrets never reach a log: passwords, PINs, API tokens (``sf_...``), bearer credentials, session and CSRF tokens
and credentials in URLs are masked in every message and field, whatever logger wrote them.
"""

from __future__ import annotations

import json
import logging
import re
from datetime import datetime, timezone

MASK = "***"
_PATTERNS = (
    re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._~+/=-]+"),
    re.compile(r"\bsf_[A-Za-z0-9_-]{8,}"),
    re.compile(r"(?i)\b(password|passwd|pin|token|secret|csrf_token|session)(\s*[=:]\s*|\"\s*:\s*\")([^\s\"&,;]+)"),
    re.compile(r"(?i)(\w+://[^:/@\s]+:)([^@\s]+)(@)"),  # user:password@ in a URL
)
_STANDARD = set(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {"message", "asctime"}


def redact(text: str) -> str:
    text = _PATTERNS[0].sub(rf"\g<1>{MASK}", text)
    text = _PATTERNS[1].sub(MASK, text)
    text = _PATTERNS[2].sub(rf"\g<1>\g<2>{MASK}", text)
    return _PATTERNS[3].sub(rf"\g<1>{MASK}\g<3>", text)


class RedactingFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = redact(record.getMessage())
        record.args = None
        for key, value in list(record.__dict__.items()):
            if key not in _STANDARD and isinstance(value, str):
                setattr(record, key, redact(value))
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        doc = {
            "ts": datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key, value in record.__dict__.items():
            if key not in _STANDARD and not key.startswith("_"):
                doc[key] = value if isinstance(value, (str, int, float, bool, type(None))) else str(value)
        if record.exc_info:
            doc["exc"] = redact(self.formatException(record.exc_info))
        return json.dumps(doc, ensure_ascii=False)


def configure(level: str = "INFO", fmt: str = "text") -> None:
    """Set up the root logger: ``level`` and ``fmt`` (text or json) come from the settings
    (``SHOPFLOOR_LOG_LEVEL``, ``SHOPFLOOR_LOG_FORMAT``)."""
    handler = logging.StreamHandler()
    handler.addFilter(RedactingFilter())
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
