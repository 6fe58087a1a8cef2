"""PLC counters: roll-over, resets and jumps never create negative or phantom counts."""

from datetime import datetime, timedelta, timezone

from hypothesis import given, settings
from hypothesis import strategies as st

from shopfloor.ingest.counters import CounterTracker

T0 = datetime(2026, 3, 2, tzinfo=timezone.utc)


def feed(tracker, readings, step_s=1.0):
    return [tracker.update(v, T0 + timedelta(seconds=i * step_s)) for i, v in enumerate(readings)]


def test_first_reading_is_only_a_baseline():
    r = feed(CounterTracker(16), [1234])
    assert r[0].increment == 0 and r[0].kind == "baseline"


def test_16_bit_roll_over_counts_across_the_wrap():
    r = feed(CounterTracker(16), [65530, 65535, 2])
    assert [x.increment for x in r] == [0, 5, 3]
    assert r[2].kind == "rollover" and not r[2].anomaly


def test_32_bit_roll_over_with_a_known_rate():
    r = feed(CounterTracker(32, max_rate_per_s=2.0), [2**32 - 3, 4], step_s=5)
    assert r[1].increment == 7 and r[1].kind == "rollover"


def test_a_reset_counts_the_units_since_the_reset_when_plausible():
    r = feed(CounterTracker(16, max_rate_per_s=1.0), [500, 510, 3], step_s=10)
    assert [x.increment for x in r] == [0, 10, 3]
    assert r[2].kind == "reset" and not r[2].anomaly


def test_a_reset_of_unknown_rate_counts_nothing_and_is_flagged():
    r = feed(CounterTracker(16), [5000, 5010, 40])
    assert [x.increment for x in r] == [0, 10, 0]
    assert r[2].kind == "reset" and r[2].anomaly


def test_a_jump_backwards_is_flagged_not_negative():
    r = feed(CounterTracker(32, max_rate_per_s=1.0), [5000, 4990, 4995], step_s=10)
    assert [x.increment for x in r] == [0, 0, 5]
    assert r[1].anomaly


def test_an_implausible_jump_forward_is_held_back():
    r = feed(CounterTracker(32, max_rate_per_s=0.5), [100, 101, 60000, 60001], step_s=2)
    assert [x.increment for x in r] == [0, 1, 0, 1]
    assert r[2].kind == "jump" and "not counted" in r[2].reason


def test_state_survives_a_restart_without_recounting():
    first = CounterTracker(16)
    feed(first, [10, 20])
    again = CounterTracker.from_dict(first.to_dict())
    r = again.update(25, T0 + timedelta(seconds=5))
    assert r.increment == 5


def test_out_of_range_and_out_of_order_readings_are_refused():
    t = CounterTracker(16)
    assert t.update(70000, T0).anomaly
    t.update(5, T0 + timedelta(seconds=10))
    assert t.update(4, T0).kind == "out_of_order"  # an older reading delivered again
    clock_back = t.update(6, T0)  # the value went up: the machine's clock went back
    assert (clock_back.kind, clock_back.increment) == ("clock_back", 1) and clock_back.at > T0 + timedelta(seconds=10)


@settings(max_examples=300, deadline=None)
@given(
    bits=st.sampled_from([16, 32]),
    start=st.integers(min_value=0, max_value=2**16 - 1),
    steps=st.lists(st.integers(min_value=0, max_value=2**16 // 8), min_size=1, max_size=200),
    rate_known=st.booleans(),
)
def test_increments_sum_to_the_true_count_through_any_number_of_wraps(bits, start, steps, rate_known):
    mod = 1 << bits
    # One reading per second; the machine can make at most 2**16/8 units a second here.
    tracker = CounterTracker(bits, max_rate_per_s=float(2**16 // 8) if rate_known else None)
    true = start
    total = 0
    tracker.update(start % mod, T0)
    for i, step in enumerate(steps, start=1):
        true += step
        result = tracker.update(true % mod, T0 + timedelta(seconds=i))
        assert result.increment >= 0
        total += result.increment
    assert total == true - start
