"""The MQTT connector against the real Mosquitto broker (SHOPFLOOR_TEST_MQTT): a Sparkplug edge node's births and
data, the host's STATE, a sequence gap answered by a rebirth, a malformed payload quarantined while the stream
goes on, acknowledgement only after commit with a persistent session, a dropped connection without loss of
QoS 1 data, and workers sharing one subscription.

Sources: Eclipse Sparkplug 3.0 chapter 5 (host STATE birth and death with the same timestamp,
tck-id-host-topic-phid-birth-payload-timestamp; rebirth on a sequence gap, tck-id-operational-behavior-host-
reordering-rebirth), reference README section 6 (SPB-01, SPB-04); MQTT 5.0 sections 3.1.2.4 (Clean Start),
3.1.2.11.2 (Session Expiry Interval), 4.4 (message delivery retry) and 4.8.2 (shared subscriptions).
"""

import asyncio
import json
import socket
import threading
import time

import paho.mqtt.client as mqtt
import pytest

from shopfloor.connectors.base import Quality, SignalBlock, expand_signals
from shopfloor.connectors.mqtt import MqttConnector, broker_address
from shopfloor.connectors.sparkplug.edge import EdgeNode
from tests.connectors.waiting import run, until

pytestmark = pytest.mark.mqtt


class Probe:
    """A plain MQTT client that records what arrives on one topic filter (retained messages included)."""

    def __init__(self, url: str, topic: str):
        host, port = broker_address(url)
        self.messages: list[tuple[str, bytes, bool]] = []
        self.subscribed = threading.Event()
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
        self.client.on_message = lambda c, u, m: self.messages.append((m.topic, m.payload, bool(m.retain)))
        self.client.on_subscribe = lambda *args: self.subscribed.set()
        self.client.connect(host, port)
        self.client.loop_start()
        self.client.subscribe(topic, qos=1)
        assert self.subscribed.wait(5)

    def wait(self, predicate, timeout_s: float = 5.0) -> bool:
        deadline = time.monotonic() + timeout_s
        while not predicate() and time.monotonic() < deadline:
            time.sleep(0.02)
        return predicate()

    def states(self) -> list[dict]:
        return [json.loads(p) for t, p, _ in self.messages if "/STATE/" in t]

    def publish(self, topic: str, payload, qos: int = 1, retain: bool = False) -> None:
        self.client.publish(topic, payload, qos=qos, retain=retain).wait_for_publish(5)

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


def connector(url, unique, **kwargs):
    kwargs.setdefault("groups", [unique])
    kwargs.setdefault("host_id", f"h-{unique}")
    kwargs.setdefault("client_id", f"c-{unique}")
    kwargs.setdefault("reorder_timeout_s", 0.5)
    return MqttConnector("mqtt", url, **kwargs)


def edge_node(url, unique, **kwargs):
    host, port = broker_address(url)
    devices = {"WLD-01": {"State": 0, "TotalCount": 0, "laser_power": 0.0}}
    return EdgeNode(host, port, unique, "edge1", devices, client_id=f"e-{unique}", **kwargs)


async def started(conn, emit):
    task = asyncio.create_task(conn.run(emit))
    await until(lambda: conn.status.connected or task.done())
    assert not task.done(), task.exception()
    return task


async def stopped(task):
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


