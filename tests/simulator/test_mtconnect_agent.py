"""The virtual plant's MTConnect agent checked against the rules of the MTConnect 1.7 schemas it declares
(MTConnectDevices_1.7.xsd and MTConnectStreams_1.7.xsd, https://github.com/mtconnect/schema; MTConnect Standard
Part 1 "Fundamentals" 1.7 for the request paths and sequence numbers, Part 2 "Device Information Model" for the
Agent device, AVAILABILITY and the PART_COUNT sub-types): required elements and attributes with their ranges
(InstanceIdType, BufferSizeType, AssetBufferSizeType and SequenceType start at 1), ids unique and referenced,
sequence numbers consecutive, sub-types carried by their observations, an Agent device, and /DEVICE/current."""

from __future__ import annotations

from datetime import datetime

import httpx
from defusedxml.ElementTree import fromstring

from shopfloor.simulator.mtconnect_agent import MTConnectAgent
from shopfloor.simulator.servers import agent_items
from tests.connectors.waiting import run

NS_DEVICES = "urn:mtconnect.org:MTConnectDevices:1.7"
NS_STREAMS = "urn:mtconnect.org:MTConnectStreams:1.7"
HEADER = ("creationTime", "sender", "instanceId", "version", "bufferSize")
DEVICES_HEADER = (*HEADER, "assetBufferSize", "assetCount", "deviceModelChangeTime")
STREAMS_HEADER = (*HEADER, "nextSequence", "firstSequence", "lastSequence")
AGENT_ITEMS = {"AVAILABILITY", "DEVICE_ADDED", "DEVICE_REMOVED", "DEVICE_CHANGED"}
SUBTYPED = {"PART_COUNT"}  # items of these types say which kind they are


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _dt(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def check_header(header, required) -> dict[str, str]:
    missing = [a for a in required if header.get(a) is None]
    assert not missing, f"Header lacks {missing}"
    for name in ("creationTime", "deviceModelChangeTime"):
        if name in required:
            _dt(header.get(name))
    assert int(header.get("instanceId")) >= 1 and int(header.get("bufferSize")) >= 1
    if "assetBufferSize" in required:
        assert int(header.get("assetBufferSize")) >= 1  # AssetBufferSizeType: minInclusive 1
        assert 0 <= int(header.get("assetCount")) <= int(header.get("assetBufferSize"))
    return dict(header.attrib)


def check_probe(text: bytes) -> dict[str, dict]:
    """The data items of a valid probe document, by id."""
    root = fromstring(text)
    assert root.tag == f"{{{NS_DEVICES}}}MTConnectDevices"
    check_header(root.find(f"{{{NS_DEVICES}}}Header"), DEVICES_HEADER)
    devices = list(root.find(f"{{{NS_DEVICES}}}Devices"))
    assert _local(devices[0].tag) == "Agent", "the Agent comes first in the Devices list"
    items: dict[str, dict] = {}
    for device in devices:
        assert all(device.get(a) for a in ("id", "name", "uuid")), device.attrib
        found = [d for d in device.iter() if _local(d.tag) == "DataItem"]
        types = {d.get("type") for d in found}
        if _local(device.tag) == "Agent":
            assert AGENT_ITEMS <= types
        else:
            assert "AVAILABILITY" in types, f"device {device.get('name')} has no AVAILABILITY"
        kinds = set()
        for d in found:
            assert d.get("id") and d.get("type") and d.get("category") in ("SAMPLE", "EVENT", "CONDITION")
            assert d.get("id") not in items, f"id {d.get('id')} twice"
            if d.get("type") in SUBTYPED:
                assert d.get("subType"), f"{d.get('type')} {d.get('id')} without a subType"
                assert (d.get("type"), d.get("subType")) not in kinds
                kinds.add((d.get("type"), d.get("subType")))
            items[d.get("id")] = {**d.attrib, "device": device.get("name")}
    return items


def check_streams(text: bytes, items: dict[str, dict]) -> tuple[dict[str, str], list[dict]]:
    """The header and the observations of a valid streams document."""
    root = fromstring(text)
    assert root.tag == f"{{{NS_STREAMS}}}MTConnectStreams"
    header = check_header(root.find(f"{{{NS_STREAMS}}}Header"), STREAMS_HEADER)
    first, last, nxt = (int(header[k]) for k in ("firstSequence", "lastSequence", "nextSequence"))
    assert 1 <= first <= last + 1 and nxt <= last + 1
    observations = []
    for stream in root.iter(f"{{{NS_STREAMS}}}DeviceStream"):
        assert stream.get("name") and stream.get("uuid")
        for group in stream.iter():
            if _local(group.tag) not in ("Samples", "Events", "Condition"):
                continue
            for obs in group:
                item = items[obs.get("dataItemId")]  # every observation names a data item of the probe
                assert item["device"] == stream.get("name")
                seq = int(obs.get("sequence"))
                assert first <= seq <= last
                _dt(obs.get("timestamp"))
                assert obs.get("subType") == item.get("subType")
                observations.append({"sequence": seq, "item": item, "value": obs.text})
    sequences = [o["sequence"] for o in observations]
    assert len(set(sequences)) == len(sequences)
    return header, observations


def test_the_agent_serves_documents_valid_under_the_rules_of_mtconnect_1_7():
    async def scenario():
        agent = MTConnectAgent({"CNC-03": agent_items("CNC-03", ["spindle_load"])}, buffer_size=64)
        await agent.start()
        try:
            async with httpx.AsyncClient(base_url=agent.url, timeout=5) as http:
                items = check_probe((await http.get("/probe")).content)
                assert {i["type"] for i in items.values()} >= {"AVAILABILITY", "EXECUTION", "PART_COUNT", "LOAD"}
                header, current = check_streams((await http.get("/current")).content, items)
                assert {o["item"]["device"] for o in current} == {"Agent", "CNC-03"}
                avail = {o["item"]["device"]: o["value"] for o in current if o["item"]["type"] == "AVAILABILITY"}
                assert avail == {"Agent": "AVAILABLE", "CNC-03": "AVAILABLE"}
                start = int(header["nextSequence"])
                for n in range(1, 4):
                    agent.set("CNC-03", "total", n)
                    agent.set("CNC-03", "execution", "ACTIVE" if n % 2 else "READY")
                header, sampled = check_streams((await http.get("/sample", params={"from": start})).content, items)
                assert [o["sequence"] for o in sampled] == list(range(start, start + 6))  # consecutive
                assert int(header["nextSequence"]) == start + 6
                totals = [o for o in sampled if o["item"].get("subType") == "ALL"]
                assert [o["value"] for o in totals] == ["1", "2", "3"]
                one = (await http.get("/CNC-03/current")).content
                _, mine = check_streams(one, items)
                assert {o["item"]["device"] for o in mine} == {"CNC-03"}
                assert check_probe((await http.get("/CNC-03/probe")).content).keys() <= items.keys()
                missing = await http.get("/NOPE/current")
                assert missing.status_code == 404 and b'errorCode="NO_DEVICE"' in missing.content
                too_old = await http.get("/sample", params={"from": 0})
                assert too_old.status_code == 400 and b'errorCode="OUT_OF_RANGE"' in too_old.content
        finally:
            await agent.stop()

    run(scenario())
