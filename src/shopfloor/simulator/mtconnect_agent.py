"""An MTConnect agent for the virtual plant: /probe, /current and /sample over HTTP (and /DEVICE/probe,
/DEVICE/current, /DEVICE/sample for one device), with a circular buffer of sequenced observations, as the MTConnect
standard 1.7 (Part 1 "Fundamentals", Part 2 "Device Information Model"; the cppagent reference agent) describes
them, and valid against the rules of the 1.7 schemas it declares:

* every Header has creationTime, sender, instanceId, version and bufferSize; a Devices header also assetBufferSize
  (at least 1), assetCount and deviceModelChangeTime; a Streams header firstSequence, lastSequence, nextSequence;
* the Devices list starts with the Agent (its AVAILABILITY, DEVICE_ADDED, DEVICE_REMOVED and DEVICE_CHANGED items),
  and every Device has id, name and uuid and an AVAILABILITY data item;
* every DataItem has id, type and category; an item that may be one of several kinds (a PART_COUNT) names it in
  subType, repeated on each of its observations; sequence numbers start at 1 and rise by one.

Every data item starts UNAVAILABLE (a device's AVAILABILITY starts AVAILABLE, the agent's too); a new agent gets a
new instanceId; ``/sample?from=`` before the oldest kept observation or past the next one answers an
MTConnectError OUT_OF_RANGE; an unknown device answers NO_DEVICE.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from dataclasses import dataclass
from datetime import datetime, timezone
from xml.sax.saxutils import escape, quoteattr

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from shopfloor.simulator.modbus_server import free_port

VERSION = "1.7"
AGENT = "Agent"  # the agent's own device in the Devices list and the Streams
NS_DEVICES = f"urn:mtconnect.org:MTConnectDevices:{VERSION}"
NS_STREAMS = f"urn:mtconnect.org:MTConnectStreams:{VERSION}"
NS_ERROR = f"urn:mtconnect.org:MTConnectError:{VERSION}"


@dataclass(frozen=True)
class AgentItem:
    id: str
    type: str
    category: str  # EVENT or SAMPLE
    name: str
    sub_type: str | None = None


@dataclass
class Obs:
    sequence: int
    item: AgentItem
    device: str
    timestamp: datetime
    value: str


def _element(type_: str) -> str:
    return "".join(part.capitalize() for part in type_.split("_"))


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _iso(ts: datetime) -> str:
    return ts.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class MTConnectAgent:
    def __init__(
        self, devices: dict[str, list[AgentItem]], buffer_size: int = 1024, host: str = "127.0.0.1", port: int = 0
    ):
        self.devices = devices
        self.buffer_size = buffer_size
        self.host = host
        self.port = port or free_port(host)
        self.url = f"http://{host}:{self.port}"
        self.instance_id = str(int(time.time() * 1000) % 2**31 or 1)
        self.model_changed_at = _now()
        self._buffer: deque[Obs] = deque(maxlen=buffer_size)
        self._latest: dict[str, Obs] = {}
        self._next = 1
        self.agent_uuid = f"agent-{self.instance_id}"
        self.agent_items = [
            AgentItem("agent_avail", "AVAILABILITY", "EVENT", "agent_avail"),
            AgentItem("agent_device_added", "DEVICE_ADDED", "EVENT", "device_added"),
            AgentItem("agent_device_removed", "DEVICE_REMOVED", "EVENT", "device_removed"),
            AgentItem("agent_device_changed", "DEVICE_CHANGED", "EVENT", "device_changed"),
        ]
        self._by_name = {(d, i.name): i for d, items in devices.items() for i in items}
        start = _now()
        for item in self.agent_items:
            self._append(AGENT, item, "AVAILABLE" if item.type == "AVAILABILITY" else "UNAVAILABLE", start)
        for device, items in devices.items():
            for item in items:
                self._append(device, item, "AVAILABLE" if item.type == "AVAILABILITY" else "UNAVAILABLE", start)
            self._append(AGENT, self.agent_items[1], device, start)  # DEVICE_ADDED, with the device's uuid
        self._server: uvicorn.Server | None = None
        self._task: asyncio.Task | None = None

    # -- data ------------------------------------------------------------------------------------------------
    def _append(self, device: str, item: AgentItem, value: str, ts: datetime) -> None:
        obs = Obs(self._next, item, device, ts, value)
        self._next += 1
        self._buffer.append(obs)
        self._latest[item.id] = obs

    def set(self, device: str, item_name: str, value: object, ts: datetime | None = None) -> None:
        """Record a new observation (values are sent as text; None means UNAVAILABLE)."""
        item = self._by_name[(device, item_name)]
        self._append(device, item, "UNAVAILABLE" if value is None else str(value), ts or _now())

    @property
    def first_sequence(self) -> int:
        return self._buffer[0].sequence if self._buffer else self._next

    # -- documents -------------------------------------------------------------------------------------------
    def _header(self, extra: str = "") -> str:
        return (
            f'<Header creationTime="{_iso(_now())}" sender="shopfloor" instanceId="{self.instance_id}" '
            f'version="{VERSION}.0" deviceModelChangeTime="{_iso(self.model_changed_at)}" '
            f'bufferSize="{self.buffer_size}"{extra}/>'
        )

    @staticmethod
    def _data_items(items: list[AgentItem]) -> str:
        return "".join(
            f'<DataItem category="{it.category}" id={quoteattr(it.id)} name={quoteattr(it.name)} type="{it.type}"'
            + (f' subType="{it.sub_type}"' if it.sub_type else "")
            + "/>"
            for it in items
        )

    def probe(self, only: str | None = None) -> str:
        devices = [
            f'<Agent id="agent" name="{AGENT}" uuid="{self.agent_uuid}" mtconnectVersion="{VERSION}">'
            f"<DataItems>{self._data_items(self.agent_items)}</DataItems></Agent>"
        ]
        for i, (device, items) in enumerate(self.devices.items(), start=1):
            if only is not None and device != only:
                continue
            devices.append(
                f'<Device id="d{i}" name={quoteattr(device)} uuid={quoteattr(device)}>'
                f"<DataItems>{self._data_items(items)}</DataItems></Device>"
            )
        # No assets are kept, but the buffer for them has a size of at least 1 (AssetBufferSizeType).
        header = self._header(' assetBufferSize="1024" assetCount="0"')
        return (
            f'<?xml version="1.0" encoding="UTF-8"?><MTConnectDevices xmlns="{NS_DEVICES}">{header}'
            f"<Devices>{''.join(devices)}</Devices></MTConnectDevices>"
        )

    def streams(self, observations: list[Obs], next_sequence: int, only: str | None = None) -> str:
        names = [AGENT, *self.devices] if only is None else [only]
        by_device: dict[str, list[Obs]] = {d: [] for d in names}
        for o in observations:
            if o.device in by_device:
                by_device[o.device].append(o)
        parts = []
        for device, obs in by_device.items():
            groups: dict[str, list[str]] = {"Events": [], "Samples": []}
            for o in obs:
                group = "Samples" if o.item.category == "SAMPLE" else "Events"
                sub = f' subType="{o.item.sub_type}"' if o.item.sub_type else ""
                groups[group].append(
                    f"<{_element(o.item.type)} dataItemId={quoteattr(o.item.id)} name={quoteattr(o.item.name)} "
                    f'timestamp="{_iso(o.timestamp)}" sequence="{o.sequence}"{sub}>{escape(o.value)}'
                    f"</{_element(o.item.type)}>"
                )
            inner = "".join(f"<{g}>{''.join(v)}</{g}>" for g, v in groups.items() if v)
            uuid = self.agent_uuid if device == AGENT else device
            component = "Agent" if device == AGENT else "Device"
            component_id = "agent" if device == AGENT else f"d{list(self.devices).index(device) + 1}"
            parts.append(
                f"<DeviceStream name={quoteattr(device)} uuid={quoteattr(uuid)}>"
                f'<ComponentStream component="{component}" name={quoteattr(device)} componentId="{component_id}">'
                f"{inner}</ComponentStream></DeviceStream>"
            )
        header = self._header(
            f' nextSequence="{next_sequence}" firstSequence="{self.first_sequence}" lastSequence="{self._next - 1}"'
        )
        return (
            f'<?xml version="1.0" encoding="UTF-8"?><MTConnectStreams xmlns="{NS_STREAMS}">{header}'
            f"<Streams>{''.join(parts)}</Streams></MTConnectStreams>"
        )

    def error(self, code: str, message: str) -> str:
        return (
            f'<?xml version="1.0" encoding="UTF-8"?><MTConnectError xmlns="{NS_ERROR}">{self._header()}'
            f'<Errors><Error errorCode="{code}">{escape(message)}</Error></Errors></MTConnectError>'
        )

    # -- HTTP ------------------------------------------------------------------------------------------------
    def app(self) -> Starlette:
        xml = "application/xml"

        def device_of(request: Request) -> str | None | Response:
            device = request.path_params.get("device")
            if device is not None and device not in self.devices:
                return Response(self.error("NO_DEVICE", f"no device named {device!r}"), 404, media_type=xml)
            return device

        async def probe(request: Request) -> Response:
            device = device_of(request)
            if isinstance(device, Response):
                return device
            return Response(self.probe(device), media_type=xml)

        async def current(request: Request) -> Response:
            device = device_of(request)
            if isinstance(device, Response):
                return device
            latest = sorted(self._latest.values(), key=lambda o: o.sequence)
            return Response(self.streams(latest, self._next, device), media_type=xml)

        async def sample(request: Request) -> Response:
            device = device_of(request)
            if isinstance(device, Response):
                return device
            try:
                start = int(request.query_params.get("from", self.first_sequence))
                count = int(request.query_params.get("count", 100))
            except ValueError:
                return Response(self.error("INVALID_REQUEST", "from and count must be integers"), 400, media_type=xml)
            if start < self.first_sequence or start > self._next:
                return Response(
                    self.error("OUT_OF_RANGE", f"'from' must be between {self.first_sequence} and {self._next}"),
                    400,
                    media_type=xml,
                )
            chosen = [o for o in self._buffer if o.sequence >= start][: max(count, 0)]
            nxt = chosen[-1].sequence + 1 if chosen else start
            if device is not None:
                chosen = [o for o in chosen if o.device == device]
            return Response(self.streams(chosen, nxt, device), media_type=xml)

        return Starlette(
            routes=[
                Route("/probe", probe),
                Route("/current", current),
                Route("/sample", sample),
                Route("/{device}/probe", probe),
                Route("/{device}/current", current),
                Route("/{device}/sample", sample),
            ]
        )

    async def start(self) -> None:
        self._server = uvicorn.Server(
            uvicorn.Config(self.app(), host=self.host, port=self.port, log_level="error", lifespan="off")
        )
        self._task = asyncio.create_task(self._server.serve())
        while not self._server.started:
            if self._task.done():
                self._task.result()
            await asyncio.sleep(0.02)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
            await self._task
            self._server = None
