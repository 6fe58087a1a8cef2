"""MTConnect: an HTTP client of an MTConnect agent (probe, current, then sample with the nextSequence cursor).

The agent's response documents are parsed namespace-agnostically (MTConnect 1.x and 2.x differ only in the
namespace), without resolving entities or fetching anything an XML document names.  Observations become
Signals with the observation's timestamp and ``source_id = instanceId:sequence``, so a sample read twice is
recognised.  The cursor moves on only after ``emit`` returned, i.e. after the values are committed.

When the agent's buffer has rolled past the cursor (we were away longer than it keeps), the gap is counted
and reading resumes from the current snapshot; when the agent restarted (a new instanceId), it is probed
again.  Plant file::

    connectors: [{name: cnc-agent, type: mtconnect, url: "http://10.0.0.30:5000", poll_s: 1.0}]
    machines:
      - code: CNC-03
        connector: {name: cnc-agent, device: CNC-03, items: {EXECUTION: Execution, PART_COUNT: TotalCount}}
"""

from __future__ import annotations

import asyncio
import logging
import re
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any
from xml.etree import ElementTree

import httpx

from shopfloor.connectors.base import RECONNECT_MAX_S, ConnectorStatus, Emit, Quality, Signal

log = logging.getLogger(__name__)
MAX_DOCUMENT = 16 * 1024 * 1024


class MTConnectError(Exception):
    def __init__(self, code: str, message: str):
        self.code = code
        super().__init__(f"{code}: {message}")


class MalformedDocument(ValueError):
    pass


@dataclass(frozen=True)
class DataItem:
    id: str
    device: str
    type: str
    category: str
    name: str | None = None
    sub_type: str | None = None


@dataclass(frozen=True)
class Observation:
    data_item_id: str
    device: str
    timestamp: datetime | None
    sequence: int
    value: str | None


@dataclass(frozen=True)
class Header:
    instance_id: str
    next_sequence: int | None
    first_sequence: int | None
    last_sequence: int | None


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def parse_xml(text: bytes | str) -> ElementTree.Element:
    """Parse an agent's response; documents with a DTD or entities are refused (never expanded)."""
    raw = text.encode() if isinstance(text, str) else text
    if len(raw) > MAX_DOCUMENT:
        raise MalformedDocument(f"document larger than {MAX_DOCUMENT} bytes")
    if b"<!DOCTYPE" in raw[:4096] or b"<!ENTITY" in raw:
        raise MalformedDocument("documents with a DTD or entities are refused")
    try:
        root = ElementTree.fromstring(raw)
    except ElementTree.ParseError as exc:
        raise MalformedDocument(f"not well-formed XML: {exc}") from None
    if _local(root.tag) == "MTConnectError":
        errors = [e for e in root.iter() if _local(e.tag) == "Error"]
        code = errors[0].get("errorCode", "UNKNOWN") if errors else "UNKNOWN"
        raise MTConnectError(code, (errors[0].text or "").strip() if errors else "agent error")
    return root


def _header(root: ElementTree.Element) -> Header:
    h = next((e for e in root if _local(e.tag) == "Header"), None)
    if h is None:
        raise MalformedDocument("no Header element")

    def num(name: str) -> int | None:
        v = h.get(name)
        return int(v) if v is not None and v.isdigit() else None

    return Header(h.get("instanceId", ""), num("nextSequence"), num("firstSequence"), num("lastSequence"))


def parse_probe(root: ElementTree.Element) -> list[DataItem]:
    items = []
    for device in (e for e in root.iter() if _local(e.tag) == "Device"):
        name = device.get("name") or device.get("uuid") or device.get("id", "")
        for di in (e for e in device.iter() if _local(e.tag) == "DataItem"):
            items.append(
                DataItem(
                    di.get("id", ""),
                    name,
                    di.get("type", ""),
                    di.get("category", ""),
                    di.get("name"),
                    di.get("subType"),
                )
            )
    return items


