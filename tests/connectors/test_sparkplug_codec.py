"""Sparkplug B values: every datatype to and from its protobuf field, the specification's array encodings (with
the printed errata corrected), DataSet, Template and PropertySet decoding, quality codes, the sample NBIRTH.

Sources: Eclipse Sparkplug 3.0, chapter 6 "Payloads", sections "Datatype Details", "Quality Codes", "DataSet",
"Template", "PropertySet" and the NBIRTH example (Sparkplug_6_Payloads.adoc at
https://github.com/eclipse-sparkplug/sparkplug), as summarised in reference README section 6, SPB-02 and SPB-05;
the array vectors and their errata are SPB-02's (checked there with Python ``struct``, little-endian).
"""

import math
import re
import struct
from datetime import datetime, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shopfloor.connectors.base import Quality
from shopfloor.connectors.sparkplug.codec import (
    DT,
    INTEGER_TYPES,
    Table,
    decode_array,
    decode_payload,
    encode_array,
    float32,
    metric_value,
    properties,
    quality_of,
    set_metric_value,
    set_quality,
)
from shopfloor.connectors.sparkplug.errors import PayloadError
from shopfloor.connectors.sparkplug.schema import Payload


def roundtrip(metric):
    """The metric as a receiver sees it: serialised inside a payload and parsed again."""
    payload = Payload()
    payload.metrics.add().CopyFrom(metric)
    return Payload.FromString(payload.SerializeToString()).metrics[0]


@pytest.mark.parametrize(
    "dtype, values, hex_le",
    [
        ("Int8Array", [-23, 123], "E9 7B"),  # the specification prints EF 7B (erratum, SPB-02)
        ("Int16Array", [-30000, 30000], "D0 8A 30 75"),
        ("Int32Array", [123456789, 987654321], "15 CD 5B 07 B1 68 DE 3A"),
        ("Int32Array", [-1, 315338746], "FF FF FF FF FA AF CB 12"),
        ("Int64Array", [-4270929666821191986, -3601064768563266876], "CE 06 72 AC 18 9C BA C4 C4 BA 9C 18 AC 72 06 CE"),
        ("UInt8Array", [23, 250], "17 FA"),
        ("UInt16Array", [30, 52360], "1E 00 88 CC"),
        ("UInt32Array", [52, 3293969225], "34 00 00 00 49 FB 55 C4"),
        ("UInt64Array", [52, 16444743074749521625], "34 00 00 00 00 00 00 00 D9 9E 02 D1 B2 76 37 E4"),
        # printed big-endian in the specification (erratum); little-endian as the text requires:
        ("FloatArray", [1.23, 89.341], "A4 70 9D 3F 98 AE B2 42"),
        ("DoubleArray", [12.354213, 1022.9123213], "D7 A2 05 68 5B B5 28 40 8E 17 1C 6F 4C F7 8F 40"),
        # printed with 12 bytes in the specification (erratum); 8 bytes per value:
        ("DateTimeArray", [1256102875335, 1656107875000], "C7 D0 90 75 24 01 00 00 B8 BA B8 97 81 01 00 00"),
        ("StringArray", ["ABC", "hello"], "41 42 43 00 68 65 6C 6C 6F 00"),
    ],
)
def test_array_encodings_match_the_specification_vectors(dtype, values, hex_le):
    raw = bytes.fromhex(hex_le)
    assert encode_array(DT[dtype], values) == raw
    assert decode_array(DT[dtype], raw) == values


def test_boolean_array_is_a_count_then_bits_most_significant_first():
    values = [False, False, True, True, False, True, False, False, True, True, False, True]
    raw = encode_array(DT["BooleanArray"], values)
    assert raw == bytes.fromhex("0C000000 34 D0")
    # The specification prints the last byte "0xDX": its low nibble is padding the decoder does not read.
    assert decode_array(DT["BooleanArray"], bytes.fromhex("0C000000 34 DF")) == values


