"""The asyncio MQTT v5 client: the wire format against the OASIS MQTT Version 5.0 standard's own examples and
rules, then against the real Mosquitto broker (SHOPFLOOR_TEST_MQTT).

Sources: MQTT 5.0 section 1.5.5 (Variable Byte Integer: the table of sizes), figure 3-6 / section 3.1.2.11
(the example CONNECT variable header), 3.3 (PUBLISH, 3.3.2.3.4 Topic Alias, 3.3.1.2 QoS), 4.7 (topic
filters: the non-normative examples of 4.7.1.2, 4.7.1.3 and 4.7.2), 3.2.2.2 (Session Present), 3.2.2.2 /
4.4 (redelivery of unacknowledged QoS 1 messages in a kept session), 3.1.2.5 (the Will on a broken link),
3.2.2.2 (CONNACK reason codes 0x86 / 0x87), 3.2.2.3.3 / 4.9 (Receive Maximum: QoS 1 messages in flight),
3.3.1.3 (RETAIN), 3.2.2.3.5 (Retain Available).

The other end of the conversations with the broker is paho-mqtt, a second, independent MQTT implementation:
what this client sends must be what another client reads, and the other way round, not only what this client's
own parser expects.  (The project itself runs only this client; paho-mqtt is a test dependency.)
"""

import asyncio
import json
import os
import re
import shutil
import subprocess
import tempfile
import threading
import uuid
from pathlib import Path

import paho.mqtt.client as paho
import pytest

from shopfloor.connectors.mqtt import broker_address
from shopfloor.connectors.mqtt_client import (
    MAX_REMAINING_LENGTH,
    LoopThread,
    MqttProtocolError,
    MqttRefused,
    PacketReader,
    Will,
    connect,
    connect_packet,
    decode_varint,
    encode_varint,
    parse_publish,
    puback_packets,
    publish_packet,
    subscribe_packet,
    topic_matches,
)
from shopfloor.simulator.modbus_server import free_port
from tests.connectors.waiting import run, until


# -- wire format --------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "value, encoded",
    [  # MQTT 5.0 section 1.5.5, "Size of Variable Byte Integer": the smallest and largest of each size
        (0, b"\x00"),
        (127, b"\x7f"),
        (128, b"\x80\x01"),
        (16_383, b"\xff\x7f"),
        (16_384, b"\x80\x80\x01"),
        (2_097_151, b"\xff\xff\x7f"),
        (2_097_152, b"\x80\x80\x80\x01"),
        (268_435_455, b"\xff\xff\xff\x7f"),
    ],
)
def test_variable_byte_integers_are_the_standard_s_sizes(value, encoded):
    assert encode_varint(value) == encoded
    assert decode_varint(encoded + b"rest") == (value, len(encoded))


def test_variable_byte_integers_out_of_range_cut_short_or_too_long():
    with pytest.raises(ValueError, match="does not fit"):
        encode_varint(MAX_REMAINING_LENGTH + 1)
    assert decode_varint(b"\x80\x80") is None  # more bytes to come
    with pytest.raises(MqttProtocolError, match="longer than four bytes"):
        decode_varint(b"\x80\x80\x80\x80\x01")


def test_connect_variable_header_is_the_standard_s_example():
    """Figure 3-6: user name and password, Will QoS 1, Will flag, Clean Start; keep alive 10; properties of
    length 5 holding Session Expiry Interval 10."""
    packet = connect_packet(
        "c", 10, clean_start=True, session_expiry_s=10, will=Will("w", b"x", qos=1), username="u", password="p"
    )
    assert packet[0] == 0x10
    length, start = decode_varint(packet, 1)
    assert length == len(packet) - start
    variable_header = packet[start : start + 16]
    assert variable_header == b"\x00\x04MQTT\x05\xce\x00\x0a\x05\x11\x00\x00\x00\x0a"
    # Payload: client id, will properties (none), will topic, will payload, user name, password.
    assert packet[start + 16 :] == b"\x00\x01c" + b"\x00" + b"\x00\x01w" + b"\x00\x01x" + b"\x00\x01u" + b"\x00\x01p"


