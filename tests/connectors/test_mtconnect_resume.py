"""MTConnect through the real `shopfloor ingest` process: killed with SIGKILL while the machine goes on changing
its execution state, then started again.  The connector's cursor was committed with the values it read, so the
restarted ingest reads on from it (``sample?from=<next>``) and every execution change the agent still holds is
stored, each once; the agent's PART_COUNT of subType ALL counts the parts, its REMAINING count does not."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import threading
import time

from sqlalchemy import func, select

from shopfloor.model.plant import Plant
from shopfloor.simulator.mtconnect_agent import AgentItem, MTConnectAgent
from shopfloor.store.db import open_store
from shopfloor.store.plant import save_plant
from shopfloor.store.schema import machine_events

ITEMS = [
    AgentItem("c3_avail", "AVAILABILITY", "EVENT", "avail"),
    AgentItem("c3_exec", "EXECUTION", "EVENT", "execution"),
    AgentItem("c3_all", "PART_COUNT", "EVENT", "parts", "ALL"),
    AgentItem("c3_left", "PART_COUNT", "EVENT", "left", "REMAINING"),
]
STATES = {"ACTIVE": "running", "READY": "idle", "STOPPED": "down", "INTERRUPTED": "setup"}


class AgentThread:
    """The agent on its own event loop in a thread, so the test can sleep and wait for processes meanwhile."""

    def __init__(self):
        self.loop = asyncio.new_event_loop()
        self.agent = MTConnectAgent({"CNC-03": ITEMS}, buffer_size=4096)
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        asyncio.run_coroutine_threadsafe(self.agent.start(), self.loop).result(10)

    def set(self, item: str, value) -> None:
        self.loop.call_soon_threadsafe(self.agent.set, "CNC-03", item, value)
        time.sleep(0.01)  # each change at an instant of its own

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self.agent.stop(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


def _states(engine) -> list[str]:
    with engine.connect() as conn:
        rows = conn.execute(
            select(machine_events.c.state).where(machine_events.c.kind == "state").order_by(machine_events.c.ts)
        ).all()
    return [r[0] for r in rows]


def _good(engine) -> int:
    with engine.connect() as conn:
        return conn.execute(
            select(func.coalesce(func.sum(machine_events.c.quantity), 0)).where(machine_events.c.kind == "good")
        ).scalar_one()


def _wait(predicate, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)


def test_the_ingest_resumes_from_its_cursor_after_sigkill_and_stores_every_execution_change(tmp_path):
    agent = AgentThread()
    db = str(tmp_path / "mtc.db")
    engine = open_store(db)
    plant = Plant.from_dict({
        "site": {"code": "S", "timezone": "UTC"},
        "areas": [{"code": "A", "lines": [{"code": "L", "machines": [{
            "code": "CNC-03",
            "connector": {"name": "agent", "device": "CNC-03",
                          "items": {"EXECUTION": "Execution", "PART_COUNT/ALL": "TotalCount"}},
            "tags": {"state": {"signal": "Execution", "map": STATES}, "total_count": {"signal": "TotalCount"},
                     "product": {"default": "P"}},
        }]}]}],
        "products": [{"code": "P", "ideal_cycle_s": 0.01}],
        "connectors": [{"name": "agent", "type": "mtconnect", "url": agent.agent.url, "poll_s": 0.1}],
    })  # fmt: skip
    with engine.begin() as conn:
        save_plant(conn, plant, "test")
    cmd = [sys.executable, "-m", "shopfloor.cli", "ingest", "--db", db, "--buffer", str(tmp_path / "buf")]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        agent.set("parts", 0)
        agent.set("execution", "READY")
        _wait(lambda: _states(engine) == ["idle"])
        sent = ["idle"]
        for n in range(1, 6):
            for state in ("ACTIVE", "INTERRUPTED"):
                agent.set("execution", state)
                sent.append(STATES[state])
            agent.set("parts", n)
            agent.set("left", 10 - n)
        _wait(lambda: len(_states(engine)) == len(sent))
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        # While the ingest is dead the machine goes on: these changes wait in the agent's buffer.
        for n in range(6, 11):
            for state in ("ACTIVE", "STOPPED"):
                agent.set("execution", state)
                sent.append(STATES[state])
            agent.set("parts", n)
            agent.set("left", 10 - n)
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        _wait(lambda: len(_states(engine)) >= len(sent) and _good(engine) >= 10)
        time.sleep(1.0)  # nothing more arrives
        assert _states(engine) == sent
        assert _good(engine) == 10
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)
        agent.stop()
        engine.dispose()
