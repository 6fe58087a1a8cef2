"""OPC UA against a real asyncua server on loopback: subscriptions with source timestamps, a bad node
reported, and a server that goes away and comes back."""

import asyncio

import pytest

from shopfloor.connectors.opcua import NodeRef, OpcUaConfigError, OpcUaConnector, parse_nodes
from shopfloor.simulator.opcua_server import OpcUaPlantServer
from tests.connectors.waiting import run, until


def test_bad_node_configuration_is_refused():
    with pytest.raises(OpcUaConfigError, match="not valid"):
        parse_nodes("M1", {"State": "ns=2;q=nope"})
    with pytest.raises(OpcUaConfigError, match="needs a node id"):
        parse_nodes("M1", {"State": 5})


def test_subscription_delivers_changes_with_source_timestamps_and_reports_a_bad_node():
    async def scenario():
        server = OpcUaPlantServer({"WLD-01": {"State": 0, "TotalCount": 0, "LaserPower": 0.0}})
        await server.start()
        refs = [NodeRef("WLD-01", t, server.node_id("WLD-01", t)) for t in ("State", "TotalCount", "LaserPower")]
        refs.append(NodeRef("WLD-01", "Ghost", f"ns={server.ns};s=WLD-01.Ghost"))
        refs.append(NodeRef("WLD-01", "ByPath", browse=(f"{server.ns}:WLD-01", f"{server.ns}:State")))
        conn = OpcUaConnector("weld", server.url, refs, publish_ms=50)
        seen = []

        async def emit(signals):
            seen.extend(signals)

        task = asyncio.create_task(conn.run(emit))
        try:
            await until(lambda: conn.status.connected)
            await server.set("WLD-01", "State", 1)
            await server.set("WLD-01", "TotalCount", 42)
            await server.set("WLD-01", "LaserPower", 1999.5)
            await until(lambda: any(s.tag == "LaserPower" and s.value == 1999.5 for s in seen))
            await until(lambda: any(s.tag == "ByPath" and s.value == 1 for s in seen))
        finally:
            task.cancel()
            await server.stop()
        return conn, seen

    conn, seen = run(scenario())
    latest = {s.tag: s for s in seen}
    assert latest["State"].value == 1 and latest["TotalCount"].value == 42
    assert latest["LaserPower"].ts.tzinfo is not None
    assert conn.status.errors_total >= 1 and "Ghost" in conn.status.last_error


def test_the_connector_resubscribes_after_the_server_restarts():
    async def scenario():
        server = OpcUaPlantServer({"CNC-01": {"State": 0}})
        await server.start()
        port = server.port
        node = server.node_id("CNC-01", "State")
        conn = OpcUaConnector(
            "cnc", server.url, [NodeRef("CNC-01", "State", node)], publish_ms=50, timeout_s=1.0, max_backoff_s=0.5
        )
        seen = []

        async def emit(signals):
            seen.extend(signals)

        task = asyncio.create_task(conn.run(emit))
        try:
            await until(lambda: conn.status.connected)
            await server.set("CNC-01", "State", 1)
            await until(lambda: any(s.value == 1 for s in seen))
            await server.stop()
            await until(lambda: not conn.status.connected, timeout=30)
            again = OpcUaPlantServer({"CNC-01": {"State": 0}}, port=port)
            await again.start()
            await until(lambda: conn.status.connected, timeout=30)
            await again.set("CNC-01", "State", 3)
            await until(lambda: any(s.value == 3 for s in seen), timeout=30)
            await again.stop()
        finally:
            task.cancel()
        return conn

    conn = run(scenario(), timeout=120)
    assert conn.status.errors_total >= 1