def test_a_publish_round_trips_through_the_reader_whole_or_byte_by_byte():
    packets = publish_packet("a/b", b"\x00payload", qos=1, retain=True, packet_id=7) + publish_packet("c", b"")
    packets += puback_packets([1, 2])
    whole = PacketReader().feed(packets)
    reader, pieces = PacketReader(), []
    for i in range(len(packets)):
        pieces += reader.feed(packets[i : i + 1])
    assert pieces == whole
    assert [(kind, flags) for kind, flags, _ in whole] == [(3, 0b0011), (3, 0), (4, 0), (4, 0)]
    first = parse_publish(whole[0][1], whole[0][2])
    assert (first.topic, first.payload, first.qos, first.retain, first.mid) == ("a/b", b"\x00payload", 1, True, 7)
    second = parse_publish(whole[1][1], whole[1][2])
    assert (second.topic, second.payload, second.qos, second.mid) == ("c", b"", 0, 0)


def test_publish_properties_are_skipped_and_what_this_client_never_allowed_is_a_protocol_error():
    def publish(flags, topic, props, payload=b"v", packet_id=b""):
        return parse_publish(flags, len(topic).to_bytes(2, "big") + topic + packet_id + props + payload)

    # Payload Format Indicator 1 and a User Property ("k", "v"): read past, the payload is intact.
    props = b"\x09\x01\x01\x26\x00\x01k\x00\x01v"
    assert publish(0, b"t", props).payload == b"v"
    with pytest.raises(MqttProtocolError, match="topic alias"):
        publish(0, b"t", b"\x03\x23\x00\x01")  # Topic Alias 1: this client's Topic Alias Maximum is 0
    with pytest.raises(MqttProtocolError, match="QoS 2"):
        publish(0b0100, b"t", b"\x00", packet_id=b"\x00\x01")
    with pytest.raises(MqttProtocolError, match="not a topic name"):
        publish(0, b"a/+", b"\x00")
    with pytest.raises(MqttProtocolError, match="property identifier 0x7F"):
        publish(0, b"t", b"\x02\x7f\x00")


def test_subscribe_packet_carries_each_filter_with_its_qos():
    packet = subscribe_packet(5, [("a/#", 1), ("b", 0)])
    assert packet[0] == 0x82  # SUBSCRIBE with its reserved flags 0010 (3.8.1)
    assert packet[2:] == b"\x00\x05\x00" + b"\x00\x03a/#\x01" + b"\x00\x01b\x00"


@pytest.mark.parametrize(
    "topic_filter, topic, matches",
    [  # MQTT 5.0 sections 4.7.1.2, 4.7.1.3 and 4.7.2
        ("sport/tennis/player1/#", "sport/tennis/player1", True),
        ("sport/tennis/player1/#", "sport/tennis/player1/ranking", True),
        ("sport/tennis/player1/#", "sport/tennis/player1/score/wimbledon", True),
        ("sport/#", "sport", True),
        ("sport/tennis/+", "sport/tennis/player1", True),
        ("sport/tennis/+", "sport/tennis/player1/ranking", False),
        ("sport/+", "sport", False),
        ("sport/+", "sport/", True),
        ("+/+", "/finance", True),
        ("/+", "/finance", True),
        ("+", "/finance", False),
        ("#", "$SYS/broker/clients", False),
        ("+/monitor/Clients", "$SYS/monitor/Clients", False),
        ("$SYS/#", "$SYS/monitor/Clients", True),
        ("$SYS/monitor/+", "$SYS/monitor/Clients", True),
        ("$share/workers/plant/+/telemetry", "plant/CNC-01/telemetry", True),
    ],
)
def test_topic_filters_match_as_the_standard_says(topic_filter, topic, matches):
    assert topic_matches(topic_filter, topic) is matches


# -- against the broker -------------------------------------------------------------------------------------
class Publisher:
    """A paho client that publishes and listens, for the other end of each conversation."""

    def __init__(self, url, listen=None):
        host, port = broker_address(url)
        self.heard, self.ready = [], threading.Event()
        self.client = paho.Client(paho.CallbackAPIVersion.VERSION2, protocol=paho.MQTTv5)
        self.client.on_message = lambda c, u, m: self.heard.append((m.topic, m.payload))
        self.client.on_subscribe = lambda *args: self.ready.set()
        self.client.connect(host, port)
        self.client.loop_start()
        if listen:
            self.client.subscribe(listen, qos=1)
            assert self.ready.wait(5)

    def publish(self, topic, payload, qos=1, retain=False):
        self.client.publish(topic, payload, qos=qos, retain=retain).wait_for_publish(5)

    def close(self):
        self.client.loop_stop()
        self.client.disconnect()


async def _link(url, client_id, received, clean_start=True, will=None, **kwargs):
    host, port = broker_address(url)
    packet = connect_packet(client_id, 10, clean_start=clean_start, session_expiry_s=60, will=will)
    return await connect(host, port, packet, received.append, 10, **kwargs)


