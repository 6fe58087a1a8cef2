"""MTConnect: the reference agent's sample documents parse; the connector follows our agent on loopback with
the nextSequence cursor, through a buffer overflow, an agent restart and a malformed document."""

import asyncio
import contextlib

import pytest

from shopfloor.connectors.mtconnect import (
    MalformedDocument,
    MTConnectConnector,
    MTConnectError,
    parse_probe,
    parse_streams,
    parse_xml,
)
from shopfloor.simulator.mtconnect_agent import AgentItem, MTConnectAgent
from tests.conftest import DATA
from tests.connectors.waiting import run, until

SAMPLES = DATA / "mtconnect"


def test_reference_current_document_parses():
    # cppagent samples/test_current.xml (reference README, MTConnect section).
    header, obs = parse_streams(parse_xml((SAMPLES / "cppagent_samples_test_current.xml").read_bytes()))
    assert (header.next_sequence, header.first_sequence, header.last_sequence) == (10254805, 10123733, 10254804)
    by_id = {o.data_item_id: o.value for o in obs}
    assert by_id["24"] == "READY"  # Execution
    assert "AUTOMATIC" in by_id.values()


def test_reference_sample_document_parses_in_sequence_order():
    header, obs = parse_streams(parse_xml((SAMPLES / "cppagent_samples_test_sample.xml").read_bytes()))
    assert (header.next_sequence, header.first_sequence) == (10974584, 10843512)
    seqs = [o.sequence for o in obs]
    assert seqs == sorted(seqs) and seqs[0] == 10843512


def test_reference_probe_lists_the_data_items():
    items = {i.id: i for i in parse_probe(parse_xml((SAMPLES / "cppagent_samples_test_probe.xml").read_bytes()))}
    assert items["24"].type == "EXECUTION" and items["21"].type == "CONTROLLER_MODE"
    assert items["1"].type == "POWER_STATUS"


def test_malformed_and_hostile_documents_are_refused():
    with pytest.raises(MalformedDocument):
        parse_xml(b"<MTConnectStreams><Header")
    with pytest.raises(MalformedDocument, match="DTD"):
        parse_xml(b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "b">]><x>&a;</x>')
    with pytest.raises(MTConnectError, match="OUT_OF_RANGE"):
        parse_xml(
            b'<MTConnectError xmlns="urn:mtconnect.org:MTConnectError:1.7"><Header instanceId="1"/>'
            b'<Errors><Error errorCode="OUT_OF_RANGE">too old</Error></Errors></MTConnectError>'
        )


ITEMS = [
    AgentItem("c3_avail", "AVAILABILITY", "EVENT", "avail"),
    AgentItem("c3_exec", "EXECUTION", "EVENT", "execution"),
    AgentItem("c3_pc", "PART_COUNT", "EVENT", "part_count"),
    AgentItem("c3_load", "LOAD", "SAMPLE", "spindle_load"),
]
CONFIG = {
    "CNC-03": {
        "device": "CNC-03",
        "items": {"EXECUTION": "Execution", "PART_COUNT": "TotalCount", "spindle_load": "spindle_load"},
    }
}


@contextlib.asynccontextmanager
async def following(items, config, **options):
    """An agent of one device (CNC-03) on loopback and a connector following it: yields the agent, the connector
    (once connected) and the list of Signals it emitted."""
    agent = MTConnectAgent({"CNC-03": items})
    await agent.start()
    conn = MTConnectConnector("cnc", agent.url, config, poll_s=0.05, **options)
    seen = []

    async def emit(signals):
        seen.extend(signals)

    task = asyncio.create_task(conn.run(emit))
    try:
        await until(lambda: conn.status.connected)
        yield agent, conn, seen
    finally:
        task.cancel()
        await agent.stop()


def test_agent_starts_unavailable_and_the_connector_follows_the_cursor():
    async def scenario():
        async with following(ITEMS, CONFIG) as (agent, _, seen):
            first = list(seen)
            agent.set("CNC-03", "execution", "ACTIVE")
            for n in range(1, 6):
                agent.set("CNC-03", "part_count", n)
            agent.set("CNC-03", "spindle_load", 55.5)
            await until(lambda: any(s.tag == "spindle_load" and s.value == 55.5 for s in seen))
        return first, seen

    first, seen = run(scenario())
    assert {s.tag for s in first} == {"Execution", "TotalCount", "spindle_load"}
    assert all(s.value is None and s.quality.value == "bad" for s in first)  # fresh agent: UNAVAILABLE
    counts = [s.value for s in seen if s.tag == "TotalCount" and s.value is not None]
    assert counts == [1, 2, 3, 4, 5]
    assert len({s.source_id for s in seen}) == len(seen)  # each observation once


