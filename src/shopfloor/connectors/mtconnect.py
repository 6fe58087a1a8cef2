"""MTConnect: an HTTP client of an MTConnect agent (probe, current, then sample with the nextSequence cursor).

The agent's response documents are parsed namespace-agnostically (MTConnect 1.x and 2.x differ only in the
namespace) by defusedxml, which refuses a document type declaration and entities in any encoding, and fetches
nothing a document names.  Observations become Signals with the observation's timestamp and
``source_id = instanceId:sequence``, so a sample read twice is recognised.  The cursor moves on only after
``emit`` returned, i.e. after the values are committed; with the writer's emit the cursor (instanceId and next
sequence) is committed with them, and a restarted connector resumes with ``sample?from=<next>``, so every
observation still in the agent's buffer is stored, none twice.

When the agent's buffer has rolled past the cursor (we were away longer than it keeps), or the agent restarted
(a new instanceId) while we were away, the gap is recorded (in the status and in quarantine, with the sequence
numbers) and reading resumes from the current snapshot.  Plant file::

    connectors: [{name: cnc-agent, type: mtconnect, url: "http://10.0.0.30:5000", poll_s: 1.0}]
    machines:
      - code: CNC-03
        connector: {name: cnc-agent, device: CNC-03,
                    items: {EXECUTION: Execution, PART_COUNT/ALL: TotalCount, PART_COUNT/BAD: ScrapCount}}

``items`` keys: a data item's id, its name, ``TYPE/SUBTYPE``, or ``TYPE`` for an item without a subType: an item
with a subType is never taken by its type alone (``PART_COUNT`` does not take the ``REMAINING`` count).
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any
from xml.etree import ElementTree

import httpx
from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring as safe_fromstring

from shopfloor.connectors.base import (
    RECONNECT_MAX_S,
    ConnectorConfigError,
    ConnectorState,
    ConnectorStatus,
    Emit,
    Quality,
    Signal,
    state_prefix,
    stateful,
)

log = logging.getLogger(__name__)
MAX_DOCUMENT = 16 * 1024 * 1024
Quarantine = Callable[[str, str, bytes], Awaitable[None]]  # (source, reason, payload)


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
    """Parse an agent's response; documents with a DTD or entities are refused (never expanded), whatever their
    encoding."""
    raw = text.encode() if isinstance(text, str) else text
    if len(raw) > MAX_DOCUMENT:
        raise MalformedDocument(f"document larger than {MAX_DOCUMENT} bytes")
    try:
        root = safe_fromstring(raw, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except DefusedXmlException as exc:
        raise MalformedDocument(f"documents with a DTD or entities are refused ({type(exc).__name__})") from None
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
    """The data items of every Device (an Agent's own items are not a machine's)."""
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
    """``EXECUTION`` -> ``execution``, ``PART_COUNT`` with subType ``ALL`` -> ``part_count/all``; a named item keeps
    its name."""
    if item.name:
        return item.name
    return item.type.lower() + (f"/{item.sub_type.lower()}" if item.sub_type else "")


def item_keys(item: DataItem) -> list[str]:
    """The ``items`` keys that choose a data item, most specific first: its id, its name, ``TYPE/SUBTYPE``, and its
    type alone only when it has no subType (a PART_COUNT of subType REMAINING is no count of parts made)."""
    keys = [item.id]
    if item.name:
        keys.append(item.name)
    keys.append(f"{item.type}/{item.sub_type}" if item.sub_type else item.type)
    return keys


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
        worker: str = "main",
    ):
        """``devices``: machine code -> {device: agent device name, items: {id/name/TYPE/SUBTYPE: tag}}."""
        self.name = name
        self.url = url.rstrip("/")
        self.devices = devices
        self.poll_s, self.count, self.timeout_s, self.max_backoff_s = poll_s, count, timeout_s, max_backoff_s
        self.status = ConnectorStatus(name=name, protocol="mtconnect", endpoint=self.url)
        self.gaps = 0
        self.instance_id: str | None = None
        self.next_sequence: int | None = None
        self.quarantine: Quarantine | None = None  # where a gap is recorded (``shopfloor ingest`` sets it)
        self.state_key = state_prefix(name, worker) + "cursor"
        self._stateful = False
        self._saved: dict[str, Any] | None = None  # the cursor to resume from (committed, or before a reconnect)
        self._items: dict[str, tuple[str, str]] = {}  # data item id -> (machine, tag)

    @classmethod
    def from_config(
        cls, name: str, options: dict[str, Any], machines: dict[str, dict[str, Any]], worker: str = "main"
    ) -> MTConnectConnector:
        if "url" not in options:
            raise ConnectorConfigError(f"connector {name}: url is required (http://host:port)")
        return cls(
            name,
            str(options["url"]),
            machines,
            float(options.get("poll_s", 1.0)),
            int(options.get("count", 1000)),
            worker=worker,
        )

    def _map_items(self, items: list[DataItem]) -> None:
        by_device = {cfg.get("device", code): (code, cfg.get("items") or {}) for code, cfg in self.devices.items()}
        self._items = {}
        used: set[tuple[str, str]] = set()
        for item in items:
            if item.device not in by_device:
                continue
            machine, chosen = by_device[item.device]
            key = next((k for k in item_keys(item) if k in chosen), None)
            if key is None and chosen:
                continue  # an explicit item list names every item wanted
            used.add((item.device, key or ""))
            self._items[item.id] = (machine, chosen[key] if key is not None else default_tag(item))
        for device, (_, chosen) in by_device.items():
            for key in chosen:
                if (device, key) not in used:
                    subtyped = sorted({f"{i.type}/{i.sub_type}" for i in items if i.type == key and i.sub_type})
                    hint = f" (its items have subTypes: name one of {', '.join(subtyped)})" if subtyped else ""
                    self.status.record_error(f"{device}: items key {key!r} matches no data item of the agent{hint}")

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

    def _cursor(self, next_sequence: int | None) -> ConnectorState | None:
        """The cursor as committed with a batch (None when the emit keeps no connector state)."""
        if not self._stateful or next_sequence is None:
            return None
        return {self.state_key: {"instance_id": self.instance_id, "next_sequence": next_sequence}}

    async def _emit(self, emit: Emit, signals: list[Signal], next_sequence: int | None) -> None:
        state = self._cursor(next_sequence)
        if state is not None:
            await emit(signals, state)  # type: ignore[call-arg]
        elif signals:
            await emit(signals)
        if signals:
            self.status.record_messages(len(signals))
            self.status.last_value_at = signals[-1].ts

    async def _gap(self, what: str) -> None:
        """Record observations the agent no longer has: counted, in the status, and kept in quarantine."""
        self.gaps += 1
        self.status.record_error(what)
        log.warning("%s: %s", self.name, what)
        if self.quarantine is not None:
            await self.quarantine(self.name, f"gap: {what}", b"")

    async def _start(self, client: httpx.AsyncClient, emit: Emit) -> None:
        """Probe, then read on from the committed cursor when it is of this agent's instance and still in its
        buffer; else from the current snapshot (recording the gap)."""
        probe = await self._get(client, "/probe")
        items = parse_probe(probe)
        self._map_items(items)
        instance = _header(probe).instance_id
        saved = self._saved
        self._saved = None
        if saved and saved.get("instance_id") == instance and saved.get("next_sequence"):
            self.instance_id, self.next_sequence = instance, int(saved["next_sequence"])
            await self.poll_once(client, emit)  # a cursor the agent no longer has: a gap, then /current
            return
        if saved and saved.get("instance_id") != instance:
            await self._gap(f"the agent restarted (instance {saved.get('instance_id')} -> {instance}): observations "
                            f"after sequence {saved.get('next_sequence')} of the old instance are gone")  # fmt: skip
        header, observations = parse_streams(await self._get(client, "/current"))
        self.instance_id = header.instance_id
        await self._emit(emit, self._signals(observations), header.next_sequence)
        self.next_sequence = header.next_sequence

    async def poll_once(self, client: httpx.AsyncClient, emit: Emit) -> int:
        """One /sample request; returns how many observations it brought."""
        try:
            root = await self._get(client, "/sample", {"from": self.next_sequence, "count": self.count})
        except MTConnectError as exc:
            if exc.code == "OUT_OF_RANGE":
                # The agent's buffer rolled past our cursor: those observations are gone from it.
                await self._gap(f"observations from sequence {self.next_sequence} were dropped by the agent "
                                f"before they were read ({exc})")  # fmt: skip
                await self._start(client, emit)
                return 0
            raise
        header, observations = parse_streams(root)
        if header.instance_id != self.instance_id:
            log.warning("%s: agent restarted (instance %s -> %s)", self.name, self.instance_id, header.instance_id)
            self._saved = {"instance_id": self.instance_id, "next_sequence": self.next_sequence}
            await self._start(client, emit)
            return 0
        if (
            header.first_sequence is not None
            and self.next_sequence is not None
            and header.first_sequence > self.next_sequence
        ):
            await self._gap(
                f"observations {self.next_sequence}..{header.first_sequence - 1} were dropped by the agent before "
                "they were read"
            )
        await self._emit(emit, self._signals(observations), header.next_sequence)
        if header.next_sequence is not None:
            self.next_sequence = header.next_sequence  # only after emit: acknowledgement after commit
        return len(observations)

    async def run(self, emit: Emit) -> None:
        self._stateful = stateful(emit)
        if self._stateful:
            found = await asyncio.to_thread(emit.saved_state, self.state_key)  # type: ignore[attr-defined]
            self._saved = found.get(self.state_key)
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
                    if self.instance_id is not None and self.next_sequence is not None:
                        # Reconnecting resumes from the cursor, not from the current snapshot.
                        self._saved = {"instance_id": self.instance_id, "next_sequence": self.next_sequence}
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, self.max_backoff_s)
