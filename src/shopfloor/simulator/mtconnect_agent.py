"""An MTConnect agent for the virtual plant: /probe, /current and /sample over HTTP, with a circular buffer of
sequenced observations, as the MTConnect standard (Part 1, "Fundamentals"; the cppagent reference agent)
describes them.

Every data item starts UNAVAILABLE; a new agent gets a new instanceId; ``/sample?from=`` before the oldest
kept observation or past the next one answers an MTConnectError OUT_OF_RANGE.
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
NS_DEVICES = f"urn:mtconnect.org:MTConnectDevices:{VERSION}"
NS_STREAMS = f"urn:mtconnect.org:MTConnectStreams:{VERSION}"
NS_ERROR = f"urn:mtconnect.org:MTConnectError:{VERSION}"


@dataclass(frozen=True)
class AgentItem:
    id: str
    type: str
    category: str  # EVENT or SAMPLE
    name: str


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
        self.instance_id = str(int(time.time() * 1000) % 2**31)
        self._buffer: deque[Obs] = deque(maxlen=buffer_size)
        self._latest: dict[str, Obs] = {}
        self._next = 1
        self._by_name = {(d, i.name): i for d, items in devices.items() for i in items}
        for device, items in devices.items():
            for item in items:
                self._append(device, item, "UNAVAILABLE", _now())
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
            f'version="{VERSION}.0.0" bufferSize="{self.buffer_size}"{extra}/>'
        )

    def probe(self) -> str:
        devices = []
        for i, (device, items) in enumerate(self.devices.items(), start=1):
            data_items = "".join(
                f'<DataItem category="{it.category}" id={quoteattr(it.id)} name={quoteattr(it.name)} type="{it.type}"/>'
                for it in items
            )
            devices.append(
                f'<Device id="d{i}" name={quoteattr(device)} uuid={quoteattr(device)}>'
                f"<DataItems>{data_items}</DataItems></Device>"
            )
        header = self._header(' assetBufferSize="0" assetCount="0"')
        return (
            f'<?xml version="1.0" encoding="UTF-8"?><MTConnectDevices xmlns="{NS_DEVICES}">{header}'
            f"<Devices>{''.join(devices)}</Devices></MTConnectDevices>"
        )

    def streams(self, observations: list[Obs], next_sequence: int) -> str:
        by_device: dict[str, list[Obs]] = {d: [] for d in self.devices}
        for o in observations:
            by_device[o.device].append(o)
        parts = []
        for device, obs in by_device.items():
            groups = {"Events": [], "Samples": []}
            for o in obs:
                group = "Samples" if o.item.category == "SAMPLE" else "Events"
                groups[group].append(
                    f"<{_element(o.item.type)} dataItemId={quoteattr(o.item.id)} name={quoteattr(o.item.name)} "
                    f'timestamp="{_iso(o.timestamp)}" sequence="{o.sequence}">{escape(o.value)}'
                    f"</{_element(o.item.type)}>"
                )
            inner = "".join(f"<{g}>{''.join(v)}</{g}>" for g, v in groups.items() if v)
            parts.append(
                f"<DeviceStream name={quoteattr(device)} uuid={quoteattr(device)}>"
                f'<ComponentStream component="Device" name={quoteattr(device)} componentId="{device}">'
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

        async def probe(request: Request) -> Response:
            return Response(self.probe(), media_type=xml)

        async def current(request: Request) -> Response:
            return Response(
                self.streams(sorted(self._latest.values(), key=lambda o: o.sequence), self._next), media_type=xml
            )

        async def sample(request: Request) -> Response:
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
            return Response(self.streams(chosen, nxt), media_type=xml)

        return Starlette(routes=[Route("/probe", probe), Route("/current", current), Route("/sample", sample)])

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