def test_array_metrics_travel_in_bytes_value_and_date_times_decode_to_utc():
    m = Payload.Metric(name="stamps")
    set_metric_value(m, DT["DateTimeArray"], [1256102875335, datetime(2022, 6, 24, 22, 11, 15, tzinfo=timezone.utc)])
    m = roundtrip(m)
    assert m.WhichOneof("value") == "bytes_value"
    assert metric_value(m) == [
        datetime(2009, 10, 21, 5, 27, 55, 335000, tzinfo=timezone.utc),
        datetime(2022, 6, 24, 22, 11, 15, tzinfo=timezone.utc),
    ]


@pytest.mark.parametrize(
    "dtype, raw, reason",
    [
        ("BooleanArray", b"\x0c\x00", "shorter than its 4-byte count"),
        ("BooleanArray", bytes.fromhex("0C000000 34"), "needs 2 bytes of bits, not 1"),
        ("StringArray", b"ABC", "not terminated by NUL"),
        ("StringArray", b"\xff\x00", "not UTF-8"),
        ("Int32Array", b"\x01\x02\x03", "not a whole number of 4-byte elements"),
        ("Double", b"", "not an array datatype"),
    ],
)
def test_malformed_arrays_are_refused_with_the_reason(dtype, raw, reason):
    with pytest.raises(PayloadError, match=reason):
        decode_array(DT[dtype], raw)


@pytest.mark.parametrize(
    "dtype, values, reason",
    [
        ("Int8Array", [128], "out of range"),
        ("UInt16Array", [-1], "out of range"),
        ("Int32Array", [1.5], "must be an integer"),
        ("BooleanArray", [1, 0], "must be a boolean"),
        ("StringArray", ["a\x00b"], "without NUL"),
        ("DateTimeArray", [datetime(2024, 1, 1)], "no time zone"),
    ],
)
def test_arrays_that_cannot_be_encoded_are_refused(dtype, values, reason):
    with pytest.raises(PayloadError, match=reason):
        encode_array(DT[dtype], values)


@pytest.mark.parametrize(
    "dtype, value, field",
    [
        ("Int8", -128, "int_value"),
        ("Int16", -30000, "int_value"),
        ("Int32", -1, "int_value"),
        ("Int64", -(2**63), "long_value"),
        ("UInt8", 255, "int_value"),
        ("UInt16", 65535, "int_value"),
        ("UInt32", 4_000_000_000, "int_value"),
        ("UInt64", 2**64 - 1, "long_value"),
        ("Double", 1022.9123213, "double_value"),
        ("Boolean", True, "boolean_value"),
        ("String", "READY", "string_value"),
        ("Text", "a longer text", "string_value"),
        ("UUID", "1c9c5ba4-54b1-4a6b-a86b-2ef09e4b8e41", "string_value"),
        ("Bytes", b"\x00\x01\xff", "bytes_value"),
        ("File", b"%PDF-1.7", "bytes_value"),
    ],
)
def test_scalars_travel_in_the_field_the_specification_names(dtype, value, field):
    m = Payload.Metric(name="x")
    set_metric_value(m, DT[dtype], value)
    m = roundtrip(m)
    assert m.WhichOneof("value") == field
    assert metric_value(m) == value


def test_negative_integers_are_twos_complement_sign_extended_and_also_read_at_their_own_width():
    m = Payload.Metric(name="x", datatype=DT["Int8"])
    set_metric_value(m, DT["Int8"], -5)
    assert m.int_value == 0xFFFFFFFB  # sign-extended to uint32, as Eclipse Tahu writes it
    assert metric_value(Payload.Metric(datatype=DT["Int8"], int_value=0xFB)) == -5
    assert metric_value(Payload.Metric(datatype=DT["Int16"], int_value=0x8AD0)) == -30000
    assert metric_value(Payload.Metric(datatype=DT["Int32"], long_value=2**64 - 1)) == -1
    with pytest.raises(PayloadError, match="does not fit Int8"):
        metric_value(Payload.Metric(name="x", datatype=DT["Int8"], int_value=0x1FB))


def test_unsigned_32_bit_values_are_read_from_long_value_too_and_checked_against_their_width():
    assert metric_value(Payload.Metric(datatype=DT["UInt32"], long_value=4_000_000_000)) == 4_000_000_000
    with pytest.raises(PayloadError, match="256 does not fit UInt8"):
        metric_value(Payload.Metric(name="x", datatype=DT["UInt8"], int_value=256))