def _parse_ts(text: str | None) -> datetime | None:
    """The observation's time, or None when it cannot be read (the connector then uses the reception time)."""
    if not text:
        return None
    text = text.strip().replace("Z", "+00:00")
    # Agents write up to 7 fractional digits; Python reads up to 6.
    text = re.sub(r"(\.\d{6})\d+", r"\1", text)
    try:
        ts = datetime.fromisoformat(text)
    except ValueError:
        return None
    return ts if ts.tzinfo else ts.replace(tzinfo=timezone.utc)


def parse_streams(root: ElementTree.Element) -> tuple[Header, list[Observation]]:
    header = _header(root)
    out = []
    for ds in (e for e in root.iter() if _local(e.tag) == "DeviceStream"):
        device = ds.get("name") or ds.get("uuid") or ""
        for group in (e for e in ds.iter() if _local(e.tag) in ("Samples", "Events", "Condition")):
            for obs in group:
                seq = obs.get("sequence")
                if seq is None or not seq.isdigit():
                    raise MalformedDocument(f"observation {_local(obs.tag)} without a sequence number")
                if _local(group.tag) == "Condition":
                    value = _local(obs.tag).upper()  # NORMAL, WARNING, FAULT, UNAVAILABLE
                    if obs.get("nativeCode"):
                        value = f"{value}:{obs.get('nativeCode')}"
                else:
                    value = (obs.text or "").strip()
                out.append(
                    Observation(
                        obs.get("dataItemId", ""),
                        device,
                        _parse_ts(obs.get("timestamp")),
                        int(seq),
                        None if value == "UNAVAILABLE" else value,
                    )
                )
    out.sort(key=lambda o: o.sequence)
    return header, out


def default_tag(item: DataItem) -> str:
    """``EXECUTION`` -> ``execution``, ``PART_COUNT`` -> ``part_count``; a named item keeps its name."""
    return item.name or item.type.lower()


def _typed(value: str | None) -> float | int | str | None:
    if value is None:
        return None
    try:
        return int(value)
    except ValueError:
        try:
            return float(value)
        except ValueError:
            return value


