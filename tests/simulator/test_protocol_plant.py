"""The virtual plant behind real protocols: each kind of shop's machines reach the store through the connector
of their protocol, as the demo connects them (OPC UA, MTConnect, Modbus TCP and, with the broker, Sparkplug B)."""

import asyncio

from sqlalchemy import func, select

from shopfloor.actions.demo import sample_plant
from shopfloor.ingest.service import build_connectors
from shopfloor.ingest.writer import IngestWriter
from shopfloor.simulator.plant import VirtualPlant
from shopfloor.simulator.servers import ProtocolPlant, broker_reachable, connected_plant
from shopfloor.store.db import open_store
from shopfloor.store.plant import load_plant, save_plant
from shopfloor.store.schema import machine_events, machines
from tests.conftest import require_service

EVERY_MACHINE = {"WLD-01", "WLD-02", "CNC-01", "CNC-02", "CNC-03", "NC-01", "NC-02"}


def test_every_protocol_delivers_its_machines_to_the_store(tmp_path):
    url = require_service("SHOPFLOOR_TEST_MQTT", "MQTT broker")
    assert broker_reachable(url)
    engine = open_store(str(tmp_path / "plant.db"))

    async def scenario():
        protocols = ProtocolPlant(VirtualPlant(sample_plant(), seed=3), url)
        await protocols.start()
        try:
            plant = connected_plant(sample_plant(), protocols)
            with engine.begin() as conn:
                save_plant(conn, plant, "test")
                plant = load_plant(conn)
            writer = IngestWriter(engine, plant, tmp_path / "buffer", max_delay_s=0.05)
            await writer.start()
            connectors = build_connectors(plant, writer.quarantine)
            tasks = [asyncio.create_task(protocols.copy_values())]
            tasks += [asyncio.create_task(c.run(writer.submit)) for c in connectors]
            # Until every machine has events in the store: a connector that has received something may not
            # have committed it yet (an MQTT NBIRTH, say, names no machine).
            for _ in range(300):
                await asyncio.sleep(0.1)
                if all(c.status.messages_total > 0 for c in connectors) and set(stored_events()) >= EVERY_MACHINE:
                    break
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await writer.stop()
            return {c.status.protocol: c.status.messages_total for c in connectors}
        finally:
            await protocols.stop()

    def stored_events() -> dict[str, int]:
        with engine.connect() as conn:
            return dict(
                conn.execute(
                    select(machines.c.code, func.count())
                    .join(machine_events, machine_events.c.machine_id == machines.c.id)
                    .group_by(machines.c.code)
                ).all()
            )

    received = asyncio.run(asyncio.wait_for(scenario(), timeout=90))
    assert set(received) == {"opcua", "mtconnect", "modbus", "mqtt"}
    assert all(n > 0 for n in received.values()), received
    assert set(stored_events()) == EVERY_MACHINE
