"""A small MQTT v5 client on asyncio: what the host connector and the edge node need, read straight off the socket.

Written from the OASIS MQTT Version 5.0 standard (7 March 2019); section numbers below refer to it.

Why not a general client library: a Sparkplug host receives tens of thousands of PUBLISH packets a second and
must acknowledge each QoS 1 message only after its values are committed, in the order received, and stop reading
while the store is behind.  Reading on the event loop itself (``asyncio.Protocol.data_received``) takes whole
socket buffers, hundreds of packets at a time, into one parse loop, and leaves no network thread to compete for
the interpreter with the decoding and storing of values.  Measured (``bench/bench_ingest.py``, the same pipeline
with the connection made by each library, QoS 0, runs alternated on a shared machine): aiomqtt 2.5 (paho-mqtt)
leaves 0.38-0.54 of this client's rate, so it cannot keep up; gmqtt 0.8 is on a par at QoS 0 (0.84-1.25, within
the noise), but acknowledges a QoS 1 message after its handler only from one task per message and cannot stop
reading for back-pressure, both of which the connector needs.

What it does:

* CONNECT (3.1) with Clean Start, Session Expiry Interval, Receive Maximum, a Will (topic, payload, QoS,
  retain), user name and password, keep alive; CONNACK (3.2) with its reason code and Session Present; the
  server's Server Keep Alive, Maximum QoS and Maximum Packet Size are honoured.
* SUBSCRIBE / SUBACK (3.8, 3.9) with a reason code per filter.
* PUBLISH received at QoS 0 and 1 (3.3), acknowledged by PUBACK (3.4) when the application says so
  (``ack``), several in one write.  The client allows no topic aliases (Topic Alias Maximum absent, so 0) and
  subscribes at QoS 1 at most, so a PUBLISH with a topic alias or at QoS 2 is a protocol error (4.13): the
  client closes the connection with reason 0x82 and the application reconnects.
* PUBLISH sent at QoS 0 and 1, retained or not; a QoS 1 publish returns a future that its PUBACK resolves.  No
  more QoS 1 messages are in flight than the server's Receive Maximum (3.2.2.3.3, 4.9): the others wait, in
  order with the QoS 0 messages sent after them, until a PUBACK frees a place.
* PINGREQ every keep alive interval without another packet sent, also while reading is paused; no packet from
  the server for 1.5 keep alive intervals (while reading) closes the connection (3.1.2.10).
* DISCONNECT (3.14) both ways, with the reason code named.

``LoopThread`` runs the client for a caller without an event loop of its own (a thread-based program such as the
edge node's callers): the connection lives on the thread's loop, and the caller hands it work in order.

Flow control: while the application holds more than ``high_water`` received messages, the client stops reading
the socket (TCP pushes back to the broker), and reads again below ``high_water / 2``.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import ssl
import struct
import threading
import time
from collections import deque
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

# Control packet types (2.1.2).
CONNECT, CONNACK, PUBLISH, PUBACK, PUBREC, PUBREL, PUBCOMP = 1, 2, 3, 4, 5, 6, 7
SUBSCRIBE, SUBACK, UNSUBSCRIBE, UNSUBACK, PINGREQ, PINGRESP, DISCONNECT, AUTH = 8, 9, 10, 11, 12, 13, 14, 15
MAX_REMAINING_LENGTH = 268_435_455  # four bytes of Variable Byte Integer (1.5.5)

# Property identifiers (2.2.2.2) and how each is encoded.
_BYTE, _TWO, _FOUR, _VARINT, _UTF8, _BINARY, _PAIR = range(7)
PROPERTY_TYPES = {
    0x01: _BYTE,  # Payload Format Indicator
    0x02: _FOUR,  # Message Expiry Interval
    0x03: _UTF8,  # Content Type
    0x08: _UTF8,  # Response Topic
    0x09: _BINARY,  # Correlation Data
    0x0B: _VARINT,  # Subscription Identifier
    0x11: _FOUR,  # Session Expiry Interval
    0x12: _UTF8,  # Assigned Client Identifier
    0x13: _TWO,  # Server Keep Alive
    0x15: _UTF8,  # Authentication Method
    0x16: _BINARY,  # Authentication Data
    0x17: _BYTE,  # Request Problem Information
    0x18: _FOUR,  # Will Delay Interval
    0x19: _BYTE,  # Request Response Information
    0x1A: _UTF8,  # Response Information
    0x1C: _UTF8,  # Server Reference
    0x1F: _UTF8,  # Reason String
    0x21: _TWO,  # Receive Maximum
    0x22: _TWO,  # Topic Alias Maximum
    0x23: _TWO,  # Topic Alias
    0x24: _BYTE,  # Maximum QoS
    0x25: _BYTE,  # Retain Available
    0x26: _PAIR,  # User Property
    0x27: _FOUR,  # Maximum Packet Size
    0x28: _BYTE,  # Wildcard Subscription Available
    0x29: _BYTE,  # Subscription Identifier Available
    0x2A: _BYTE,  # Shared Subscription Available
}
SESSION_EXPIRY, ASSIGNED_CLIENT_ID, SERVER_KEEP_ALIVE, REASON_STRING = 0x11, 0x12, 0x13, 0x1F
RECEIVE_MAXIMUM, TOPIC_ALIAS, MAXIMUM_QOS, RETAIN_AVAILABLE, MAXIMUM_PACKET_SIZE = 0x21, 0x23, 0x24, 0x25, 0x27

# Reason codes (2.4) as the standard names them.
REASONS = {
    0x00: "Success",
    0x01: "Granted QoS 1",
    0x02: "Granted QoS 2",
    0x04: "Disconnect with Will Message",
    0x10: "No matching subscribers",
    0x80: "Unspecified error",
    0x81: "Malformed Packet",
    0x82: "Protocol Error",
    0x83: "Implementation specific error",
    0x84: "Unsupported Protocol Version",
    0x85: "Client Identifier not valid",
    0x86: "Bad User Name or Password",
    0x87: "Not authorized",
    0x88: "Server unavailable",
    0x89: "Server busy",
    0x8A: "Banned",
    0x8B: "Server shutting down",
    0x8C: "Bad authentication method",
    0x8D: "Keep Alive timeout",
    0x8E: "Session taken over",
    0x8F: "Topic Filter invalid",
    0x90: "Topic Name invalid",
    0x91: "Packet Identifier in use",
    0x93: "Receive Maximum exceeded",
    0x94: "Topic Alias invalid",
    0x95: "Packet too large",
    0x96: "Message rate too high",
    0x97: "Quota exceeded",
    0x98: "Administrative action",
    0x99: "Payload format invalid",
    0x9A: "Retain not supported",
    0x9B: "QoS not supported",
    0x9C: "Use another server",
    0x9D: "Server moved",
    0x9E: "Shared Subscriptions not supported",
    0x9F: "Connection rate exceeded",
    0xA0: "Maximum connect time",
    0xA1: "Subscription Identifiers not supported",
    0xA2: "Wildcard Subscriptions not supported",
}
_H = struct.Struct(">H")
_L = struct.Struct(">L")


def reason_text(code: int) -> str:
    return f"{REASONS.get(code, 'reason code')} (0x{code:02X})"


class MqttProtocolError(ValueError):
    """Bytes from the server that break the MQTT v5 standard; the message says how."""


class MqttRefused(ConnectionError):
    """The server refused the connection (a CONNACK reason code of 0x80 or more)."""

    def __init__(self, code: int, reason: str | None = None):
        self.code = code
        super().__init__(reason_text(code) + (f": {reason}" if reason else ""))


# -- encoding ---------------------------------------------------------------------------------------------------
def encode_varint(value: int) -> bytes:
    """A Variable Byte Integer (1.5.5): seven bits a byte, least significant first, 0..268,435,455."""
    if not 0 <= value <= MAX_REMAINING_LENGTH:
        raise ValueError(f"{value} does not fit a Variable Byte Integer (0..{MAX_REMAINING_LENGTH})")
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | 0x80 if value else byte)
        if not value:
            return bytes(out)


def decode_varint(data: bytes | bytearray | memoryview, pos: int = 0) -> tuple[int, int] | None:
    """The Variable Byte Integer at ``pos`` and the position after it; None when the bytes end before it does."""
    value, shift = 0, 0
    for i in range(pos, min(pos + 4, len(data))):
        byte = data[i]
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, i + 1
        shift += 7
    if len(data) - pos >= 4:
        raise MqttProtocolError("a Variable Byte Integer longer than four bytes")
    return None


def utf8(text: str) -> bytes:
    """A UTF-8 Encoded String (1.5.4): two-byte length, then the bytes."""
    raw = text.encode("utf-8")
    if len(raw) > 0xFFFF:
        raise ValueError(f"a string of {len(raw)} bytes is longer than MQTT allows (65,535)")
    return _H.pack(len(raw)) + raw


def binary(data: bytes) -> bytes:
    if len(data) > 0xFFFF:
        raise ValueError(f"binary data of {len(data)} bytes is longer than MQTT allows (65,535)")
    return _H.pack(len(data)) + bytes(data)


def _packet(first_byte: int, body: bytes) -> bytes:
    return bytes([first_byte]) + encode_varint(len(body)) + body


def _properties(items: list[tuple[int, bytes]]) -> bytes:
    body = b"".join(bytes([ident]) + value for ident, value in items)
    return encode_varint(len(body)) + body


@dataclass(frozen=True)
class Will:
    """The message the server publishes when the connection ends without a normal DISCONNECT (3.1.2.5)."""

    topic: str
    payload: bytes
    qos: int = 0
    retain: bool = False


def connect_packet(
    client_id: str,
    keepalive_s: int,
    clean_start: bool,
    session_expiry_s: int = 0,
    will: Will | None = None,
    username: str | None = None,
    password: str | None = None,
    receive_maximum: int = 65535,
) -> bytes:
    """CONNECT (3.1)."""
    if not 0 <= keepalive_s <= 0xFFFF:
        raise ValueError(f"keep alive {keepalive_s} s is outside 0..65535")
    flags = 0x02 if clean_start else 0
    if will is not None:
        if will.qos not in (0, 1, 2):
            raise ValueError(f"will QoS {will.qos} is not 0, 1 or 2")
        flags |= 0x04 | will.qos << 3 | (0x20 if will.retain else 0)
    if username is not None:
        flags |= 0x80
    if password is not None:
        flags |= 0x40
    props = []
    if session_expiry_s:
        props.append((SESSION_EXPIRY, _L.pack(session_expiry_s)))
    if receive_maximum != 65535:
        props.append((RECEIVE_MAXIMUM, _H.pack(receive_maximum)))
    body = utf8("MQTT") + bytes([5, flags]) + _H.pack(keepalive_s) + _properties(props) + utf8(client_id)
    if will is not None:
        body += _properties([]) + utf8(will.topic) + binary(will.payload)
    if username is not None:
        body += utf8(username)
    if password is not None:
        body += binary(password.encode("utf-8"))
    return _packet(CONNECT << 4, body)


def publish_packet(topic: str, payload: bytes, qos: int = 0, retain: bool = False, packet_id: int = 0) -> bytes:
    """PUBLISH (3.3) without properties."""
    if qos not in (0, 1):
        raise ValueError(f"this client publishes at QoS 0 or 1, not {qos}")
    head = utf8(topic) + (_H.pack(packet_id) if qos else b"")
    return _packet(PUBLISH << 4 | qos << 1 | (1 if retain else 0), head + b"\x00" + bytes(payload))


def puback_packets(packet_ids: list[int]) -> bytes:
    """PUBACK (3.4) for each id, success: the reason code and properties may be left out (3.4.2.1)."""
    return b"".join(b"\x40\x02" + _H.pack(i) for i in packet_ids)


def subscribe_packet(packet_id: int, filters: list[tuple[str, int]]) -> bytes:
    """SUBSCRIBE (3.8): each filter with its maximum QoS; retained messages are sent on subscribing."""
    if not filters:
        raise ValueError("SUBSCRIBE needs at least one topic filter")
    body = _H.pack(packet_id) + _properties([])
    for topic_filter, qos in filters:
        if qos not in (0, 1, 2):
            raise ValueError(f"subscription QoS {qos} is not 0, 1 or 2")
        body += utf8(topic_filter) + bytes([qos])
    return _packet(SUBSCRIBE << 4 | 0x02, body)


PINGREQ_PACKET = b"\xc0\x00"


def disconnect_packet(reason: int = 0x00) -> bytes:
    return b"\xe0\x00" if reason == 0 else bytes([0xE0, 1, reason])


# -- decoding ---------------------------------------------------------------------------------------------------
def parse_properties(data: bytes | memoryview, pos: int) -> tuple[dict[int, Any], int]:
    """The property list at ``pos`` (2.2.2) as {identifier: value}, and the position after it."""
    found = decode_varint(data, pos)
    if found is None:
        raise MqttProtocolError("properties cut short")
    length, pos = found
    end = pos + length
    if end > len(data):
        raise MqttProtocolError("properties longer than the packet")
    props: dict[int, Any] = {}
    while pos < end:
        ident = data[pos]
        kind = PROPERTY_TYPES.get(ident)
        pos += 1
        if kind is None:
            raise MqttProtocolError(f"unknown property identifier 0x{ident:02X}")
        if kind == _BYTE:
            value, pos = data[pos], pos + 1
        elif kind == _TWO:
            value, pos = _H.unpack_from(data, pos)[0], pos + 2
        elif kind == _FOUR:
            value, pos = _L.unpack_from(data, pos)[0], pos + 4
        elif kind == _VARINT:
            got = decode_varint(data, pos)
            if got is None:
                raise MqttProtocolError("a property cut short")
            value, pos = got
        else:
            value, pos = _read_string(data, pos, kind == _UTF8)
            if kind == _PAIR:
                second, pos = _read_string(data, pos, True)
                value = (value, second)
        if pos > end:
            raise MqttProtocolError(f"property 0x{ident:02X} runs past the property list")
        if ident in (0x26, 0x0B):
            props.setdefault(ident, []).append(value)
        elif ident in props:
            raise MqttProtocolError(f"property 0x{ident:02X} appears twice")
        else:
            props[ident] = value
    return props, end


def _read_string(data: bytes | memoryview, pos: int, text: bool) -> tuple[Any, int]:
    if pos + 2 > len(data):
        raise MqttProtocolError("a string cut short")
    (length,) = _H.unpack_from(data, pos)
    start, pos = pos + 2, pos + 2 + length
    if pos > len(data):
        raise MqttProtocolError("a string longer than the packet")
    raw = bytes(data[start:pos])
    if not text:
        return raw, pos
    try:
        return raw.decode("utf-8"), pos
    except UnicodeDecodeError:
        raise MqttProtocolError("a string that is not UTF-8") from None


@dataclass(slots=True)
class Message:
    """A received PUBLISH.  ``mid`` is its packet identifier (0 at QoS 0), to acknowledge it with."""

    topic: str
    payload: bytes
    qos: int
    retain: bool
    mid: int
    dup: bool = False


def parse_publish(flags: int, body: bytes) -> Message:
    """PUBLISH (3.3) from its fixed-header flags and the rest of the packet."""
    qos = (flags >> 1) & 0x03
    if qos > 1:
        raise MqttProtocolError(f"a PUBLISH at QoS {qos}: this client subscribes at QoS 1 at most")
    if len(body) < 3:
        raise MqttProtocolError("a PUBLISH too short for its topic")
    (length,) = _H.unpack_from(body, 0)
    pos = 2 + length
    try:
        topic = body[2:pos].decode("utf-8")
    except UnicodeDecodeError:
        raise MqttProtocolError("a PUBLISH topic that is not UTF-8") from None
    mid = 0
    if qos:
        if pos + 2 > len(body):
            raise MqttProtocolError("a QoS 1 PUBLISH without its packet identifier")
        (mid,) = _H.unpack_from(body, pos)
        pos += 2
    if pos < len(body) and body[pos] == 0:
        pos += 1  # no properties: the common case
    else:
        props, pos = parse_properties(body, pos)
        if TOPIC_ALIAS in props:
            raise MqttProtocolError("a PUBLISH with a topic alias: this client allows none (Topic Alias Maximum 0)")
    if not topic or "+" in topic or "#" in topic:
        raise MqttProtocolError(f"a PUBLISH to {topic!r}, which is not a topic name")
    return Message(topic, body[pos:], qos, bool(flags & 0x01), mid, bool(flags & 0x08))


@dataclass(frozen=True)
class Connack:
    session_present: bool
    reason: int
    properties: dict[int, Any]


def parse_connack(body: bytes) -> Connack:
    if len(body) < 2:
        raise MqttProtocolError("a CONNACK too short")
    props, _ = parse_properties(body, 2) if len(body) > 2 else ({}, 2)
    return Connack(bool(body[0] & 0x01), body[1], props)


def parse_ack(body: bytes) -> tuple[int, list[int], dict[int, Any]]:
    """PUBACK / SUBACK: the packet identifier, the reason code(s) and the properties."""
    if len(body) < 2:
        raise MqttProtocolError("an acknowledgement without its packet identifier")
    (packet_id,) = _H.unpack_from(body, 0)
    if len(body) == 2:
        return packet_id, [0], {}
    if len(body) == 3:
        return packet_id, [body[2]], {}
    props, pos = parse_properties(body, 3)
    return packet_id, [body[2]], props


def parse_suback(body: bytes) -> tuple[int, list[int]]:
    if len(body) < 3:
        raise MqttProtocolError("a SUBACK too short")
    (packet_id,) = _H.unpack_from(body, 0)
    _, pos = parse_properties(body, 2)
    return packet_id, list(body[pos:])


class PacketReader:
    """Splits a byte stream into control packets: ``feed`` bytes, get ``(type, flags, body)`` for each whole one."""

    def __init__(self, max_packet: int = MAX_REMAINING_LENGTH + 5):
        self._buf = bytearray()
        self.max_packet = max_packet

    def feed(self, data: bytes) -> list[tuple[int, int, bytes]]:
        buf = self._buf
        buf += data
        out = []
        pos, size = 0, len(buf)
        while size - pos >= 2:
            found = decode_varint(buf, pos + 1)
            if found is None:
                break
            length, start = found
            end = start + length
            if end - pos > self.max_packet:
                raise MqttProtocolError(f"a packet of {end - pos} bytes is larger than the {self.max_packet} allowed")
            if end > size:
                break
            first = buf[pos]
            out.append((first >> 4, first & 0x0F, bytes(buf[start:end])))
            pos = end
        if pos:
            del buf[:pos]
        return out


def topic_matches(topic_filter: str, topic: str) -> bool:
    """Whether a topic name matches a topic filter (4.7): ``+`` one level, ``#`` the rest (and the parent), and
    no wildcard first level matches a topic starting with ``$`` (4.7.2)."""
    if topic.startswith("$") and topic_filter[:1] in ("+", "#"):
        return False
    if topic_filter.startswith("$share/"):
        topic_filter = topic_filter.split("/", 2)[2] if topic_filter.count("/") >= 2 else ""
    f_levels, t_levels = topic_filter.split("/"), topic.split("/")
    for i, level in enumerate(f_levels):
        if level == "#":
            return True
        if i >= len(t_levels):
            return False
        if level != "+" and level != t_levels[i]:
            return False
    return len(f_levels) == len(t_levels)


# -- the connection ---------------------------------------------------------------------------------------------
class MqttLink(asyncio.Protocol):
    """One MQTT v5 connection on the event loop.  Made by ``connect``; ``closed`` resolves with the reason it
    ended.  ``on_message`` is called on the event loop for every received PUBLISH, in order."""

    def __init__(
        self,
        on_message: Callable[[Message], None],
        keepalive_s: int,
        high_water: int | None = None,
        held: Callable[[], int] | None = None,
        on_connack: Callable[[Connack], None] | None = None,
    ):
        self.on_message = on_message
        self.on_connack = on_connack
        self.keepalive_s = keepalive_s
        self.high_water = high_water
        self.held = held
        self.transport: asyncio.Transport | None = None
        self.session_present = False
        self.server: dict[int, Any] = {}
        self.max_qos = 1
        self.max_packet: int | None = None
        self.receive_maximum = 65535  # the server's: QoS 1 messages in flight at most (3.2.2.3.3)
        self.retain_available = True
        self._in_flight = 0  # QoS 1 messages sent and not yet acknowledged
        self._outbox: deque[bytes] = deque()  # PUBLISH packets waiting for a place in flight, in order
        self._reader = PacketReader()
        loop = asyncio.get_running_loop()
        self._connack: asyncio.Future[Connack] = loop.create_future()
        self.closed: asyncio.Future[str] = loop.create_future()
        self._waiting: dict[tuple[int, int], asyncio.Future[Any]] = {}  # (packet type, id) -> future
        self._next_id = 0
        self._sent_at = self._received_at = time.monotonic()
        self._paused = False
        self._pinger: asyncio.Task[None] | None = None
        self.disconnect_code: int | None = None  # the reason code of the server's DISCONNECT, if it sent one
        self.closed_by_server = False  # the server ended the connection (a DISCONNECT, or closing the socket)
        self._closing = False

    # asyncio.Protocol
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self._received_at = time.monotonic()
        try:
            packets = self._reader.feed(data)
            for kind, flags, body in packets:
                if kind == PUBLISH:
                    self.on_message(parse_publish(flags, body))
                else:
                    self._control(kind, flags, body)
        except MqttProtocolError as exc:
            self.close(f"protocol error from the server: {exc}", 0x82)
            return
        except (struct.error, IndexError) as exc:  # a packet shorter than its own fields say
            self.close(f"malformed packet from the server: {exc}", 0x81)
            return
        if self.high_water is not None and self.held is not None and self.held() > self.high_water:
            self.pause()

    def connection_lost(self, exc: Exception | None) -> None:
        if not self._closing and exc is None:
            self.closed_by_server = True
        self._end(f"connection lost: {exc}" if exc else "connection closed by the server")

    def eof_received(self) -> bool | None:
        if not self._closing:
            self.closed_by_server = True
        self._end("connection closed by the server")
        return None

    # control packets
    def _control(self, kind: int, flags: int, body: bytes) -> None:
        if kind == CONNACK:
            if self._connack.done():
                raise MqttProtocolError("a second CONNACK")
            ack = parse_connack(body)
            self._connack.set_result(ack)
            if ack.reason < 0x80 and self.on_connack is not None:
                self.on_connack(ack)  # before any PUBLISH that came with it
        elif kind in (PUBACK, SUBACK):
            packet_id, codes = parse_suback(body) if kind == SUBACK else parse_ack(body)[:2]
            fut = self._waiting.pop((kind, packet_id), None)
            if kind == PUBACK and fut is not None:
                self._in_flight -= 1
                self._send_waiting()
            if fut is not None and not fut.done():
                fut.set_result(codes)
        elif kind == PINGRESP:
            pass
        elif kind == DISCONNECT:
            code = body[0] if body else 0
            self.disconnect_code = code
            self.closed_by_server = True
            reason = ""
            if len(body) > 1:
                props, _ = parse_properties(body, 1)
                reason = f": {props[REASON_STRING]}" if REASON_STRING in props else ""
            self.close(f"the server disconnected: {reason_text(code)}{reason}", None)
        else:
            raise MqttProtocolError(f"an unexpected control packet of type {kind}")

    # sending
    def _write(self, data: bytes) -> None:
        if self.transport is None or self.transport.is_closing():
            raise ConnectionError("the connection is closed")
        if self.max_packet is not None and len(data) > self.max_packet:
            raise ValueError(f"a packet of {len(data)} bytes is larger than the server accepts ({self.max_packet})")
        self.transport.write(data)
        self._sent_at = time.monotonic()

    def _packet_id(self, kind: int) -> int:
        for _ in range(0xFFFF):
            self._next_id = self._next_id % 0xFFFF + 1
            if (kind, self._next_id) not in self._waiting:
                return self._next_id
        raise ConnectionError("every packet identifier is in use")

    @property
    def is_open(self) -> bool:
        return self.transport is not None and not self.transport.is_closing() and not self.closed.done()

    def publish(self, topic: str, payload: bytes | str, qos: int = 0, retain: bool = False) -> asyncio.Future | None:
        """Send a PUBLISH; for QoS 1 a future that the server's PUBACK resolves with its reason codes.

        With ``receive_maximum`` QoS 1 messages in flight, the message waits (and so does every QoS 0 message
        after it, to keep the order) until a PUBACK frees a place (4.9).  A retained message to a server without
        Retain Available is refused here (3.2.2.3.5): the server would close the connection."""
        if not self.is_open:
            raise ConnectionError("the connection is closed")
        if retain and not self.retain_available:
            raise ValueError("the server does not support retained messages (Retain Available 0)")
        data = payload.encode("utf-8") if isinstance(payload, str) else payload
        qos = min(qos, self.max_qos)
        if qos == 0:
            packet = publish_packet(topic, data, 0, retain)
            self._check_size(packet)
            if self._outbox:
                self._outbox.append(packet)
            else:
                self._write(packet)
            return None
        packet_id = self._packet_id(PUBACK)
        packet = publish_packet(topic, data, 1, retain, packet_id)
        self._check_size(packet)
        fut = asyncio.get_running_loop().create_future()
        self._waiting[(PUBACK, packet_id)] = fut
        if self._outbox or self._in_flight >= self.receive_maximum:
            self._outbox.append(packet)
        else:
            self._in_flight += 1
            self._write(packet)
        return fut

    @property
    def waiting(self) -> int:
        """Messages held back by the server's Receive Maximum, not yet written."""
        return len(self._outbox)

    def _check_size(self, packet: bytes) -> None:
        if self.max_packet is not None and len(packet) > self.max_packet:
            raise ValueError(f"a packet of {len(packet)} bytes is larger than the server accepts ({self.max_packet})")

    def _send_waiting(self) -> None:
        """Write the held-back messages that now have a place in flight (a QoS 0 one needs none)."""
        out = self._outbox
        while out and self.is_open:
            qos = (out[0][0] >> 1) & 0x03
            if qos and self._in_flight >= self.receive_maximum:
                return
            if qos:
                self._in_flight += 1
            self._write(out.popleft())

    def ack(self, packet_ids: list[int]) -> None:
        """Acknowledge received QoS 1 messages (one write for all of them)."""
        if packet_ids and self.is_open:
            self._write(puback_packets(packet_ids))

    async def subscribe(self, filters: list[tuple[str, int]], timeout_s: float = 10.0) -> list[int]:
        """Subscribe; the server's reason code for each filter (0-2 granted QoS, 0x80 and up refused)."""
        packet_id = self._packet_id(SUBACK)
        fut = asyncio.get_running_loop().create_future()
        self._waiting[(SUBACK, packet_id)] = fut
        self._write(subscribe_packet(packet_id, filters))
        async with asyncio.timeout(timeout_s):
            codes = await asyncio.shield(fut)
        if len(codes) != len(filters):
            raise MqttProtocolError(f"a SUBACK with {len(codes)} reason codes for {len(filters)} filters")
        return codes

    def pause(self) -> None:
        if not self._paused and self.transport is not None:
            self._paused = True
            self.transport.pause_reading()

    def resume(self) -> None:
        if self._paused and self.transport is not None and not self.transport.is_closing():
            self._paused = False
            self._received_at = time.monotonic()  # the server could not be heard while we did not read
            self.transport.resume_reading()

    def disconnect(self) -> None:
        """A normal DISCONNECT: the server discards the Will."""
        if self.is_open:
            self._write(disconnect_packet(0))
        self.close("disconnected", None)

    def close(self, reason: str, code: int | None = 0x82) -> None:
        """Close the connection (after a DISCONNECT with ``code``, when given)."""
        self._closing = True
        if self.transport is not None and not self.transport.is_closing():
            if code is not None:
                try:
                    self.transport.write(disconnect_packet(code))
                except (OSError, RuntimeError):
                    pass
            self.transport.close()
        self._end(reason)

    def _end(self, reason: str) -> None:
        if self._pinger is not None:
            self._pinger.cancel()
        if not self.closed.done():
            self.closed.set_result(reason)
        error = ConnectionError(reason)
        if not self._connack.done():
            self._connack.set_exception(error)
            self._connack.exception()  # retrieved: nobody may be waiting any more
        for fut in self._waiting.values():
            if not fut.done():
                fut.set_exception(error)
                fut.exception()
        self._waiting.clear()
        self._outbox.clear()
        self._in_flight = 0

    async def _keep_alive(self) -> None:
        """PINGREQ when we have sent nothing for 3/4 of the interval or heard nothing for half of it; the link is
        dead after 1.5 intervals without a packet from the server (3.1.2.10).

        While reading is paused for back-pressure the pings still go out: the server closes a connection that
        sends nothing for 1.5 keep-alive intervals, and a slow store (a backlog longer than the keep-alive) must
        not cost the session and its QoS 0 messages.  The server's answers wait in the socket meanwhile, so only
        then is silence from the server not taken for a dead link."""
        interval = self.keepalive_s
        pinged = 0.0
        while True:
            await asyncio.sleep(min(interval / 4, 1.0))
            now = time.monotonic()
            if not self._paused and now - self._received_at > interval * 1.5:
                self.close(f"no packet from the server for {interval * 1.5:g} s (keep alive)", None)
                return
            quiet = now - self._sent_at >= interval * 0.75 or now - self._received_at >= interval * 0.5
            if quiet and now - pinged >= interval * 0.5:
                try:
                    self._write(PINGREQ_PACKET)
                except ConnectionError:
                    return
                pinged = now