def test_births_and_data_arrive_and_the_host_state_is_born_and_dies_with_one_timestamp(mqtt_url, unique):
    probe = Probe(mqtt_url, f"spBv1.0/STATE/h-{unique}")
    conn = connector(mqtt_url, unique)
    edge = edge_node(mqtt_url, unique)
    seen, blocks = [], []

    async def emit(signals):
        blocks.extend(s for s in signals if isinstance(s, SignalBlock))
        seen.extend(expand_signals(signals))

    async def scenario():
        task = await started(conn, emit)
        await until(lambda: any(s.get("online") for s in probe.states()))
        await asyncio.to_thread(edge.start)
        try:
            await until(lambda: any(s.tag == "laser_power" for s in seen))
            edge.data("WLD-01", {"State": 1, "TotalCount": 5, "laser_power": 2000.5})
            await until(lambda: any(s.tag == "TotalCount" and s.value == 5 for s in seen))
            edge.data("WLD-01", {"laser_power": 2001.5})  # a plain payload: handed on as one SignalBlock
            await until(lambda: any(s.value == 2001.5 for s in seen))
        finally:
            await asyncio.to_thread(edge.stop)
            await stopped(task)
        await until(lambda: len(probe.states()) >= 2)

    try:
        run(scenario())
    finally:
        probe.close()
    births = [(s.tag, s.value) for s in seen if s.source_id and ":0:1:" in s.source_id]  # the DBIRTH, seq 1
    assert sorted(births) == [("State", 0), ("TotalCount", 0), ("laser_power", 0.0)]
    data = [(s.machine, s.tag, s.value, s.quality) for s in seen if s.value not in (0, 0.0, None)]
    assert data == [("WLD-01", "State", 1, Quality.GOOD), ("WLD-01", "TotalCount", 5, Quality.GOOD),
                    ("WLD-01", "laser_power", 2000.5, Quality.GOOD),
                    ("WLD-01", "laser_power", 2001.5, Quality.GOOD)]  # fmt: skip
    assert [(b.machine, list(b.tags), b.values) for b in blocks] == [("WLD-01", ["laser_power"], [2001.5])]
    online, offline = probe.states()[0], probe.states()[-1]
    assert online["online"] is True and offline["online"] is False
    assert online["timestamp"] == offline["timestamp"]
    assert conn.status.messages_total >= 3 and conn.status.last_value_at is not None


def test_a_sequence_gap_is_answered_by_a_rebirth_and_a_malformed_payload_is_quarantined(mqtt_url, unique):
    conn_kept = []

    async def keep(source, reason, payload):
        conn_kept.append((source, reason, payload))

    conn = connector(mqtt_url, unique, quarantine=keep)
    edge = edge_node(mqtt_url, unique)
    seen = []

    async def emit(signals):
        seen.extend(expand_signals(signals))

    def counts():
        return [s.value for s in seen if s.tag == "TotalCount" and s.value]

    async def scenario():
        task = await started(conn, emit)
        await asyncio.to_thread(edge.start)
        try:
            await until(lambda: any(s.tag == "State" for s in seen))
            edge.data("WLD-01", {"TotalCount": 5})
            await until(lambda: 5 in counts())
            edge.lose()  # one DDATA lost on the way: the host waits for the reorder timeout, then asks again
            edge.data("WLD-01", {"TotalCount": 9})
            await until(lambda: edge.rebirths >= 1, timeout=10)
            await until(lambda: 9 in counts())  # the value comes with the rebirth's DBIRTH
            edge.data("WLD-01", {"TotalCount": 11})
            await until(lambda: 11 in counts())
            edge.raw(f"spBv1.0/{unique}/DDATA/edge1/WLD-01", b"\x08\xff\xff garbage")
            await until(lambda: conn_kept)
            edge.data("WLD-01", {"TotalCount": 12})
            await until(lambda: 12 in counts())
        finally:
            await asyncio.to_thread(edge.stop)
            await stopped(task)

    run(scenario())
    assert counts().index(5) < counts().index(9) < counts().index(11) < counts().index(12)
    assert conn.rebirth_requests >= 1
    (source, reason, payload) = conn_kept[0]
    assert source == "mqtt" and payload == b"\x08\xff\xff garbage"
    assert reason.startswith(f"spBv1.0/{unique}/DDATA/edge1/WLD-01: payload is not a Sparkplug B protobuf")
    assert conn.status.quarantined_total == 1 and list(conn.quarantined)[0].payload == payload


def test_json_values_are_acknowledged_only_after_commit_and_queued_while_the_host_is_away(mqtt_url, unique):
    publisher = Probe(mqtt_url, f"{unique}/nothing")
    topic = f"{unique}/CNC-01/telemetry"

    def publish(i):
        publisher.publish(topic, json.dumps({"ts": 1772400000000 + i, "values": {"TotalCount": i}}))

    async def session(received, failures=0, wait_for=None, stay_s=0.0):
        conn = connector(mqtt_url, unique, groups=[], json_topics=[{"topic": f"{unique}/+/telemetry"}])
        left = {"failures": failures}

        async def emit(signals):
            if left["failures"]:
                left["failures"] -= 1
                raise RuntimeError("store unavailable")  # not committed: must not be acknowledged
            received.extend(s.value for s in expand_signals(signals))

        task = await started(conn, emit)
        if wait_for is not None:
            await until(lambda: len(received) >= wait_for)
        await asyncio.sleep(stay_s)
        await stopped(task)
        return conn

    async def scenario():
        await session([])  # creates the persistent session and its subscription
        for i in range(1, 6):
            publish(i)  # the host is away: the broker keeps them for its session
        away = []
        await session(away, wait_for=5)
        publish(6)
        retried = []
        conn = await session(retried, failures=2, wait_for=1)  # the commit fails twice, then succeeds
        after_ack = []
        await session(after_ack, stay_s=1.0)  # 6 was acknowledged after its commit: it does not come back
        publish(7)
        await session([], failures=1000, stay_s=1.0)  # never committed, never acknowledged
        redelivered = []
        await session(redelivered, wait_for=1)
        return away, retried, conn, after_ack, redelivered

    try:
        away, retried, conn, after_ack, redelivered = run(scenario())
    finally:
        publisher.close()
    assert away == [1, 2, 3, 4, 5]
    assert retried == [6] and conn.status.errors_total >= 2 and "store unavailable" in conn.status.last_error
    assert after_ack == []
    assert redelivered == [7]