def test_float_decodes_to_the_decimal_that_was_sent():
    """Sample NBIRTH metric 'Supply Voltage', Float 12.1: binary32 holds 12.100000381469727."""
    m = Payload.Metric(name="Supply Voltage")
    set_metric_value(m, DT["Float"], 12.1)
    m = roundtrip(m)
    assert m.float_value != 12.1 and metric_value(m) == 12.1


@given(st.floats(width=32, allow_nan=False))
def test_float32_shortest_form_is_the_same_binary32_value(x):
    short = float32(x)
    assert struct.pack("<f", short) == struct.pack("<f", x)
    assert len(repr(short).replace("-", "").replace(".", "").split("e")[0].strip("0")) <= 9


@pytest.mark.parametrize("dtype", sorted(INTEGER_TYPES))
def test_every_integer_type_round_trips_its_whole_range(dtype):
    bits, signed = INTEGER_TYPES[dtype]
    low, high = (-(2 ** (bits - 1)), 2 ** (bits - 1) - 1) if signed else (0, 2**bits - 1)

    @given(st.integers(low, high))
    def check(value):
        m = Payload.Metric(name="x")
        set_metric_value(m, dtype, value)
        assert metric_value(roundtrip(m)) == value

    check()
    for outside in (low - 1, high + 1):
        with pytest.raises(PayloadError, match="outside"):
            set_metric_value(Payload.Metric(name="x"), dtype, outside)


@given(st.sampled_from(sorted(set(DT) & {"Int16Array", "Int64Array", "UInt32Array", "DoubleArray"})), st.data())
def test_numeric_arrays_round_trip(name, data):
    code = {"Int16Array": "h", "Int64Array": "q", "UInt32Array": "I", "DoubleArray": "d"}[name]
    if code == "d":
        element = st.floats(allow_nan=False)
    else:
        size = struct.calcsize(code) * 8
        element = (
            st.integers(-(2 ** (size - 1)), 2 ** (size - 1) - 1) if code.islower() else st.integers(0, 2**size - 1)
        )
    values = data.draw(st.lists(element, max_size=20))
    assert decode_array(DT[name], encode_array(DT[name], values)) == values


@given(
    st.lists(st.booleans(), max_size=40),
    st.lists(st.text(st.characters(blacklist_characters="\x00", blacklist_categories=("Cs",))), max_size=5),
)
def test_boolean_and_string_arrays_round_trip(bools, strings):
    assert decode_array(DT["BooleanArray"], encode_array(DT["BooleanArray"], bools)) == bools
    assert decode_array(DT["StringArray"], encode_array(DT["StringArray"], strings)) == strings


def test_a_string_that_is_not_unicode_text_is_refused():
    with pytest.raises(PayloadError, match="cannot be encoded as UTF-8"):
        encode_array(DT["StringArray"], ["ok", "\ud800"])


def test_date_time_is_milliseconds_since_1970_in_utc():
    m = Payload.Metric(name="t", datatype=DT["DateTime"], long_value=1486144502122)
    assert metric_value(m) == datetime(2017, 2, 3, 17, 55, 2, 122000, tzinfo=timezone.utc)
    with pytest.raises(PayloadError, match="no time zone"):
        set_metric_value(Payload.Metric(name="t"), DT["DateTime"], datetime(2017, 2, 3))


@pytest.mark.parametrize(
    "dtype, value, reason",
    [
        ("Float", 1e39, "too large for a Float"),
        ("Boolean", 1, "not a boolean"),
        ("String", 5, "not a string"),
        ("Int32", 1.5, "not an integer"),
        ("Double", "1.5", "not a number"),
        ("Bytes", "text", "needs bytes"),
        ("Int8Array", 5, "needs a list"),
        ("DataSet", 1, "not a basic datatype"),
    ],
)
def test_values_that_do_not_fit_their_datatype_are_refused(dtype, value, reason):
    with pytest.raises(PayloadError, match=reason):
        set_metric_value(Payload.Metric(name="x"), DT[dtype], value)