@pytest.mark.mqtt
def test_messages_arrive_in_order_and_an_unacknowledged_one_comes_back_in_the_kept_session(mqtt_url):
    topic, client_id = f"c/{uuid.uuid4().hex[:8]}", f"t-{uuid.uuid4().hex[:8]}"
    publisher = Publisher(mqtt_url)
    got = {}

    async def scenario():
        first = []
        link = await _link(mqtt_url, client_id, first, clean_start=True)
        assert link.session_present is False
        assert await link.subscribe([(topic, 1)]) == [1]
        # 30 messages, 15 at QoS 1: within the broker's window of unacknowledged QoS 1 messages (20 by default).
        for i in range(1, 31):
            await asyncio.to_thread(publisher.publish, topic, str(i).encode(), 1 if i % 2 else 0)
        await until(lambda: len(first) == 30)
        link.ack([m.mid for m in first if m.qos and m.payload != b"29"])  # all but message 29
        await asyncio.sleep(0.2)
        link.disconnect()
        again = []
        link = await _link(mqtt_url, client_id, again, clean_start=False)
        got["present"] = link.session_present
        await until(lambda: again)
        await asyncio.sleep(0.3)
        link.ack([m.mid for m in again])
        done = link.publish(topic, b"own", qos=1)
        got["puback"] = await asyncio.wait_for(done, 5)
        link.disconnect()
        got["first"], got["again"] = first, again

    try:
        run(scenario())
    finally:
        publisher.close()
    assert [m.payload for m in got["first"]] == [str(i).encode() for i in range(1, 31)]
    assert [m.qos for m in got["first"][:2]] == [1, 0] and got["first"][0].mid != 0
    assert got["present"] is True
    assert [(m.payload, m.dup) for m in got["again"] if m.payload != b"own"] == [(b"29", True)]
    assert got["puback"] == [0x10] or got["puback"] == [0]  # 0x10: nobody else subscribed


@pytest.mark.mqtt
def test_the_will_goes_out_when_the_link_breaks_and_not_after_a_normal_disconnect(mqtt_url):
    will_topic = f"w/{uuid.uuid4().hex[:8]}"
    listener = Publisher(mqtt_url, listen=will_topic)

    async def scenario():
        link = await _link(mqtt_url, f"w-{uuid.uuid4().hex[:8]}", [], will=Will(will_topic, b"gone", qos=1))
        link.disconnect()
        await asyncio.sleep(0.5)
        quiet = list(listener.heard)
        link = await _link(mqtt_url, f"w-{uuid.uuid4().hex[:8]}", [], will=Will(will_topic, b"broken", qos=1))
        link.transport.abort()  # no DISCONNECT: the broker sees a broken link
        await until(lambda: listener.heard)
        return quiet, link

    try:
        quiet, link = run(scenario())
    finally:
        listener.close()
    assert quiet == []
    assert listener.heard == [(will_topic, b"broken")]
    assert link.closed.done()


