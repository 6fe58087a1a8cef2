"""The C reader of plain Sparkplug B DATA payloads (``_plain.plain_columns``) against protobuf's own decoder.

Whatever bytes it is given, the reader either declines (None) or returns exactly what protobuf reads from them;
and it declines only what is not plain.  Encodings from the protobuf encoding guide
(https://protobuf.dev/programming-guides/encoding/): repeated scalar fields (the last wins), a oneof whose last
member wins, varints padded to more bytes than needed, a tenth varint byte with bits beyond 64 (dropped, as
protobuf's decoder drops them), and varints of more than ten bytes (not protobuf).
"""

from __future__ import annotations

import struct

import pytest
from google.protobuf.message import DecodeError
from google.protobuf.unknown_fields import UnknownFieldSet
from hypothesis import given, settings
from hypothesis import strategies as st

from shopfloor.connectors.sparkplug.codec import DT, set_metric_value
from shopfloor.connectors.sparkplug.schema import Payload

_plain = pytest.importorskip(
    "shopfloor.connectors.sparkplug._plain", reason="the C reader (_plain.c) is built at install where a compiler is"
)
plain_columns = _plain.plain_columns
VALUE_FIELDS = ("double_value", "boolean_value", "string_value")
UNDECIDED = object()


def reference(data: bytes):
    """What protobuf reads from ``data``, in plain_columns' form; None where the payload is not plain (or not
    protobuf at all)."""
    p = Payload()
    try:
        p.ParseFromString(data)
    except DecodeError:
        return None
    if len(UnknownFieldSet(p)):
        return None  # a payload extension, or a known field with another wire type
    aliases, stamps, values = [], [], []
    for m in p.metrics:
        if len(UnknownFieldSet(m)) or m.name or not m.HasField("alias") or m.alias == 0:
            return None
        if m.is_transient or m.is_null or m.HasField("metadata") or m.HasField("properties"):
            return None
        kind = m.WhichOneof("value")
        if kind not in VALUE_FIELDS:
            return None
        value = getattr(m, kind)
        if kind == "string_value" and not isinstance(value, str):
            return UNDECIDED  # protobuf gives the bytes of a string that is not UTF-8; the reader declines it
        values.append(value)
        aliases.append(m.alias)
        stamps.append(m.timestamp)
    return (
        p.timestamp if p.HasField("timestamp") else None,
        p.seq if p.HasField("seq") else None,
        aliases,
        stamps,
        values,
    )


def check(data: bytes):
    got, want = plain_columns(data), reference(data)
    if want is UNDECIDED:
        assert got is None
        return got
    if want is not None and got is not None:
        # NaN != NaN: compare floats by their bits
        def key(r):
            return r[:4] + ([struct.pack("<d", v) if isinstance(v, float) else v for v in r[4]],)

        assert key(got) == key(want)
    else:
        assert got == want
    return got


metric_values = st.one_of(
    st.tuples(st.just("Double"), st.floats(allow_nan=True, allow_infinity=True)),
    st.tuples(st.just("Boolean"), st.booleans()),
    st.tuples(st.just("String"), st.text(max_size=6)),
    st.tuples(st.just("Int32"), st.integers(-(2**31), 2**31 - 1)),
    st.tuples(st.just("Int64"), st.integers(-(2**63), 2**63 - 1)),
    st.tuples(st.just("Float"), st.floats(width=32)),
    st.tuples(st.just("Bytes"), st.binary(max_size=4)),
)


@st.composite
def payloads(draw):
    p = Payload()
    if draw(st.booleans()):
        p.timestamp = draw(st.integers(0, 2**64 - 1))
    if draw(st.booleans()):
        p.seq = draw(st.integers(0, 2**64 - 1))
    for _ in range(draw(st.integers(0, 5))):
        m = p.metrics.add()
        if draw(st.integers(0, 9)) == 0:
            m.name = draw(st.sampled_from(["", "Temp"]))
        if draw(st.integers(0, 9)) > 0:
            m.alias = draw(st.sampled_from([0, 1, 7, 300, 2**64 - 1]))
        if draw(st.booleans()):
            m.timestamp = draw(st.integers(0, 2**64 - 1))
        kind, value = draw(metric_values)
        if draw(st.integers(0, 9)) == 0:
            set_metric_value(m, DT[kind], None)  # is_null
        else:
            set_metric_value(m, DT[kind], value)
        twist = draw(st.sampled_from([""] * 6 + ["transient", "historical", "datatype", "properties", "metadata"]))
        if twist == "transient":
            m.is_transient = draw(st.booleans())
        elif twist == "historical":
            m.is_historical = True
        elif twist == "datatype":
            m.datatype = DT[kind]
        elif twist == "properties":
            m.properties.keys.append("Quality")
        elif twist == "metadata":
            m.metadata.is_multi_part = False
    if draw(st.integers(0, 4)) == 0:
        p.uuid = "x"
    if draw(st.integers(0, 4)) == 0:
        p.body = b"\x00"
    return p.SerializeToString()


