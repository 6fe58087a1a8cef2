"""A simulated machine that behaves like a PLC: a state machine with failures, micro-stops, setups, defects,
tool wear and process values, read through the same tags a real machine exposes.

Time is passed in (``advance(now)``), so the same machine runs in real time for the demo and faster than
real time in tests.  Counters are PLC registers of a fixed width and roll over like them.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from shopfloor.model.calendar import Calendar
from shopfloor.model.intervals import Interval
from shopfloor.simulator.history import ShopProfile

# The state codes the simulated PLCs publish, and the mapping a plant file gives them.
STATE_CODES = {"idle": 0, "running": 1, "setup": 2, "down": 3, "planned_stop": 4}
STATE_MAP = {code: name for name, code in STATE_CODES.items()}


@dataclass(frozen=True)
class ProcessSpec:
    """A process value: nominal, noise (standard deviation) and drift per produced part (tool wear)."""

    name: str
    nominal: float
    noise: float
    drift_per_part: float = 0.0
    reset_every_parts: int = 0  # tool change


@dataclass
class SimulatedMachine:
    code: str
    profile: ShopProfile
    ideal_cycle_s: float
    calendar: Calendar | None = None
    tz: object = None
    seed: int = 0
    counter_bits: int = 16
    process: tuple[ProcessSpec, ...] = ()
    state: str = "idle"
    alarm_code: int = 0
    good_count: int = 0
    scrap_count: int = 0
    total_count: int = 0
    values: dict[str, float] = field(default_factory=dict)
    program: str | None = None  # the NC program the control runs (CNC machines), reported as tag Program
    _rng: random.Random = field(init=False, repr=False)
    _until: datetime | None = field(default=None, init=False, repr=False)
    _clock: datetime | None = field(default=None, init=False, repr=False)
    _part_progress: float = field(default=0.0, init=False, repr=False)
    _parts_since_tool: int = field(default=0, init=False, repr=False)

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)
        for spec in self.process:
            self.values[spec.name] = spec.nominal

    @property
    def state_code(self) -> int:
        return STATE_CODES[self.state]

    def tags(self) -> dict[str, float | int]:
        """What the PLC shows now, by tag name."""
        out: dict[str, float | int] = {
            "State": self.state_code,
            "AlarmCode": self.alarm_code,
            "GoodCount": self.good_count,
            "ScrapCount": self.scrap_count,
            "TotalCount": self.total_count,
        }
        out.update(self.values)
        if self.program is not None:
            out["Program"] = self.program  # type: ignore[assignment]
        return out

    def _scheduled(self, now: datetime) -> bool:
        if self.calendar is None:
            return True
        return bool(self.calendar.planned(self.tz, Interval(now, now + timedelta(seconds=1))))

    def _enter(self, state: str, now: datetime, seconds: float, alarm: int = 0) -> None:
        self.state = state
        self.alarm_code = alarm
        self._until = now + timedelta(seconds=max(seconds, 1.0))

    def advance(self, now: datetime) -> None:
        """Run the machine up to ``now`` (in steps of at most one second)."""
        if self._clock is None:
            self._clock = now
            self._enter("setup", now, self.profile.setup_s * 0.1)
            return
        while self._clock < now:
            step = min(1.0, (now - self._clock).total_seconds())
            self._clock += timedelta(seconds=step)
            self._step(self._clock, step)

    def _step(self, now: datetime, dt: float) -> None:
        p = self.profile
        if not self._scheduled(now):
            if self.state not in ("idle", "planned_stop"):
                self._enter("idle", now, 60)
            return
        if self.state == "running":
            self._produce(dt)
            # Poisson arrivals of breakdowns and micro-stops during running time.
            if self._rng.random() < dt / p.mtbf_s:
                self._enter(
                    "down",
                    now,
                    self._rng.lognormvariate(0, 0.5) * p.mttr_s,
                    alarm=100 + self._rng.randrange(len(p.down_reasons)),
                )
            elif self._rng.random() < dt / p.microstop_every_s:
                self._enter("idle", now, self._rng.expovariate(1 / p.microstop_s))
        elif self._until is not None and now >= self._until:
            self._enter("running", now, 0)

    def _produce(self, dt: float) -> None:
        actual_cycle = self.ideal_cycle_s * (1 + self.profile.speed_loss)
        self._part_progress += dt / actual_cycle
        mask = (1 << self.counter_bits) - 1
        while self._part_progress >= 1:
            self._part_progress -= 1
            self.total_count = (self.total_count + 1) & mask
            if self._rng.random() < self.profile.scrap_rate + self.profile.rework_rate:
                self.scrap_count = (self.scrap_count + 1) & mask
            else:
                self.good_count = (self.good_count + 1) & mask
            self._parts_since_tool += 1
            for spec in self.process:
                if spec.reset_every_parts and self._parts_since_tool >= spec.reset_every_parts:
                    self._parts_since_tool = 0
                drift = spec.drift_per_part * self._parts_since_tool
                value = spec.nominal + drift + self._rng.gauss(0, spec.noise)
                self.values[spec.name] = round(value, 6) if math.isfinite(value) else spec.nominal
