"""Sparkplug B 3.0: topics, payload values with the specification's array vectors (errata corrected),
and the host's sequence, bdSeq, alias and rebirth rules (reference README section 6)."""

from datetime import datetime, timedelta, timezone

import pytest

from shopfloor.connectors.base import Quality
from shopfloor.connectors.sparkplug.codec import (
    DT,
    SparkplugError,
    decode_array,
    encode_array,
    metric_value,
    parse_topic,
    set_metric_value,
)
from shopfloor.connectors.sparkplug.host import REBIRTH_METRIC, SparkplugHost
from shopfloor.connectors.sparkplug.schema import Payload

T0 = datetime(2026, 3, 2, tzinfo=timezone.utc)


def test_topic_vectors_from_the_specification():
    t = parse_topic("spBv1.0/Sparkplug B Devices/NBIRTH/Raspberry Pi")
    assert (t.group, t.message_type, t.edge_node, t.device) == ("Sparkplug B Devices", "NBIRTH", "Raspberry Pi", None)
    t = parse_topic("spBv1.0/Sparkplug B Devices/DBIRTH/Raspberry Pi/Pibrella")
    assert t.device == "Pibrella"
    assert parse_topic("spBv1.0/STATE/scada-1").host_id == "scada-1"
    for bad in (
        "spBv1.0/G/DDATA/E",
        "spBv1.0/G/NDATA/E/D",
        "spBv1.0/G/XDATA/E",
        "spAv1.0/G/NDATA/E",
        "spBv1.0/G+/NDATA/E",
    ):
        with pytest.raises(SparkplugError):
            parse_topic(bad)


@pytest.mark.parametrize(
    "dtype, values, hex_le",
    [
        ("Int8Array", [-23, 123], "E9 7B"),  # the specification prints EF 7B (erratum)
        ("Int16Array", [-30000, 30000], "D0 8A 30 75"),
        ("Int32Array", [123456789, 987654321], "15 CD 5B 07 B1 68 DE 3A"),
        ("Int32Array", [-1, 315338746], "FF FF FF FF FA AF CB 12"),
        ("Int64Array", [-4270929666821191986, -3601064768563266876], "CE 06 72 AC 18 9C BA C4 C4 BA 9C 18 AC 72 06 CE"),
        ("UInt8Array", [23, 250], "17 FA"),
        ("UInt16Array", [30, 52360], "1E 00 88 CC"),
        ("UInt32Array", [52, 3293969225], "34 00 00 00 49 FB 55 C4"),
        ("UInt64Array", [52, 16444743074749521625], "34 00 00 00 00 00 00 00 D9 9E 02 D1 B2 76 37 E4"),
        ("DoubleArray", [12.354213, 1022.9123213], "D7 A2 05 68 5B B5 28 40 8E 17 1C 6F 4C F7 8F 40"),
        ("DateTimeArray", [1256102875335, 1656107875000], "C7 D0 90 75 24 01 00 00 B8 BA B8 97 81 01 00 00"),
        ("StringArray", ["ABC", "hello"], "41 42 43 00 68 65 6C 6C 6F 00"),
    ],
)
def test_array_encodings_match_the_specification_vectors(dtype, values, hex_le):
    raw = bytes.fromhex(hex_le.replace(" ", ""))
    assert encode_array(DT[dtype], values) == raw
    assert decode_array(DT[dtype], raw) == values


def test_float_array_vector_little_endian():
    raw = bytes.fromhex("A4709D3F98AEB242")  # the specification prints it big-endian (erratum)
    assert decode_array(DT["FloatArray"], raw) == pytest.approx([1.23, 89.341], rel=1e-6)


def test_boolean_array_is_a_count_then_bits_msb_first():
    values = [False, False, True, True, False, True, False, False, True, True, False, True]
    raw = encode_array(DT["BooleanArray"], values)
    assert raw[:4] == bytes.fromhex("0C000000") and raw[4] == 0x34 and raw[5] & 0xF0 == 0xD0
    assert decode_array(DT["BooleanArray"], raw) == values


def test_signed_scalars_travel_as_twos_complement():
    p = Payload()
    for dtype, value in (
        ("Int8", -5),
        ("Int16", -30000),
        ("Int32", -1),
        ("Int64", -(2**40)),
        ("UInt32", 4e9),
        ("Float", 1.5),
        ("Boolean", True),
        ("String", "READY"),
    ):
        m = p.metrics.add()
        set_metric_value(m, DT[dtype], value)
    decoded = Payload.FromString(p.SerializeToString())
    got = [metric_value(m, m.datatype) for m in decoded.metrics]
    assert got == [-5, -30000, -1, -(2**40), 4_000_000_000, 1.5, True, "READY"]