def test_a_value_in_the_wrong_field_for_its_datatype_is_refused():
    with pytest.raises(PayloadError, match="metric 'Speed': a Float travels in float_value, not string_value"):
        metric_value(Payload.Metric(name="Speed", datatype=DT["Float"], string_value="12.1"))
    with pytest.raises(PayloadError, match="no value and not marked is_null"):
        metric_value(Payload.Metric(name="x", datatype=DT["Bytes"]))
    with pytest.raises(PayloadError, match="travels in int_value or long_value, not no value field"):
        metric_value(Payload.Metric(name="x", datatype=DT["Int32"]))
    with pytest.raises(PayloadError, match="Unknown in int_value is not a metric value"):
        metric_value(Payload.Metric(name="x", datatype=DT["Unknown"], int_value=1))


def test_null_metrics_decode_to_none():
    m = Payload.Metric(name="x")
    set_metric_value(m, DT["Double"], 3.5)
    set_metric_value(m, DT["Double"], None)
    m = roundtrip(m)
    assert m.is_null and m.WhichOneof("value") is None and metric_value(m) is None


def test_dataset_decodes_to_a_table_of_typed_columns():
    ds = Payload.DataSet(num_of_columns=3, columns=["Int8s", "Floats", "Strings"])
    ds.types.extend([DT["Int8"], DT["Float"], DT["String"]])
    for i8, f, s in ((-1, 1.1, "a"), (127, 2.25, "b")):
        row = ds.rows.add()
        row.elements.add(int_value=i8 & 0xFFFFFFFF)
        row.elements.add(float_value=f)
        row.elements.add(string_value=s)
    m = roundtrip(Payload.Metric(name="Table", datatype=DT["DataSet"], dataset_value=ds))
    assert metric_value(m) == Table(["Int8s", "Floats", "Strings"], [1, 9, 12], [[-1, 1.1, "a"], [127, 2.25, "b"]])


@pytest.mark.parametrize(
    "change, reason",
    [
        (lambda ds: ds.types.append(DT["Int8"]), "2 column names but 3 column types"),
        (lambda ds: setattr(ds, "num_of_columns", 3), "num_of_columns is 3 but 2 columns"),
        (lambda ds: ds.rows[0].elements.pop(), "row 0 has 1 values for 2 columns"),
        (lambda ds: ds.rows[0].elements[1].ClearField("value"), "row 0 column 'b': a String travels in string_value"),
        (lambda ds: ds.types.__setitem__(0, DT["DataSet"]), "column 'a' has DataSet, not a basic datatype"),
    ],
)
def test_dataset_sizes_and_types_must_agree(change, reason):
    ds = Payload.DataSet(num_of_columns=2, columns=["a", "b"], types=[DT["Int32"], DT["String"]])
    row = ds.rows.add()
    row.elements.add(int_value=1)
    row.elements.add(string_value="x")
    change(ds)
    with pytest.raises(PayloadError, match=re.escape(reason)):
        metric_value(Payload.Metric(name="t", datatype=DT["DataSet"], dataset_value=ds))


def _template(is_definition, ref=None):
    t = Payload.Template(is_definition=is_definition, version="v1")
    if ref:
        t.template_ref = ref
    t.parameters.add(name="Rated", type=DT["Float"], float_value=7.5)
    speed = t.metrics.add(name="Speed")
    set_metric_value(speed, DT["Int32"], -10)
    running = t.metrics.add(name="Running")
    set_metric_value(running, DT["Boolean"], True)
    return t


def test_template_definition_and_instance_decode_with_their_members():
    definition = metric_value(Payload.Metric(name="Motor", datatype=DT["Template"], template_value=_template(True)))
    assert definition.is_definition and definition.template_ref is None and definition.version == "v1"
    instance = metric_value(
        roundtrip(Payload.Metric(name="M1", datatype=DT["Template"], template_value=_template(False, "Motor")))
    )
    assert not instance.is_definition and instance.template_ref == "Motor"
    assert instance.parameters == {"Rated": 7.5}
    assert [(m.name, m.datatype, m.value) for m in instance.members] == [("Speed", 3, -10), ("Running", 11, True)]


