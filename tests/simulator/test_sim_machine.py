"""The simulated machine behaves like a PLC: states from its loss rates, counters that roll over, drift."""

from datetime import datetime, timedelta, timezone

import pytest

from shopfloor.simulator.history import PROFILES
from shopfloor.simulator.machine import STATE_MAP, ProcessSpec, SimulatedMachine

T0 = datetime(2026, 3, 2, tzinfo=timezone.utc)


def run_for(machine, hours):
    seen = set()
    t = T0
    machine.advance(t)
    for _ in range(int(hours * 60)):
        t += timedelta(minutes=1)
        machine.advance(t)
        seen.add(machine.state)
    return seen


def test_a_machine_runs_stops_and_produces_at_its_cycle_time():
    m = SimulatedMachine("WLD-01", PROFILES["WELD"], ideal_cycle_s=40, seed=1)
    states = run_for(m, 8)
    assert {"running", "idle"} <= states
    produced = m.good_count + m.scrap_count
    assert 0.5 * 8 * 3600 / 40 < produced <= 8 * 3600 / 40
    assert m.total_count == produced
    assert STATE_MAP[m.tags()["State"]] == m.state


def test_counters_roll_over_at_their_width():
    m = SimulatedMachine("CNC-01", PROFILES["CNC"], ideal_cycle_s=1, seed=2, counter_bits=8)
    run_for(m, 1)
    assert 0 <= m.total_count < 256
    assert m.good_count < 256 and m.scrap_count < 256


def test_tool_wear_drifts_the_process_value_until_the_tool_is_changed():
    spec = ProcessSpec("spindle_load", nominal=50.0, noise=0.0, drift_per_part=0.1, reset_every_parts=100)
    m = SimulatedMachine("CNC-01", PROFILES["CNC"], ideal_cycle_s=10, seed=3, process=(spec,))
    seen: list[tuple[int, float]] = []
    t = T0
    m.advance(t)
    for _ in range(120):
        t += timedelta(minutes=1)
        m.advance(t)
        if "spindle_load" in m.values:
            seen.append((m.good_count + m.scrap_count, m.values["spindle_load"]))
    parts = seen[-1][0]
    assert parts > 200  # the tool was changed at least twice
    for made, value in seen:  # without noise the value is the nominal plus the wear of the parts since the change
        assert value == pytest.approx(50.0 + 0.1 * (made % 100), abs=1e-6)
    assert max(v for _, v in seen) > 59.0  # worn nearly a whole tool's life before a change


def test_the_same_seed_gives_the_same_machine():
    a = SimulatedMachine("X", PROFILES["MOULD"], ideal_cycle_s=600, seed=9)
    b = SimulatedMachine("X", PROFILES["MOULD"], ideal_cycle_s=600, seed=9)
    run_for(a, 3)
    run_for(b, 3)
    assert a.tags() == b.tags()
