"""Which revision of a document is in force: approved, effective, the latest to take effect."""

from datetime import datetime, timezone

from shopfloor.model.documents import Revision, RevisionState, current, state

T = lambda d: datetime(2026, 12, d, 8, tzinfo=timezone.utc)  # noqa: E731


def test_the_latest_effective_approved_revision_is_in_force():
    a = Revision(1, "A", True, T(1), T(1))
    b = Revision(2, "B", True, T(10), T(5))  # approved on the 5th, in force from the 10th
    c = Revision(3, "C", False, None)  # a draft
    revs = [a, b, c]
    assert current(revs, T(9)) == a and state(b, revs, T(9)) is RevisionState.PENDING
    assert current(revs, T(10)) == b
    assert [state(r, revs, T(10)) for r in revs] == [RevisionState.SUPERSEDED, RevisionState.CURRENT,
                                                     RevisionState.DRAFT]  # fmt: skip
    assert current([c], T(10)) is None
