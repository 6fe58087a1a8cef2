"""Skills and certifications: an operation that needs a skill may be started only by someone certified for it,
whose certification has not expired at the moment of the start (valid while ``at < expires_at``)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime

MISSING = "missing"
EXPIRED = "expired"


def valid(expires_at: datetime | None, at: datetime) -> bool:
    return expires_at is None or at < expires_at


def lacking(
    required: Iterable[str], held: Mapping[str, datetime | None], at: datetime
) -> list[tuple[str, str, datetime | None]]:
    """The required skills the holder lacks at ``at``: (skill, ``missing`` or ``expired``, expiry) each."""
    out = []
    for skill in sorted(set(required)):
        if skill not in held:
            out.append((skill, MISSING, None))
        elif not valid(held[skill], at):
            out.append((skill, EXPIRED, held[skill]))
    return out