async def connect(
    host: str,
    port: int,
    connect: bytes,
    on_message: Callable[[Message], None],
    keepalive_s: int,
    *,
    tls: bool = False,
    timeout_s: float = 10.0,
    high_water: int | None = None,
    held: Callable[[], int] | None = None,
    on_connack: Callable[[Connack], None] | None = None,
) -> MqttLink:
    """Open the connection, send ``connect`` (a CONNECT packet) and wait for the CONNACK.

    ``on_connack`` is called with an accepting CONNACK as it is read, before any message that follows it (a
    server resends a persistent session's messages right after it).  Raises ``MqttRefused`` for a refusal,
    ``OSError`` or ``TimeoutError`` when the server cannot be reached."""
    loop = asyncio.get_running_loop()
    link = MqttLink(on_message, keepalive_s, high_water, held, on_connack)
    context = ssl.create_default_context() if tls else None
    async with asyncio.timeout(timeout_s):
        transport, _ = await loop.create_connection(lambda: link, host, port, ssl=context)
        try:
            link._write(connect)
            ack = await link._connack
        except BaseException:
            transport.close()
            raise
    if ack.reason >= 0x80:
        transport.close()
        raise MqttRefused(ack.reason, ack.properties.get(REASON_STRING))
    link.session_present = ack.session_present
    link.server = ack.properties
    link.max_qos = ack.properties.get(MAXIMUM_QOS, 2)
    link.max_packet = ack.properties.get(MAXIMUM_PACKET_SIZE)
    link.receive_maximum = ack.properties.get(RECEIVE_MAXIMUM, 65535)
    link.retain_available = bool(ack.properties.get(RETAIN_AVAILABLE, 1))
    if SERVER_KEEP_ALIVE in ack.properties:  # the server's value stands (3.2.2.3.14)
        link.keepalive_s = ack.properties[SERVER_KEEP_ALIVE]
    if link.keepalive_s:
        link._pinger = asyncio.create_task(link._keep_alive(), name="mqtt-keepalive")
    return link


