"""Simulated machine history: state and count events of a plant over a period, from failure, micro-stop,
setup and defect rates per kind of shop.  Used by the demo, tests and benchmarks; deterministic for a seed.
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from shopfloor.model.events import CountEvent, CountKind, MachineEvent, MachineState, StateChange
from shopfloor.model.intervals import Interval
from shopfloor.model.plant import Plant


@dataclass(frozen=True)
class ShopProfile:
    """Loss rates of one kind of shop (times in seconds)."""

    product: str
    mtbf_s: float  # mean running time between breakdowns
    mttr_s: float  # mean repair time
    microstop_every_s: float  # mean running time between minor stops
    microstop_s: float  # mean minor stop
    setup_s: float  # setup at the start of each shift
    speed_loss: float  # actual cycle = ideal x (1 + speed_loss)
    scrap_rate: float
    rework_rate: float
    report_every_s: float = 600.0  # counts are reported in batches at this period
    defect_codes: tuple[str, ...] = ("D01",)
    down_reasons: tuple[str, ...] = ("BREAKDOWN",)


PROFILES: dict[str, ShopProfile] = {
    # Laser welding of dryer drums: weld defects (porosity, misalignment), frequent short stops.
    "WELD": ShopProfile(
        "DRUM-A",
        mtbf_s=4 * 3600,
        mttr_s=900,
        microstop_every_s=900,
        microstop_s=60,
        setup_s=600,
        speed_loss=0.08,
        scrap_rate=0.006,
        rework_rate=0.004,
        defect_codes=("POROSITY", "MISALIGN"),
        down_reasons=("LASER_FAULT", "CLAMP_JAM"),
    ),
    # CNC machining of transmission and differential cases: tool wear and micro-stops (chip clearing).
    "CNC": ShopProfile(
        "TM-CASE",
        mtbf_s=6 * 3600,
        mttr_s=1500,
        microstop_every_s=1200,
        microstop_s=90,
        setup_s=1200,
        speed_loss=0.05,
        scrap_rate=0.004,
        rework_rate=0.006,
        defect_codes=("OVERSIZE", "BURR"),
        down_reasons=("TOOL_BREAK", "SPINDLE_ALARM"),
    ),
    # Mould shop NC machine tools: long cycles and long setups, few parts.
    "MOULD": ShopProfile(
        "MOULD-CORE",
        mtbf_s=10 * 3600,
        mttr_s=2400,
        microstop_every_s=3600,
        microstop_s=300,
        setup_s=3600,
        speed_loss=0.03,
        scrap_rate=0.02,
        rework_rate=0.03,
        defect_codes=("SURFACE",),
        down_reasons=("SERVO_ALARM",),
        report_every_s=3600,
    ),
}
DEFAULT_PROFILE = PROFILES["CNC"]


def simulate_history(
    plant: Plant,
    window: Interval,
    seed: int = 7,
    profiles: dict[str, ShopProfile] | None = None,
    machines: Iterable[str] | None = None,
) -> list[MachineEvent]:
    """Events of the machines of ``plant`` (all, or those named) over ``window``, following its calendar."""
    profiles = profiles or PROFILES
    rng = random.Random(seed)
    events: list[MachineEvent] = []
    tz = plant.site.tz
    occurrences = plant.calendar.occurrences(tz, window)
    chosen = None if machines is None else set(machines)
    for machine in plant.machines:
        if chosen is not None and machine.code not in chosen:
            continue
        profile = profiles.get(machine.line, DEFAULT_PROFILE)
        product = profile.product if any(p.code == profile.product for p in plant.products) else None
        cycle = plant.ideal_cycle(product, machine.code) or 60.0
        events.append(StateChange(window.start, machine.code, MachineState.IDLE, source="sim"))
        for occ in occurrences:
            span = occ.span.intersect(window)
            if span is None:
                continue
            events.extend(_shift(rng, machine.code, product, cycle, profile, span, occ.breaks))
    events.sort(key=lambda e: e.ts)
    return events


def _shift(
    rng: random.Random,
    machine: str,
    product: str | None,
    cycle: float,
    profile: ShopProfile,
    span: Interval,
    breaks: tuple[Interval, ...],
) -> list[MachineEvent]:
    out: list[MachineEvent] = []
    t = span.start

    def state(ts: datetime, s: MachineState, reason: str | None = None) -> None:
        out.append(StateChange(ts, machine, s, reason, "sim"))

    state(t, MachineState.SETUP, "SHIFT_START")
    t += timedelta(seconds=rng.uniform(0.5, 1.5) * profile.setup_s)
    produced_since_report = 0.0
    next_report = t + timedelta(seconds=profile.report_every_s)
    actual_cycle = cycle * (1 + profile.speed_loss)
    while t < span.end:
        brk = next((b for b in breaks if b.start <= t < b.end), None)
        if brk is not None:
            state(t, MachineState.IDLE, "BREAK")
            t = brk.end
            continue
        state(t, MachineState.RUNNING)
        run = min(rng.expovariate(1 / profile.microstop_every_s), rng.expovariate(1 / profile.mtbf_s) * 4)
        next_break = min((b.start for b in breaks if b.start > t), default=span.end)
        run_end = min(t + timedelta(seconds=run), next_break, span.end)
        produced_since_report += (run_end - t).total_seconds() / actual_cycle
        while next_report <= run_end:
            out.extend(_report(rng, machine, product, profile, next_report, int(produced_since_report)))
            produced_since_report -= int(produced_since_report)
            next_report += timedelta(seconds=profile.report_every_s)
        t = run_end
        if t >= span.end or t == next_break:
            continue
        if rng.random() < profile.microstop_every_s / (profile.microstop_every_s + profile.mtbf_s):
            state(t, MachineState.DOWN, rng.choice(profile.down_reasons))
            t += timedelta(seconds=rng.lognormvariate(0, 0.5) * profile.mttr_s)
        else:
            state(t, MachineState.IDLE, "MICRO_STOP")
            t += timedelta(seconds=rng.expovariate(1 / profile.microstop_s))
    if produced_since_report >= 1:
        out.extend(_report(rng, machine, product, profile, span.end - timedelta(seconds=1), int(produced_since_report)))
    state(span.end, MachineState.IDLE, "SHIFT_END")
    return out


def _report(
    rng: random.Random, machine: str, product: str | None, profile: ShopProfile, ts: datetime, units: int
) -> list[CountEvent]:
    if units <= 0:
        return []
    scrap = sum(1 for _ in range(units) if rng.random() < profile.scrap_rate)
    rework = sum(1 for _ in range(units - scrap) if rng.random() < profile.rework_rate)
    good = units - scrap - rework
    out = [CountEvent(ts, machine, CountKind.GOOD, good, product, None, "sim")]
    if scrap:
        out.append(CountEvent(ts, machine, CountKind.SCRAP, scrap, product, rng.choice(profile.defect_codes), "sim"))
    if rework:
        out.append(CountEvent(ts, machine, CountKind.REWORK, rework, product, rng.choice(profile.defect_codes), "sim"))
    return out