class MTConnectConnector:
    def __init__(
        self,
        name: str,
        url: str,
        devices: dict[str, dict[str, Any]],
        poll_s: float = 1.0,
        count: int = 1000,
        timeout_s: float = 5.0,
        max_backoff_s: float = RECONNECT_MAX_S,
    ):
        """``devices``: machine code -> {device: agent device name, items: {type/id/name: tag}}."""
        self.name = name
        self.url = url.rstrip("/")
        self.devices = devices
        self.poll_s, self.count, self.timeout_s, self.max_backoff_s = poll_s, count, timeout_s, max_backoff_s
        self.status = ConnectorStatus(name=name, protocol="mtconnect", endpoint=self.url)
        self.gaps = 0
        self.instance_id: str | None = None
        self.next_sequence: int | None = None
        self._items: dict[str, tuple[str, str]] = {}  # data item id -> (machine, tag)

    @classmethod
    def from_config(cls, name: str, options: dict[str, Any], machines: dict[str, dict[str, Any]]) -> MTConnectConnector:
        if "url" not in options:
            raise ValueError(f"connector {name}: url is required (http://host:port)")
        return cls(
            name, str(options["url"]), machines, float(options.get("poll_s", 1.0)), int(options.get("count", 1000))
        )

    def _map_items(self, items: list[DataItem]) -> None:
        by_device = {cfg.get("device", code): (code, cfg.get("items") or {}) for code, cfg in self.devices.items()}
        self._items = {}
        for item in items:
            if item.device not in by_device:
                continue
            machine, chosen = by_device[item.device]
            keys = [item.id, item.name, f"{item.type}/{item.sub_type}" if item.sub_type else None, item.type]
            tag = next((chosen[k] for k in keys if k and k in chosen), None)
            if tag is None and chosen:
                continue  # an explicit item list names every item wanted
            self._items[item.id] = (machine, tag or default_tag(item))

    def _signals(self, observations: list[Observation]) -> list[Signal]:
        out = []
        received = datetime.now(timezone.utc)
        for o in observations:
            mapped = self._items.get(o.data_item_id)
            if mapped is None:
                continue
            if o.timestamp is None:
                self.status.record_error(
                    f"{mapped[0]}/{mapped[1]}: observation {o.sequence} has no valid "
                    "timestamp; the time of reception is used"
                )
            out.append(
                Signal(
                    self.name,
                    mapped[0],
                    mapped[1],
                    _typed(o.value),
                    o.timestamp or received,
                    Quality.GOOD if o.value is not None else Quality.BAD,
                    source_id=f"{self.instance_id}:{o.sequence}",
                )
            )
        return out

    async def _get(self, client: httpx.AsyncClient, path: str, params: dict | None = None) -> ElementTree.Element:
        r = await client.get(self.url + path, params=params)
        if r.status_code >= 500:
            raise httpx.HTTPStatusError(f"agent answered {r.status_code}", request=r.request, response=r)
        return parse_xml(r.content)

    async def _start(self, client: httpx.AsyncClient, emit: Emit) -> None:
        items = parse_probe(await self._get(client, "/probe"))
        self._map_items(items)
        header, observations = parse_streams(await self._get(client, "/current"))
        self.instance_id = header.instance_id
        signals = self._signals(observations)
        if signals:
            await emit(signals)
            self.status.record_messages(len(signals))
        self.next_sequence = header.next_sequence

    async def poll_once(self, client: httpx.AsyncClient, emit: Emit) -> int:
        """One /sample request; returns how many observations it brought."""
        try:
            root = await self._get(client, "/sample", {"from": self.next_sequence, "count": self.count})
        except MTConnectError as exc:
            if exc.code == "OUT_OF_RANGE":
                # The agent's buffer rolled past our cursor: those observations are gone from it.
                self.gaps += 1
                self.status.record_error(f"lost observations before sequence {self.next_sequence}: {exc}")
                await self._start(client, emit)
                return 0
            raise
        header, observations = parse_streams(root)
        if header.instance_id != self.instance_id:
            log.warning("%s: agent restarted (instance %s -> %s)", self.name, self.instance_id, header.instance_id)
            await self._start(client, emit)
            return 0
        if (
            header.first_sequence is not None
            and self.next_sequence is not None
            and header.first_sequence > self.next_sequence
        ):
            self.gaps += 1
            self.status.record_error(
                f"observations {self.next_sequence}..{header.first_sequence - 1} were "
                "dropped by the agent before they were read"
            )
        signals = self._signals(observations)
        if signals:
            await emit(signals)
            self.status.record_messages(len(signals))
            self.status.last_value_at = signals[-1].ts
        if header.next_sequence is not None:
            self.next_sequence = header.next_sequence  # only after emit: acknowledgement after commit
        return len(observations)

    async def run(self, emit: Emit) -> None:
        backoff = 0.5
        async with httpx.AsyncClient(timeout=self.timeout_s) as client:
            while True:
                try:
                    await self._start(client, emit)
                    self.status.connected = True
                    backoff = 0.5
                    while True:
                        try:
                            got = await self.poll_once(client, emit)
                        except MalformedDocument as exc:
                            # Counted and reported; the cursor stays, so the same range is read again.
                            self.status.quarantined_total += 1
                            self.status.record_error(f"malformed response: {exc}")
                            got = 0
                        if got < self.count:
                            await asyncio.sleep(self.poll_s)
                except asyncio.CancelledError:
                    raise
                except (httpx.HTTPError, MTConnectError, MalformedDocument, OSError) as exc:
                    if self.status.connected:
                        log.warning("%s: %s; reconnecting", self.name, exc)
                    self.status.connected = False
                    self.status.record_error(str(exc) or type(exc).__name__)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, self.max_backoff_s)
