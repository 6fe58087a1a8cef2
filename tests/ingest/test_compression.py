"""Compression of process values keeps its stated error bound and never drops the last value."""

from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shopfloor.ingest.compression import Deadband, Point, SwingingDoor, make_filter

T0 = datetime(2026, 3, 2, tzinfo=timezone.utc)


def points(values, step_s=1.0):
    return [Point(T0 + timedelta(seconds=i * step_s), float(v)) for i, v in enumerate(values)]


def run(filt, pts):
    kept = []
    for p in pts:
        kept.extend(filt.add(p))
    kept.extend(filt.flush())
    return kept


def interpolate(kept, ts):
    if len(kept) == 1 and kept[0].ts == ts:
        return kept[0].value
    for a, b in zip(kept, kept[1:]):
        if a.ts <= ts <= b.ts:
            span = (b.ts - a.ts).total_seconds()
            return a.value + (b.value - a.value) * (ts - a.ts).total_seconds() / span
    raise AssertionError(f"{ts} outside kept range")


values = st.lists(st.floats(min_value=-1e4, max_value=1e4, allow_nan=False), min_size=1, max_size=300)
deviations = st.floats(min_value=0.0, max_value=100.0)


@settings(max_examples=300, deadline=None)
@given(values, deviations)
def test_swinging_door_keeps_every_value_within_the_deviation_of_the_interpolated_line(vals, e):
    pts = points(vals)
    kept = run(SwingingDoor(e, max_gap_s=1e9), pts)
    assert kept[0] == pts[0] and kept[-1] == pts[-1]
    assert [p.ts for p in kept] == sorted({p.ts for p in kept})
    for p in pts:
        assert abs(interpolate(kept, p.ts) - p.value) <= e + 1e-9 * max(1.0, abs(p.value))


@settings(max_examples=300, deadline=None)
@given(values, deviations)
def test_deadband_keeps_every_value_within_the_deviation_of_the_last_kept_value(vals, e):
    pts = points(vals)
    kept = run(Deadband(e, max_gap_s=1e9), pts)
    assert kept[0] == pts[0] and kept[-1] == pts[-1]
    for p in pts:
        last = max((k for k in kept if k.ts <= p.ts), key=lambda k: k.ts)
        assert abs(last.value - p.value) <= e


def test_a_straight_ramp_compresses_to_its_two_ends():
    kept = run(SwingingDoor(0.01), points(range(1000)))
    assert [k.value for k in kept] == [0.0, 999.0]


def test_a_flat_signal_is_still_kept_every_max_gap():
    kept = run(SwingingDoor(1.0, max_gap_s=60), points([5.0] * 601))
    gaps = [(b.ts - a.ts).total_seconds() for a, b in zip(kept, kept[1:])]
    assert max(gaps) <= 60 and len(kept) >= 10


def test_out_of_order_values_are_refused_not_misplaced():
    f = SwingingDoor(1.0)
    f.add(Point(T0 + timedelta(seconds=10), 1.0))
    with pytest.raises(ValueError, match="time order"):
        f.add(Point(T0, 2.0))


def test_unknown_filter_name_is_refused():
    with pytest.raises(ValueError, match="unknown compression"):
        make_filter("zip", 1.0)
    assert make_filter("none", 1.0) is None


@settings(max_examples=100, deadline=None)
@given(values, deviations, st.integers(min_value=0, max_value=300))
def test_a_filter_restored_from_its_state_continues_exactly(vals, e, cut):
    pts = points(vals)
    cut = min(cut, len(pts))
    for kind in ("deadband", "swinging_door"):
        whole = run(make_filter(kind, e, 1e9), pts)
        first = make_filter(kind, e, 1e9)
        kept = [k for p in pts[:cut] for k in first.add(p)]
        second = make_filter(kind, e, 1e9)
        second.restore(first.state())
        kept += [k for p in pts[cut:] for k in second.add(p)] + second.flush()
        assert kept == whole