# -- for thread-based callers -----------------------------------------------------------------------------------
class LoopThread:
    """An event loop in a daemon thread of its own, for a caller that has none: the MQTT connection is made and
    used on it, and the caller, from any thread, hands it work.  ``call`` runs a function on the loop, in the
    order of the calls (one FIFO queue, also for calls made on the loop thread itself); ``submit`` / ``run`` a
    coroutine (``run`` waits for its result).  ``close`` cancels what still runs and ends the thread."""

    def __init__(self, name: str = "mqtt-client"):
        self.loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._main, name=name, daemon=True)
        self._thread.start()
        self._ready.wait()

    def _main(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.call_soon(self._ready.set)
        try:
            self.loop.run_forever()
            tasks = [t for t in asyncio.all_tasks(self.loop) if not t.done()]
            for task in tasks:
                task.cancel()
            if tasks:
                self.loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))
            self.loop.run_until_complete(self.loop.shutdown_asyncgens())
        finally:
            self.loop.close()

    @property
    def in_thread(self) -> bool:
        """Whether the caller is the loop's own thread (where ``run`` would wait for itself)."""
        return threading.current_thread() is self._thread

    @property
    def running(self) -> bool:
        return self._thread.is_alive() and not self.loop.is_closed()

    def call(self, function: Callable[..., Any], *args: Any) -> None:
        """Run ``function(*args)`` on the loop, after every call made before."""
        self.loop.call_soon_threadsafe(function, *args)

    def submit(self, coro: Coroutine[Any, Any, Any]) -> concurrent.futures.Future:
        return asyncio.run_coroutine_threadsafe(coro, self.loop)

    def run(self, coro: Coroutine[Any, Any, Any], timeout_s: float | None = None) -> Any:
        """Run a coroutine on the loop and wait for its result (or its exception) from another thread."""
        if self.in_thread:
            coro.close()
            raise RuntimeError("LoopThread.run from the loop's own thread would wait for itself")
        future = self.submit(coro)
        try:
            return future.result(timeout_s)
        except concurrent.futures.TimeoutError:
            future.cancel()
            raise TimeoutError(f"no result within {timeout_s} s") from None

    def close(self, timeout_s: float = 10.0) -> None:
        """Stop the loop (its tasks are cancelled) and wait for the thread, unless called from it."""
        if self.loop.is_closed():
            return
        try:
            self.loop.call_soon_threadsafe(self.loop.stop)
        except RuntimeError:  # closed meanwhile
            return
        if not self.in_thread:
            self._thread.join(timeout_s)