def test_a_buffer_overflow_is_counted_and_reading_resumes():
    async def scenario():
        agent = MTConnectAgent({"CNC-03": ITEMS}, buffer_size=16)
        await agent.start()
        conn = MTConnectConnector("cnc", agent.url, CONFIG, poll_s=5.0)  # slow: the agent overflows meanwhile
        seen = []

        async def emit(signals):
            seen.extend(signals)

        task = asyncio.create_task(conn.run(emit))
        try:
            await until(lambda: conn.status.connected)
            for n in range(1, 60):
                agent.set("CNC-03", "part_count", n)
            import httpx

            async with httpx.AsyncClient(timeout=5) as client:
                await conn.poll_once(client, emit)  # the cursor is older than the buffer now
                agent.set("CNC-03", "part_count", 60)
                await conn.poll_once(client, emit)
        finally:
            task.cancel()
            await agent.stop()
        return conn, seen

    conn, seen = run(scenario())
    assert conn.gaps >= 1 and "dropped by the agent" in conn.status.last_error
    assert [s.value for s in seen if s.tag == "TotalCount"][-1] == 60


def test_an_agent_restart_is_noticed_and_reading_starts_again():
    async def scenario():
        agent = MTConnectAgent({"CNC-03": ITEMS})
        await agent.start()
        port = agent.port
        conn = MTConnectConnector("cnc", agent.url, CONFIG, poll_s=0.05, max_backoff_s=0.2)
        seen = []

        async def emit(signals):
            seen.extend(signals)

        task = asyncio.create_task(conn.run(emit))
        try:
            await until(lambda: conn.status.connected)
            agent.set("CNC-03", "part_count", 7)
            await until(lambda: any(s.value == 7 for s in seen))
            old = conn.instance_id
            await agent.stop()
            await asyncio.sleep(0.3)
            again = MTConnectAgent({"CNC-03": ITEMS}, port=port)
            again.instance_id = str(int(old) + 1)
            await again.start()
            again.set("CNC-03", "part_count", 8)
            await until(lambda: any(s.value == 8 for s in seen))
            await again.stop()
        finally:
            task.cancel()
        return conn, old

    conn, old = run(scenario())
    assert conn.instance_id != old


def test_a_utf16_document_with_entities_is_refused():
    """The entity declaration is hidden from a byte search by UTF-16's zero bytes; the parser still refuses it."""
    doc = '<?xml version="1.0" encoding="UTF-16"?><!DOCTYPE x [<!ENTITY a "b">]><x>&a;</x>'.encode("utf-16")
    assert b"<!ENTITY" not in doc
    with pytest.raises(MalformedDocument, match="DTD or entities"):
        parse_xml(doc)


SUBTYPED = [
    AgentItem("c3_avail", "AVAILABILITY", "EVENT", "avail"),
    AgentItem("c3_all", "PART_COUNT", "EVENT", "part_count_all", "ALL"),
    AgentItem("c3_left", "PART_COUNT", "EVENT", "part_count_left", "REMAINING"),
]


def test_sub_typed_items_are_chosen_by_their_subtype_never_by_their_type_alone():
    """An agent with PART_COUNT ALL and REMAINING: 10 parts made count 10 (a REMAINING count that falls from 10 to
    0 is no production); the bare type key names no item and the status says which keys would."""

    async def scenario(items):
        async with following(SUBTYPED, {"CNC-03": {"device": "CNC-03", "items": items}}) as (agent, conn, seen):
            for n in range(1, 11):
                agent.set("CNC-03", "part_count_all", n)
                agent.set("CNC-03", "part_count_left", 10 - n)
            await until(lambda: sum(1 for s in seen if s.value is not None) >= 10 or conn.status.errors_total > 0)
            await asyncio.sleep(0.2)
        return conn, seen

    conn, seen = run(scenario({"PART_COUNT/ALL": "TotalCount"}))
    assert [s.value for s in seen if s.tag == "TotalCount" and s.value is not None] == list(range(1, 11))
    assert {s.tag for s in seen} == {"TotalCount"}
    conn, seen = run(scenario({"PART_COUNT": "TotalCount"}))
    assert seen == []
    assert "'PART_COUNT' matches no data item" in conn.status.last_error
    assert "PART_COUNT/ALL, PART_COUNT/REMAINING" in conn.status.last_error