def test_a_dropped_connection_comes_back_and_no_qos1_value_is_lost(mqtt_url, unique):
    conn = connector(mqtt_url, unique, reorder_timeout_s=2.0)
    edge = edge_node(mqtt_url, unique, qos=1)
    seen = []
    before_death = []
    states = []

    async def emit(signals):
        seen.extend(expand_signals(signals))

    async def watch():
        while True:
            if not states or states[-1] != conn.status.connected:
                states.append(conn.status.connected)
            await asyncio.sleep(0.01)

    async def scenario():
        task = await started(conn, emit)
        watcher = asyncio.create_task(watch())
        await asyncio.to_thread(edge.start)
        try:
            await until(lambda: any(s.tag == "TotalCount" for s in seen))
            for n in range(1, 121):
                edge.data("WLD-01", {"TotalCount": n})
                if n == 40:
                    conn.link.transport.get_extra_info("socket").shutdown(socket.SHUT_RDWR)  # the link breaks under it
                await asyncio.sleep(0.01)
            await until(lambda: {s.value for s in seen if s.tag == "TotalCount"} >= set(range(1, 121)), timeout=20)
            before_death.extend(seen)  # the edge node's death at the end rightly makes everything STALE
        finally:
            await asyncio.to_thread(edge.stop)
            watcher.cancel()
            await stopped(task)

    run(scenario())
    assert states[:3] == [True, False, True]  # connected, dropped, connected again
    assert {s.value for s in seen if s.tag == "TotalCount"} >= set(range(1, 121))
    # The broker kept the session: nothing was lost, so nothing went STALE and no rebirth was needed.
    assert not any(s.quality == Quality.STALE for s in before_death) and conn.rebirth_requests == 0
    assert conn.status.errors_total >= 1 and "disconnected" in conn.status.last_error


def test_an_offline_state_of_its_own_id_is_answered_with_the_birth(mqtt_url, unique):
    state_topic = f"spBv1.0/STATE/h-{unique}"
    probe = Probe(mqtt_url, state_topic)
    conn = connector(mqtt_url, unique)

    async def emit(signals):
        pass

    async def scenario():
        task = await started(conn, emit)
        await until(lambda: any(s["online"] for s in probe.states()))
        before = len(probe.states())
        # An older connection's will arriving late overwrites the retained STATE with offline.
        probe.publish(state_topic, json.dumps({"online": False, "timestamp": 1}), retain=True)
        await until(lambda: len(probe.states()) >= before + 2 and probe.states()[-1]["online"] is True)
        await stopped(task)

    try:
        run(scenario())
    finally:
        probe.close()
    retained = Probe(mqtt_url, state_topic)  # what a newcomer sees: the death of the clean stop
    try:
        assert retained.wait(lambda: retained.messages)
        assert json.loads(retained.messages[0][1])["online"] is False and retained.messages[0][2]
    finally:
        retained.close()