def test_credentials_are_sent_and_a_refusal_names_its_reason(tmp_path):
    """A broker of its own on a free loopback port that admits only user "plant" with its password."""
    mosquitto = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    passwd = shutil.which("mosquitto_passwd")
    if not os.path.exists(mosquitto) or passwd is None:
        pytest.skip("mosquitto is not installed")
    port = free_port()
    # Started as root, mosquitto reads the password file as its own user: a directory everyone may enter.
    shared = Path(tempfile.mkdtemp(prefix="mqtt-auth-"))
    shared.chmod(0o755)
    subprocess.run([passwd, "-b", "-c", str(shared / "passwd"), "plant", "s3cret:é"], check=True)
    (shared / "passwd").chmod(0o644)
    conf = tmp_path / "mosquitto.conf"
    conf.write_text(f"listener {port} 127.0.0.1\nallow_anonymous false\npassword_file {shared / 'passwd'}\n")
    broker = subprocess.Popen([mosquitto, "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    async def attempt(username=None, password=None):
        packet = connect_packet(f"p-{uuid.uuid4().hex[:6]}", 10, True, username=username, password=password)
        for _ in range(100):
            try:
                return await connect("127.0.0.1", port, packet, lambda m: None, 10)
            except MqttRefused:
                raise
            except OSError:
                await asyncio.sleep(0.1)  # not listening yet
        raise AssertionError("the broker did not start")

    async def scenario():
        link = await attempt("plant", "s3cret:é")
        link.disconnect()
        refusals = []
        for username, password in ((None, None), ("plant", "wrong")):
            with pytest.raises(MqttRefused) as refused:
                await attempt(username, password)
            refusals.append(str(refused.value))
        return refusals

    try:
        anonymous, wrong = run(scenario())
    finally:
        broker.terminate()
        broker.wait(10)
        shutil.rmtree(shared, ignore_errors=True)
    assert re.fullmatch(r"(Not authorized \(0x87\)|Bad User Name or Password \(0x86\))", anonymous)
    assert re.fullmatch(r"(Not authorized \(0x87\)|Bad User Name or Password \(0x86\))", wrong)


@pytest.mark.mqtt
def test_an_idle_link_is_kept_alive_and_ends_when_its_session_is_taken_over(mqtt_url):
    """Keep alive 1 s and 3 s of silence: PINGREQ / PINGRESP keep it open.  A second connection with the same
    Client Identifier takes the session over (3.1.4-3): the first link ends and says so."""
    client_id = f"k-{uuid.uuid4().hex[:8]}"
    host, port = broker_address(mqtt_url)

    async def scenario():
        first = await connect(host, port, connect_packet(client_id, 1, True), lambda m: None, 1)
        await asyncio.sleep(3)
        alive = first.is_open
        second = await connect(host, port, connect_packet(client_id, 10, True), lambda m: None, 10)
        reason = await asyncio.wait_for(asyncio.shield(first.closed), 5)
        second.disconnect()
        return alive, reason, first.is_open

    alive, reason, still_open = run(scenario())
    assert alive and not still_open
    assert reason  # Mosquitto 2.0 closes the socket; a broker that sends DISCONNECT 0x8E is named as such


def test_a_disconnect_from_the_server_is_named_with_its_reason_string():
    """A server of the test's own: CONNACK, then DISCONNECT 0x8B "Server shutting down" with a Reason String."""

    async def scenario():
        async def serve(reader, writer):
            await reader.read(1024)  # the CONNECT
            writer.write(b"\x20\x03\x00\x00\x00")  # CONNACK: no session, Success, no properties
            reason = b"maintenance"
            props = b"\x1f" + len(reason).to_bytes(2, "big") + reason
            body = b"\x8b" + encode_varint(len(props)) + props
            writer.write(b"\xe0" + encode_varint(len(body)) + body)
            await writer.drain()

        server = await asyncio.start_server(serve, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        link = await connect("127.0.0.1", port, connect_packet("x", 10, True), lambda m: None, 10)
        reason = await asyncio.wait_for(asyncio.shield(link.closed), 5)
        server.close()
        return reason

    assert run(scenario()) == "the server disconnected: Server shutting down (0x8B): maintenance"


@pytest.mark.mqtt
def test_reading_stops_while_too_much_is_held_and_goes_on_when_it_is_taken(mqtt_url):
    topic = f"f/{uuid.uuid4().hex[:8]}"
    publisher = Publisher(mqtt_url)
    held = []

    async def scenario():
        link = await _link(mqtt_url, f"f-{uuid.uuid4().hex[:8]}", held, high_water=5, held=held.__len__)
        await link.subscribe([(topic, 0)])
        payload = json.dumps({"pad": "x" * 2000}).encode()
        for _ in range(200):
            await asyncio.to_thread(publisher.publish, topic, payload, 0)
        await asyncio.sleep(0.5)
        while_paused = len(held)
        held.clear()
        link.resume()
        await until(lambda: len(held) + while_paused >= 200 or len(held) > 5)
        link.disconnect()
        return while_paused

    try:
        while_paused = run(scenario())
    finally:
        publisher.close()
    assert 5 < while_paused < 200  # it stopped reading soon after passing the mark


def test_a_packet_shorter_than_its_fields_closes_the_link_with_the_reason():
    """A server of the test's own sends a CONNACK, then a PUBLISH whose topic length runs past its end."""

    async def scenario():
        async def serve(reader, writer):
            await reader.read(1024)
            writer.write(b"\x20\x03\x00\x00\x00" + b"\x30\x01\x00")  # PUBLISH of one byte: half a topic length
            await writer.drain()
            await asyncio.sleep(1)

        server = await asyncio.start_server(serve, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        got = []
        link = await connect("127.0.0.1", port, connect_packet("x", 10, True), got.append, 10)
        reason = await asyncio.wait_for(asyncio.shield(link.closed), 5)
        server.close()
        return reason, got

    reason, got = run(scenario())
    assert reason == "protocol error from the server: a PUBLISH too short for its topic"
    assert got == []


def test_publishes_beyond_the_server_s_receive_maximum_wait_in_order_for_a_place():
    """A server of the test's own with Receive Maximum 2 (3.2.2.3.3): of four QoS 1 messages and a QoS 0 one
    behind them, two go out; each PUBACK (given to the link as if read from the server) lets the next one go, in
    the order published (4.9)."""

    async def scenario():
        seen: list[bytes] = []

        async def serve(reader, writer):
            await reader.read(1024)  # the CONNECT
            writer.write(b"\x20\x06\x00\x00\x03\x21\x00\x02")  # CONNACK, Receive Maximum 2
            await writer.drain()
            split = PacketReader()
            while data := await reader.read(4096):
                seen.extend(parse_publish(f, body).payload for kind, f, body in split.feed(data) if kind == 3)

        server = await asyncio.start_server(serve, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        link = await connect("127.0.0.1", port, connect_packet("x", 10, True), lambda m: None, 10)
        assert link.receive_maximum == 2
        futures = [link.publish("t", str(i).encode(), qos=1) for i in range(1, 5)]
        link.publish("t", b"q0", qos=0)
        await asyncio.sleep(0.3)
        steps = [(list(seen), link.waiting)]  # 1 and 2 sent, three held
        link.data_received(puback_packets([1]))
        await asyncio.sleep(0.3)
        steps.append((list(seen), link.waiting))  # 3 sent in 1's place
        link.data_received(puback_packets([2]))
        await asyncio.sleep(0.3)
        steps.append((list(seen), link.waiting))  # 4, and the QoS 0 message behind it
        done = [f.done() for f in futures]
        link.disconnect()
        server.close()
        return steps, done

    steps, done = run(scenario())
    assert steps == [
        ([b"1", b"2"], 3),
        ([b"1", b"2", b"3"], 2),
        ([b"1", b"2", b"3", b"4", b"q0"], 0),
    ]
    assert done == [True, True, False, False]


@pytest.mark.mqtt
def test_a_retained_message_reaches_a_later_subscriber_with_the_retain_flag(mqtt_url):
    topic = f"r/{uuid.uuid4().hex[:8]}"

    async def scenario():
        link = await _link(mqtt_url, f"r-{uuid.uuid4().hex[:8]}", [])
        await asyncio.wait_for(link.publish(topic, b"kept", qos=1, retain=True), 5)
        link.publish(topic, b"", qos=0, retain=False)  # not retained: does not replace it
        await asyncio.sleep(0.2)
        link.disconnect()
        listener = Publisher(mqtt_url, listen=topic)
        try:
            await until(lambda: listener.heard)
            await asyncio.sleep(0.2)
            heard = list(listener.heard)
            listener.publish(topic, b"", retain=True)  # an empty retained message clears it (3.3.1.3)
        finally:
            listener.close()
        return heard

    assert run(scenario()) == [(topic, b"kept")]


@pytest.mark.mqtt
def test_a_thread_based_caller_runs_the_client_on_a_loop_thread(mqtt_url):
    """``LoopThread``: connect, subscribe and publish from plain threads; calls run on the loop in their order,
    and more QoS 1 messages than the broker's Receive Maximum (Mosquitto: 20) are all acknowledged."""
    topic = f"l/{uuid.uuid4().hex[:8]}"
    listener = Publisher(mqtt_url, listen=topic)
    thread = LoopThread("test-loop")
    acks = []
    try:
        link = thread.run(_link(mqtt_url, f"l-{uuid.uuid4().hex[:8]}", []), 10)
        order = []
        for i in range(100):
            thread.call(lambda i=i: acks.append(link.publish(topic, str(i).encode(), qos=1)) or order.append(i))
        thread.run(until(lambda: len(acks) == 100 and all(f.done() for f in acks)), 20)
        assert order == list(range(100)) and all(f.exception() is None for f in acks)
        with pytest.raises(RuntimeError, match="wait for itself"):
            thread.run(_wait_on_own_loop(thread), 5)
        thread.call(link.disconnect)
        thread.run(until(link.closed.done), 5)
    finally:
        thread.close()
        listener.close()
    assert not thread.running
    assert [p for _, p in listener.heard] == [str(i).encode() for i in range(100)]


async def _wait_on_own_loop(thread):
    """On the loop thread, ``run`` refuses instead of waiting for itself forever."""
    thread.run(asyncio.sleep(0))