@pytest.mark.parametrize(
    "template, reason",
    [
        (Payload.Template(template_ref="Motor"), "is_definition is required"),
        (Payload.Template(is_definition=False), "must name its definition in template_ref"),
        (Payload.Template(is_definition=True, template_ref="Motor"), "must not have a template_ref"),
    ],
)
def test_template_rules_of_the_specification(template, reason):
    with pytest.raises(PayloadError, match=reason):
        metric_value(Payload.Metric(name="t", datatype=DT["Template"], template_value=template))


def test_property_sets_decode_to_dicts_with_nested_sets_and_lists():
    ps = Payload.PropertySet(keys=["EngUnit", "Limits", "Many", "Missing"])
    ps.values.add(type=DT["String"], string_value="kW")
    inner = Payload.PropertySet(keys=["High"])
    inner.values.add(type=DT["Double"], double_value=2500.0)
    ps.values.add(type=DT["PropertySet"], propertyset_value=inner)
    many = ps.values.add(type=DT["PropertySetList"])
    many.propertysets_value.propertyset.add().CopyFrom(inner)
    ps.values.add(type=DT["Int32"], is_null=True)
    assert properties(ps) == {"EngUnit": "kW", "Limits": {"High": 2500.0}, "Many": [{"High": 2500.0}], "Missing": None}
    ps.keys.append("extra")
    with pytest.raises(PayloadError, match="5 keys but 4 values"):
        properties(ps)


@pytest.mark.parametrize(
    "code, quality", [(0, Quality.BAD), (192, Quality.GOOD), (500, Quality.STALE), (77, Quality.UNCERTAIN)]
)
def test_quality_property_codes(code, quality):
    m = Payload.Metric(name="x")
    m.properties.keys.append("Quality")
    m.properties.values.add(type=DT["Int32"], int_value=code)
    assert quality_of(roundtrip(m)) == quality


def test_quality_is_good_without_the_property_and_written_only_when_not_good():
    m = Payload.Metric(name="x")
    assert quality_of(m) == Quality.GOOD
    set_quality(m, Quality.GOOD)
    assert not m.HasField("properties")
    set_quality(m, Quality.STALE)
    assert list(m.properties.keys) == ["Quality"] and m.properties.values[0].type == DT["Int32"]
    assert quality_of(roundtrip(m)) == Quality.STALE


SAMPLE_NBIRTH = [  # SPB-05, the NBIRTH of spec chapter 6 (bdSeq as Int64, as SPB-03 says for NBIRTH)
    ("bdSeq", "Int64", 0),
    ("Node Control/Reboot", "Boolean", False),
    ("Node Control/Rebirth", "Boolean", False),
    ("Node Control/Next Server", "Boolean", False),
    ("Node Control/Scan Rate", "Int64", 3000),
    ("Properties/Hardware Make", "String", "Raspberry Pi"),
    ("Properties/Hardware Model", "String", "Pi 3 Model B"),
    ("Properties/OS", "String", "Raspbian"),
    ("Properties/OS Version", "String", "Jessie with PIXEL/11.01.2017"),
    ("Supply Voltage", "Float", 12.1),
]


def test_the_sample_nbirth_of_the_specification_round_trips():
    payload = Payload(timestamp=1486144502122, seq=0)
    for name, dtype, value in SAMPLE_NBIRTH:
        set_metric_value(payload.metrics.add(name=name, timestamp=1486144502122), DT[dtype], value)
    decoded = decode_payload(payload.SerializeToString())
    assert decoded.timestamp == 1486144502122 and decoded.seq == 0
    assert [(m.name, m.datatype, metric_value(m)) for m in decoded.metrics] == [
        (name, DT[dtype], value) for name, dtype, value in SAMPLE_NBIRTH
    ]


@pytest.mark.parametrize("garbage", [b"\xff\xff\xff not protobuf", b"\x12\x05\x0a", b"\x08"])
def test_bytes_that_are_not_a_payload_are_refused(garbage):
    with pytest.raises(PayloadError, match="not a Sparkplug B protobuf"):
        decode_payload(garbage)


def test_float32_leaves_non_finite_values_alone():
    assert math.isinf(float32(float("inf"))) and math.isnan(float32(float("nan")))