def test_workers_of_a_shared_subscription_split_the_data_and_all_know_the_aliases(mqtt_url, unique):
    share = f"s{unique}"
    workers = [
        connector(mqtt_url, unique, share=share, client_id=f"c{i}-{unique}", host_id=f"h{i}-{unique}") for i in (1, 2)
    ]
    edge = edge_node(mqtt_url, unique)
    seen = {0: [], 1: []}
    counted = {}

    def emitter(i):
        async def emit(signals):
            seen[i].extend(s.value for s in expand_signals(signals) if s.tag == "TotalCount")

        return emit

    async def scenario():
        tasks = [await started(w, emitter(i)) for i, w in enumerate(workers)]
        await asyncio.to_thread(edge.start)
        try:
            await asyncio.sleep(0.3)  # both have the births
            for n in range(1, 41):
                edge.data("WLD-01", {"TotalCount": n})
            await until(lambda: len(seen[0]) + len(seen[1]) >= 40)
            await asyncio.sleep(0.2)
            counted.update({i: list(v) for i, v in seen.items()})  # before the death makes the values STALE
        finally:
            await asyncio.to_thread(edge.stop)
            for task in tasks:
                await stopped(task)

    run(scenario())
    assert sorted(counted[0] + counted[1]) == list(range(1, 41))  # each value once, births not emitted
    assert counted[0] and counted[1]
    assert all(w.sparkplug.quarantined_total == 0 for w in workers)


def test_batches_handed_to_the_writer_ahead_are_committed_in_order_through_failed_commits(mqtt_url, unique, tmp_path):
    """The connector hands each batch to the writer as soon as it is decoded, behind the one being committed.
    When a commit fails (no disk buffer: it fails), a batch handed over behind it must not be committed before
    it, though the store answers again.  Every reading of a part counter arrives
    once, in order."""
    from sqlalchemy import func, select
    from sqlalchemy.exc import OperationalError

    from shopfloor.ingest.writer import IngestWriter
    from shopfloor.model.plant import Plant
    from shopfloor.store.db import open_store
    from shopfloor.store.plant import load_plant, save_plant
    from shopfloor.store.schema import machine_events, quarantine

    engine = open_store(str(tmp_path / "store.db"))
    plant = Plant.from_dict(
        {
            "site": {"code": "S", "timezone": "UTC"},
            "areas": [{"code": "A", "lines": [{"code": "L", "machines": [
                {"code": "CNC-01", "tags": {"total_count": {"signal": "TotalCount", "bits": 32},
                                            "product": {"default": "P"}}}]}]}],
            "products": [{"code": "P", "ideal_cycle_s": 0.001}],
        }
    )  # fmt: skip
    with engine.begin() as conn:
        save_plant(conn, plant, "test")
        plant = load_plant(conn)
    real_begin, outage = engine.begin, {"fail_next": 0, "failed": 0}

    def begin():
        # The next transaction fails, slowly (a store that times out): meanwhile the next batches are handed
        # over behind it, and the store answers again before the writer comes to them.
        if outage["fail_next"]:
            outage["fail_next"] -= 1
            outage["failed"] += 1
            time.sleep(0.3)
            raise OperationalError("INSERT", {}, Exception("store unreachable"))
        return real_begin()

    engine.begin = begin
    publisher = Probe(mqtt_url, f"{unique}/nothing")
    topic = f"{unique}/CNC-01/telemetry"
    n = 120
    committed = []

    async def scenario():
        writer = IngestWriter(engine, plant, None)  # no disk buffer: a commit that fails, fails
        commit = writer._commit

        def commit_and_note(signals, prepared=None, states=None):
            mapped = commit(signals, prepared, states)
            committed.extend(s.value for s in expand_signals(signals))
            return mapped

        writer._commit = commit_and_note
        await writer.start()
        conn = connector(mqtt_url, unique, groups=[], json_topics=[{"topic": f"{unique}/+/telemetry"}], max_batch=4)
        conn.commit_retry_max_s = 0.2
        task = await started(conn, writer.emit_for_connector())
        for i in range(1, n + 1):
            body = json.dumps({"ts": 1772400000000 + i * 10, "values": {"TotalCount": i}})
            await asyncio.to_thread(publisher.publish, topic, body)
            if i in (n // 3, 2 * n // 3):
                outage["fail_next"] += 1  # both failures happen, however the commits fall
        await until(lambda: writer.stats.committed_signals >= n, timeout=30)
        await stopped(task)
        await writer.stop()
        return conn

    try:
        conn = run(scenario())
    finally:
        publisher.close()
    with engine.connect() as c:
        good = c.execute(select(func.sum(machine_events.c.quantity)).where(machine_events.c.kind == "good")).scalar()
        kept = c.execute(select(func.count()).select_from(quarantine)).scalar()
    assert outage["failed"] == 2 and conn.status.errors_total >= 2
    assert committed == list(range(1, n + 1))  # each reading once, in the order it was sent
    assert (good, kept) == (n - 1, 0)
