"""A certification is valid until its expiry instant (exclusive); a skill never certified is missing."""

from datetime import datetime, timezone

from shopfloor.model.skills import EXPIRED, MISSING, lacking, valid

T = lambda d: datetime(2026, 12, d, tzinfo=timezone.utc)  # noqa: E731


def test_valid_until_the_expiry_instant():
    assert valid(None, T(1)) and valid(T(2), T(1)) and not valid(T(2), T(2))


def test_lacking_names_missing_and_expired_skills():
    held = {"WELD-2G": T(10), "CRANE": None, "TIG": T(3)}
    assert lacking(["CRANE", "WELD-2G"], held, T(5)) == []
    assert lacking(["TIG", "WELD-2G", "NDT"], held, T(5)) == [("NDT", MISSING, None), ("TIG", EXPIRED, T(3))]
