"""The virtual plant: one simulated machine per machine of the plant file, advanced in real time.

Its machines are the ones the demo's protocol servers expose; ``run`` also serves as the in-process source
of the demo (``source="sim"``), reporting every tag that changed each second and all tags once a minute.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timezone

from shopfloor.connectors.base import ConnectorStatus, Emit, Signal
from shopfloor.model.plant import Plant
from shopfloor.simulator.history import DEFAULT_PROFILE, PROFILES
from shopfloor.simulator.machine import ProcessSpec, SimulatedMachine

log = logging.getLogger(__name__)

# Process values of each kind of shop: laser power and weld speed, spindle load, mould-shop spindle speed.
PROCESS: dict[str, tuple[ProcessSpec, ...]] = {
    "WELD": (ProcessSpec("laser_power", 2000.0, 15.0), ProcessSpec("weld_speed", 45.0, 0.8)),
    "CNC": (ProcessSpec("spindle_load", 55.0, 2.0, drift_per_part=0.05, reset_every_parts=200),),
    "MOULD": (ProcessSpec("spindle_speed", 12000.0, 50.0),),
}
FULL_REPORT_S = 60.0


class VirtualPlant:
    name = "simulator"

    def __init__(self, plant: Plant, seed: int = 1, interval_s: float = 1.0):
        self.plant = plant
        self.interval_s = interval_s
        self.status = ConnectorStatus(name="simulator", protocol="sim", endpoint="in-process")
        self.machines: dict[str, SimulatedMachine] = {}
        for i, m in enumerate(plant.machines):
            profile = PROFILES.get(m.line, DEFAULT_PROFILE)
            product = profile.product if any(p.code == profile.product for p in plant.products) else None
            cycle = plant.ideal_cycle(product, m.code) or 60.0
            self.machines[m.code] = SimulatedMachine(
                m.code,
                profile,
                cycle,
                plant.calendar,
                plant.site.tz,
                seed=seed * 1000 + i,
                process=PROCESS.get(m.line, ()),
            )
        self._last: dict[str, dict[str, float | int]] = {}
        self._last_full: float = 0.0

    def step(self, now: datetime, every_tag: bool = False) -> list[Signal]:
        """Advance every machine to ``now``; the signals of the tags that changed (all of them once a minute, or
        every time with ``every_tag``)."""
        full = every_tag or now.timestamp() - self._last_full >= FULL_REPORT_S
        if full:
            self._last_full = now.timestamp()
        out: list[Signal] = []
        for code, machine in self.machines.items():
            machine.advance(now)
            tags = machine.tags()
            before = self._last.get(code, {})
            for tag, value in tags.items():
                if full or before.get(tag) != value:
                    out.append(Signal("sim", code, tag, value, now, source_id=f"{tag}@{now.isoformat()}"))
            self._last[code] = tags
        return out

    async def run(self, emit: Emit) -> None:
        self.status.connected = True
        while True:
            now = datetime.now(timezone.utc)
            signals = self.step(now)
            if signals:
                try:
                    await emit(signals)
                    self.status.record_messages(len(signals))
                    self.status.last_value_at = now
                except Exception as exc:  # noqa: BLE001 - the simulator keeps running; the error is shown
                    self.status.record_error(str(exc))
                    log.error("simulator: %s", exc)
            await asyncio.sleep(self.interval_s)