@settings(max_examples=400, deadline=None)
@given(payloads())
def test_any_payload_is_read_as_protobuf_reads_it_or_declined_when_not_plain(data):
    check(data)


@settings(max_examples=400, deadline=None)
@given(payloads(), st.data())
def test_damaged_bytes_are_declined_or_read_as_protobuf_reads_them(data, draw):
    """Cut short, a byte changed, bytes inserted: never a crash, never a value protobuf would not read."""
    cut = draw.draw(st.integers(0, len(data)))
    check(data[:cut])
    if data:
        i = draw.draw(st.integers(0, len(data) - 1))
        check(data[:i] + bytes([draw.draw(st.integers(0, 255))]) + data[i + 1 :])
        check(data[:i] + draw.draw(st.binary(min_size=1, max_size=3)) + data[i:])


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=64))
def test_random_bytes_are_declined_or_read_as_protobuf_reads_them(data):
    check(data)


def metric_bytes(*fields: bytes) -> bytes:
    body = b"".join(fields)
    return b"\x12" + bytes([len(body)]) + body


ALIAS_5 = b"\x10\x05"
DOUBLE_1_5 = b"\x69" + struct.pack("<d", 1.5)


def test_a_plain_payload_gives_its_columns():
    p = Payload(timestamp=1_700_000_000_000, seq=7)
    for alias, kind, value in [(1, "Double", 21.5), (2, "Boolean", True), (3, "String", "ÄÖ 가")]:
        set_metric_value(p.metrics.add(alias=alias, timestamp=1_700_000_000_001), DT[kind], value)
    set_metric_value(p.metrics.add(alias=4), DT["Double"], -0.0)
    assert check(p.SerializeToString()) == (
        1_700_000_000_000,
        7,
        [1, 2, 3, 4],
        [1_700_000_000_001] * 3 + [0],
        [21.5, True, "ÄÖ 가", -0.0],
    )


def test_the_last_of_repeated_fields_wins_as_in_protobuf():
    twice = metric_bytes(b"\x10\x01", ALIAS_5, DOUBLE_1_5, b"\x69" + struct.pack("<d", 2.5))
    assert check(b"\x18\x01\x18\x02" + twice) == (None, 2, [5], [0], [2.5])
    # a oneof: a boolean after a double leaves the boolean
    assert check(metric_bytes(ALIAS_5, DOUBLE_1_5, b"\x70\x01")) == (None, None, [5], [0], [True])
    # is_null set, then cleared
    assert check(metric_bytes(ALIAS_5, b"\x38\x01\x38\x00", DOUBLE_1_5)) == (None, None, [5], [0], [1.5])


def test_padded_varints_are_read_and_overlong_ones_declined():
    assert check(b"\x18\x85\x80\x80\x00" + metric_bytes(b"\x10\x85\x00", DOUBLE_1_5)) == (None, 5, [5], [0], [1.5])
    assert plain_columns(b"\x18" + b"\x80" * 10 + b"\x01") is None  # eleven bytes
    assert check(b"\x18" + b"\xff" * 9 + b"\x01")[1] == 2**64 - 1
    assert check(b"\x18" + b"\xff" * 9 + b"\x7f")[1] == 2**64 - 1  # bits beyond 64 dropped, as protobuf does


def test_what_is_not_plain_is_declined():
    assert plain_columns(metric_bytes(DOUBLE_1_5)) is None  # no alias
    assert plain_columns(metric_bytes(b"\x10\x00", DOUBLE_1_5)) is None  # alias 0
    assert plain_columns(metric_bytes(b"\x0a\x01T", ALIAS_5, DOUBLE_1_5)) is None  # a name
    assert check(metric_bytes(b"\x0a\x00", ALIAS_5, DOUBLE_1_5)) is not None  # an empty name is none
    assert plain_columns(metric_bytes(ALIAS_5, b"\x58\x01")) is None  # long_value
    assert plain_columns(metric_bytes(ALIAS_5)) is None  # no value
    assert plain_columns(metric_bytes(ALIAS_5, b"\x7a\x02\xc3\x28")) is None  # a string that is not UTF-8
    assert plain_columns(metric_bytes(ALIAS_5, DOUBLE_1_5) + b"\x30\x01") is None  # a payload extension (field 6)
    assert plain_columns(b"\x1a\x01\x00") is None  # seq with the wrong wire type
    assert plain_columns(memoryview(metric_bytes(ALIAS_5, DOUBLE_1_5))) == (None, None, [5], [0], [1.5])
    with pytest.raises(TypeError):
        plain_columns("not bytes")