def _birth(seq=0, bdseq=0, metrics=()):
    p = Payload(timestamp=1486144502122, seq=seq)
    m = p.metrics.add(name="bdSeq")
    set_metric_value(m, DT["Int64"], bdseq)
    m = p.metrics.add(name=REBIRTH_METRIC)
    set_metric_value(m, DT["Boolean"], False)
    return p.SerializeToString()


def _dbirth(seq):
    p = Payload(timestamp=1486144502122, seq=seq)
    for alias, (name, dtype, value) in enumerate((("State", "Int32", 0), ("Power", "Double", 0.0)), start=1):
        m = p.metrics.add(name=name, alias=alias)
        set_metric_value(m, DT[dtype], value)
    return p.SerializeToString()


def _ddata(seq, state):
    p = Payload(timestamp=1486144503000, seq=seq)
    m = p.metrics.add(alias=1)
    m.int_value = state
    return p.SerializeToString()


def _host_with_birth():
    host = SparkplugHost("mqtt", reorder_timeout_s=2.0)
    host.handle(parse_topic("spBv1.0/G/NBIRTH/E"), _birth(seq=0))
    host.handle(parse_topic("spBv1.0/G/DBIRTH/E/WLD-01"), _dbirth(seq=1))
    return host


DDATA = parse_topic("spBv1.0/G/DDATA/E/WLD-01")


def test_sequence_wraps_from_255_to_0():
    host = _host_with_birth()
    seqs, values = [], []
    seq = 2
    for i in range(300):
        out = host.handle(DDATA, _ddata(seq, i))
        assert out.rebirths == []
        values.extend(s.value for s in out.signals)
        seqs.append(seq)
        seq = (seq + 1) % 256
    assert 255 in seqs and seqs[seqs.index(255) + 1] == 0
    assert values == list(range(300))


def test_an_out_of_order_message_is_held_and_applied_in_order():
    host = _host_with_birth()
    assert host.handle(DDATA, _ddata(3, 30)).signals == []  # 2 is missing: held
    out = host.handle(DDATA, _ddata(2, 20), now=T0)
    assert [s.value for s in out.signals] == [20, 30]


def test_a_gap_not_filled_within_the_reorder_timeout_requests_a_rebirth():
    host = _host_with_birth()
    host.handle(DDATA, _ddata(2, 1), now=T0)
    host.handle(DDATA, _ddata(4, 3), now=T0)  # 3 lost
    assert host.check_timeouts(T0 + timedelta(seconds=1)).rebirths == []
    assert host.check_timeouts(T0 + timedelta(seconds=2.5)).rebirths == [("G", "E")]
    out = host.handle(DDATA, _ddata(5, 4), now=T0 + timedelta(seconds=3))
    assert out.signals == [] and out.rebirths == [("G", "E")]  # nothing applied until the new birth


def test_data_before_birth_and_unknown_alias_request_a_rebirth():
    host = SparkplugHost("mqtt")
    assert host.handle(DDATA, _ddata(0, 1)).rebirths == [("G", "E")]
    host = _host_with_birth()
    p = Payload(seq=2)
    p.metrics.add(alias=99).int_value = 1
    out = host.handle(DDATA, p.SerializeToString())
    assert out.rebirths == [("G", "E")] and "unknown alias 99" in out.quarantined[0][1]


def test_ndeath_with_the_current_bdseq_marks_metrics_stale_and_an_old_one_is_ignored():
    host = _host_with_birth()
    old = Payload()
    set_metric_value(old.metrics.add(name="bdSeq"), DT["Int64"], 7)
    assert host.handle(parse_topic("spBv1.0/G/NDEATH/E"), old.SerializeToString()).signals == []
    current = Payload()
    set_metric_value(current.metrics.add(name="bdSeq"), DT["Int64"], 0)
    out = host.handle(parse_topic("spBv1.0/G/NDEATH/E"), current.SerializeToString())
    assert {(s.tag, s.quality) for s in out.signals} == {("State", Quality.STALE), ("Power", Quality.STALE)}


def test_a_malformed_payload_is_quarantined_with_its_reason():
    host = _host_with_birth()
    out = host.handle(DDATA, b"\xff\xff\xff not protobuf")
    assert out.quarantined and "not a Sparkplug B protobuf" in out.quarantined[0][1]
    assert out.rebirths == [("G", "E")]
