"""Soak: the simulated plant with 200 machines reporting every tag every second, for 30 minutes (20 seconds with
--quick), through the tag mapping and the single writer into an SQLite store.  Reports the memory (RSS) of the
process after warming up and at the end, and checks that nothing was lost: for every machine, the good and
scrap counts stored equal what its counters advanced by after their first reading.

Baseline of the RSS figure: the RSS after the first minute (or after 5 s with --quick), in the same run.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

from sqlalchemy import func, select

from shopfloor.actions.demo import sample_plant
from shopfloor.ingest.writer import IngestWriter
from shopfloor.model.plant import Plant
from shopfloor.simulator.plant import VirtualPlant
from shopfloor.store.db import open_store
from shopfloor.store.plant import load_plant, save_plant
from shopfloor.store.schema import machine_events, machines


def rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def soak_plant(count: int) -> Plant:
    """The sample plant grown to ``count`` machines, each with the tag mapping of its line's first machine."""
    doc = sample_plant().to_dict()
    doc.pop("connectors", None)
    for area in doc["areas"]:
        for line in area["lines"]:
            template = {k: v for k, v in line["machines"][0].items() if k not in ("code", "name", "connector")}
            line["machines"] = []
            line["_template"] = template
    lines = [ln for area in doc["areas"] for ln in area["lines"]]
    for i in range(count):
        ln = lines[i % len(lines)]
        ln["machines"].append({"code": f"{ln['code']}-{i + 1:03d}", "name": f"{ln['code']} {i + 1}", **ln["_template"]})
    for ln in lines:
        ln.pop("_template")
    for product in doc["products"]:
        product.pop("cycle_by_machine", None)
    return Plant.from_dict(doc)


def run(quick: bool = False) -> list[dict]:
    count, seconds, warm = (200, 20, 5) if quick else (200, 1800, 60)
    with tempfile.TemporaryDirectory() as tmp:
        engine = open_store(str(Path(tmp) / "soak.db"))
        with engine.begin() as conn:
            save_plant(conn, soak_plant(count), "soak")
            plant = load_plant(conn)
        virtual = VirtualPlant(plant, seed=5)
        first: dict[str, int] = {}
        last: dict[str, int] = {}

        async def main() -> tuple[float, float, int]:
            writer = IngestWriter(engine, plant, Path(tmp) / "buffer")
            await writer.start()
            start = time.monotonic()
            baseline = None
            sent = 0
            while time.monotonic() - start < seconds:
                tick = time.monotonic()
                signals = virtual.step(datetime.now(timezone.utc), every_tag=True)
                for s in signals:
                    if s.tag == "TotalCount":
                        first.setdefault(s.machine, int(s.value))
                        last[s.machine] = int(s.value)
                await writer.submit(signals)
                sent += len(signals)
                if baseline is None and time.monotonic() - start >= warm:
                    baseline = rss_mb()
                await asyncio.sleep(max(0.0, 1.0 - (time.monotonic() - tick)))
            await writer.stop()
            return baseline or rss_mb(), rss_mb(), sent

        rss_start, rss_end, sent = asyncio.run(main())
        with engine.connect() as conn:
            me, m = machine_events.c, machines.c
            stored = dict(
                conn.execute(
                    select(m.code, func.coalesce(func.sum(me.quantity), 0))
                    .join(machines, m.id == me.machine_id)
                    .where(me.kind.in_(["good", "scrap", "rework"]))
                    .group_by(m.code)
                ).all()
            )
        engine.dispose()
    lost = {code: (last[code] - first[code]) - int(stored.get(code, 0)) for code in last}
    wrong = {c: d for c, d in lost.items() if d != 0}
    if wrong:
        raise AssertionError(f"counts lost or doubled on {len(wrong)} machine(s): {sorted(wrong.items())[:5]}")
    label = f"{count} machines at 1 Hz for {seconds} s, {sent} signals, every count stored once"
    return [
        {
            "name": f"RSS at the end of the soak ({label})",
            "value": rss_end,
            "unit": "MB",
            "baseline": rss_start,
            "baseline_unit": f"MB after {warm} s",
            "ratio": rss_end / rss_start,
        }
    ]
