"""OPC UA: subscriptions (data change notifications) to configured nodes of each machine (asyncua).

Per machine, a mapping of tag name to node id (``ns=2;s=WLD-01.State``) or to a browse path below a start
node (``browse: ["2:WLD-01", "2:State"]``).  Values arrive with the server's source timestamp; the status
code becomes the signal's quality.  When the connection is lost (asyncua's supervisor notices a dead
transport or a failed keep-alive) the connector disconnects, waits with back-off, connects again and
re-creates its subscription.  Plant file::

    connectors: [{name: weld-opcua, type: opcua, url: "opc.tcp://10.0.0.10:4840/", publish_ms: 200}]
    machines:
      - code: WLD-01
        connector: {name: weld-opcua, nodes: {State: "ns=2;s=WLD-01.State", TotalCount: "ns=2;s=WLD-01.TotalCount"}}
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from asyncua import Client, ua

from shopfloor.connectors.base import RECONNECT_MAX_S, ConnectorStatus, Emit, Quality, Signal

log = logging.getLogger(__name__)
logging.getLogger("asyncua").setLevel(logging.CRITICAL)  # connection problems are reported through the status


class OpcUaConfigError(ValueError):
    pass


@dataclass(frozen=True)
class NodeRef:
    machine: str
    tag: str
    node_id: str | None = None
    browse: tuple[str, ...] = ()


def parse_nodes(machine: str, nodes: Any) -> list[NodeRef]:
    if not isinstance(nodes, dict) or not nodes:
        raise OpcUaConfigError(f"machine {machine}: connector.nodes must map tag names to node ids")
    out = []
    for tag, ref in nodes.items():
        if isinstance(ref, str):
            try:
                ua.NodeId.from_string(ref)
            except (ValueError, ua.UaStringParsingError) as exc:
                raise OpcUaConfigError(f"machine {machine}: node id {ref!r} of {tag!r} is not valid: {exc}") from None
            out.append(NodeRef(machine, str(tag), node_id=ref))
        elif isinstance(ref, dict) and isinstance(ref.get("browse"), list) and ref["browse"]:
            out.append(NodeRef(machine, str(tag), browse=tuple(str(p) for p in ref["browse"])))
        else:
            raise OpcUaConfigError(f"machine {machine}: {tag!r} needs a node id or {{browse: [path...]}}")
    return out


def quality_of(status: ua.StatusCode | None) -> Quality:
    if status is None or status.is_good():
        return Quality.GOOD
    if status.is_uncertain():
        return Quality.UNCERTAIN
    return Quality.BAD


class _Handler:
    """Receives data change notifications on asyncua's task and queues them for the connector."""

    def __init__(self, refs: dict[Any, list[NodeRef]], source: str, queue: asyncio.Queue[Signal]):
        self.refs = refs
        self.source = source
        self.queue = queue

    def datachange_notification(self, node, val, data) -> None:
        dv = data.monitored_item.Value
        ts = dv.SourceTimestamp or dv.ServerTimestamp or datetime.now(timezone.utc)
        if ts.tzinfo is None:
            ts = ts.replace(tzinfo=timezone.utc)
        value = val if isinstance(val, (int, float, str, bool)) or val is None else str(val)
        for ref in self.refs.get(node.nodeid, ()):
            self.queue.put_nowait(
                Signal(
                    self.source,
                    ref.machine,
                    ref.tag,
                    value,
                    ts,
                    quality_of(dv.StatusCode),
                    source_id=f"{node.nodeid.to_string()}@{ts.isoformat()}",
                )
            )

    def status_change_notification(self, status) -> None:
        log.info("%s: subscription status %s", self.source, status)


class OpcUaConnector:
    def __init__(
        self,
        name: str,
        url: str,
        refs: list[NodeRef],
        publish_ms: int = 200,
        timeout_s: float = 4.0,
        max_backoff_s: float = RECONNECT_MAX_S,
        batch_delay_s: float = 0.05,
    ):
        self.name = name
        self.url = url
        self.refs = refs
        self.publish_ms = publish_ms
        self.timeout_s = timeout_s
        self.max_backoff_s = max_backoff_s
        self.batch_delay_s = batch_delay_s
        self.status = ConnectorStatus(name=name, protocol="opcua", endpoint=url)

    @classmethod
    def from_config(cls, name: str, options: dict[str, Any], machines: dict[str, dict[str, Any]]) -> OpcUaConnector:
        if "url" not in options:
            raise OpcUaConfigError(f"connector {name}: url is required (opc.tcp://host:port/...)")
        refs = [r for code, cfg in machines.items() for r in parse_nodes(code, cfg.get("nodes"))]
        return cls(
            name, str(options["url"]), refs, int(options.get("publish_ms", 200)), float(options.get("timeout_s", 4.0))
        )

    async def _resolve(self, client: Client) -> dict[Any, list[NodeRef]]:
        resolved: dict[Any, list[NodeRef]] = {}
        for ref in self.refs:
            try:
                if ref.node_id:
                    node = client.get_node(ref.node_id)
                    await node.read_browse_name()  # fails now, with a clear message, for an unknown node
                else:
                    node = await client.nodes.objects.get_child(list(ref.browse))
            except (ua.UaStatusCodeError, ua.UaError) as exc:
                self.status.record_error(f"{ref.machine}/{ref.tag}: node {ref.node_id or ref.browse}: {exc}")
                continue
            resolved.setdefault(node.nodeid, []).append(ref)
        return resolved

    async def run(self, emit: Emit) -> None:
        backoff = 0.5
        while True:
            client = Client(self.url, timeout=self.timeout_s, watchdog_intervall=1.0)
            lost = asyncio.Event()

            async def on_lost(exc: Exception, lost: asyncio.Event = lost) -> None:
                lost.set()

            client.connection_lost_callback = on_lost
            queue: asyncio.Queue[Signal] = asyncio.Queue()
            try:
                await client.connect(auto_reconnect=False)
                refs = await self._resolve(client)
                handler = _Handler(refs, self.name, queue)
                sub = await client.create_subscription(self.publish_ms, handler)
                if refs:
                    await sub.subscribe_data_change([client.get_node(n) for n in refs])
                self.status.connected = True
                backoff = 0.5
                while not lost.is_set():
                    get = asyncio.create_task(queue.get())
                    wait_lost = asyncio.create_task(lost.wait())
                    done, _ = await asyncio.wait({get, wait_lost}, return_when=asyncio.FIRST_COMPLETED)
                    wait_lost.cancel()
                    if get not in done:
                        get.cancel()
                        break
                    batch = [get.result()]
                    await asyncio.sleep(self.batch_delay_s)
                    while not queue.empty():
                        batch.append(queue.get_nowait())
                    await emit(batch)
                    self.status.record_messages(len(batch))
                    self.status.last_value_at = batch[-1].ts
                raise ConnectionError("connection to the OPC UA server lost")
            except asyncio.CancelledError:
                raise
            except (TimeoutError, ConnectionError, OSError, ua.UaError) as exc:
                if self.status.connected:
                    log.warning("%s: %s; reconnecting", self.name, exc)
                self.status.connected = False
                self.status.record_error(str(exc) or type(exc).__name__)
            finally:
                try:
                    await asyncio.wait_for(client.disconnect(), timeout=2)
                except Exception:  # noqa: BLE001 - the link is gone already
                    pass
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, self.max_backoff_s)
