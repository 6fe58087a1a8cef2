"""The Sparkplug B message classes protoc generated from sparkplug_b.proto: every field number and type as the
Sparkplug 3.0 specification lists it, the DataType enum with the array types 22-34, and the wire format checked
against bytes encoded by hand from the protobuf encoding rules.

Sources: Eclipse Sparkplug 3.0, chapter 6 "Payloads", section "Google Protocol Buffer Schema"
(https://github.com/eclipse-sparkplug/sparkplug, specification/src/main/asciidoc/chapters/Sparkplug_6_Payloads.adoc),
summarised in reference README section 6, SPB-02; protobuf encoding: https://protobuf.dev/programming-guides/encoding/.
"""

import struct

import pytest
from google.protobuf.descriptor import FieldDescriptor as FD

from shopfloor.connectors.sparkplug.schema import DATA_TYPES, Payload

U32, U64, FLT, DBL, BOOL, STR, BYTES, MSG = (
    FD.TYPE_UINT32,
    FD.TYPE_UINT64,
    FD.TYPE_FLOAT,
    FD.TYPE_DOUBLE,
    FD.TYPE_BOOL,
    FD.TYPE_STRING,
    FD.TYPE_BYTES,
    FD.TYPE_MESSAGE,
)

# (message, field, number, type, repeated) as SPB-02 lists them.
SPEC_FIELDS = [
    (Payload, "timestamp", 1, U64, False),
    (Payload, "metrics", 2, MSG, True),
    (Payload, "seq", 3, U64, False),
    (Payload, "uuid", 4, STR, False),
    (Payload, "body", 5, BYTES, False),
    (Payload.Metric, "name", 1, STR, False),
    (Payload.Metric, "alias", 2, U64, False),
    (Payload.Metric, "timestamp", 3, U64, False),
    (Payload.Metric, "datatype", 4, U32, False),
    (Payload.Metric, "is_historical", 5, BOOL, False),
    (Payload.Metric, "is_transient", 6, BOOL, False),
    (Payload.Metric, "is_null", 7, BOOL, False),
    (Payload.Metric, "metadata", 8, MSG, False),
    (Payload.Metric, "properties", 9, MSG, False),
    (Payload.Metric, "int_value", 10, U32, False),
    (Payload.Metric, "long_value", 11, U64, False),
    (Payload.Metric, "float_value", 12, FLT, False),
    (Payload.Metric, "double_value", 13, DBL, False),
    (Payload.Metric, "boolean_value", 14, BOOL, False),
    (Payload.Metric, "string_value", 15, STR, False),
    (Payload.Metric, "bytes_value", 16, BYTES, False),
    (Payload.Metric, "dataset_value", 17, MSG, False),
    (Payload.Metric, "template_value", 18, MSG, False),
    (Payload.Metric, "extension_value", 19, MSG, False),
    (Payload.MetaData, "is_multi_part", 1, BOOL, False),
    (Payload.MetaData, "content_type", 2, STR, False),
    (Payload.MetaData, "size", 3, U64, False),
    (Payload.MetaData, "seq", 4, U64, False),
    (Payload.MetaData, "file_name", 5, STR, False),
    (Payload.MetaData, "file_type", 6, STR, False),
    (Payload.MetaData, "md5", 7, STR, False),
    (Payload.MetaData, "description", 8, STR, False),
    (Payload.PropertySet, "keys", 1, STR, True),
    (Payload.PropertySet, "values", 2, MSG, True),
    (Payload.PropertyValue, "type", 1, U32, False),
    (Payload.PropertyValue, "is_null", 2, BOOL, False),
    (Payload.PropertyValue, "int_value", 3, U32, False),
    (Payload.PropertyValue, "long_value", 4, U64, False),
    (Payload.PropertyValue, "float_value", 5, FLT, False),
    (Payload.PropertyValue, "double_value", 6, DBL, False),
    (Payload.PropertyValue, "boolean_value", 7, BOOL, False),
    (Payload.PropertyValue, "string_value", 8, STR, False),
    (Payload.PropertyValue, "propertyset_value", 9, MSG, False),
    (Payload.PropertyValue, "propertysets_value", 10, MSG, False),
    (Payload.PropertyValue, "extension_value", 11, MSG, False),
    (Payload.PropertySetList, "propertyset", 1, MSG, True),
    (Payload.DataSet, "num_of_columns", 1, U64, False),
    (Payload.DataSet, "columns", 2, STR, True),
    (Payload.DataSet, "types", 3, U32, True),
    (Payload.DataSet, "rows", 4, MSG, True),
    (Payload.DataSet.Row, "elements", 1, MSG, True),
    (Payload.DataSet.DataSetValue, "int_value", 1, U32, False),
    (Payload.DataSet.DataSetValue, "long_value", 2, U64, False),
    (Payload.DataSet.DataSetValue, "float_value", 3, FLT, False),
    (Payload.DataSet.DataSetValue, "double_value", 4, DBL, False),
    (Payload.DataSet.DataSetValue, "boolean_value", 5, BOOL, False),
    (Payload.DataSet.DataSetValue, "string_value", 6, STR, False),
    (Payload.DataSet.DataSetValue, "extension_value", 7, MSG, False),
    (Payload.Template, "version", 1, STR, False),
    (Payload.Template, "metrics", 2, MSG, True),
    (Payload.Template, "parameters", 3, MSG, True),
    (Payload.Template, "template_ref", 4, STR, False),
    (Payload.Template, "is_definition", 5, BOOL, False),
    (Payload.Template.Parameter, "name", 1, STR, False),
    (Payload.Template.Parameter, "type", 2, U32, False),
    (Payload.Template.Parameter, "int_value", 3, U32, False),
    (Payload.Template.Parameter, "long_value", 4, U64, False),
    (Payload.Template.Parameter, "float_value", 5, FLT, False),
    (Payload.Template.Parameter, "double_value", 6, DBL, False),
    (Payload.Template.Parameter, "boolean_value", 7, BOOL, False),
    (Payload.Template.Parameter, "string_value", 8, STR, False),
    (Payload.Template.Parameter, "extension_value", 9, MSG, False),
]


@pytest.mark.parametrize("message, name, number, ftype, repeated", SPEC_FIELDS)
def test_every_field_has_the_number_and_type_of_the_specification(message, name, number, ftype, repeated):
    field = message.DESCRIPTOR.fields_by_name[name]
    assert (field.number, field.type) == (number, ftype)
    assert field.is_repeated == repeated


def test_no_field_beyond_the_specification():
    listed = {(m.DESCRIPTOR.full_name, name) for m, name, *_ in SPEC_FIELDS}
    for message in {m for m, *_ in SPEC_FIELDS}:
        for field in message.DESCRIPTOR.fields:
            assert (message.DESCRIPTOR.full_name, field.name) in listed


def test_value_fields_are_oneofs_as_in_the_specification():
    for message in (Payload.Metric, Payload.PropertyValue, Payload.DataSet.DataSetValue, Payload.Template.Parameter):
        in_oneof = {f.name for f in message.DESCRIPTOR.oneofs_by_name["value"].fields}
        value_fields = {f.name for f in message.DESCRIPTOR.fields if f.name.endswith("_value")}
        assert in_oneof == value_fields and {"int_value", "string_value", "extension_value"} <= in_oneof
    assert Payload.DESCRIPTOR.full_name == "org.eclipse.tahu.protobuf.Payload"
    assert Payload.DESCRIPTOR.fields_by_name["seq"].has_presence  # proto2: an absent seq is told from seq 0


def test_data_type_enum_includes_the_array_types_22_to_34():
    expected = (
        "Unknown Int8 Int16 Int32 Int64 UInt8 UInt16 UInt32 UInt64 Float Double Boolean String DateTime Text UUID "
        "DataSet Bytes File Template PropertySet PropertySetList Int8Array Int16Array Int32Array Int64Array "
        "UInt8Array UInt16Array UInt32Array UInt64Array FloatArray DoubleArray BooleanArray StringArray DateTimeArray"
    ).split()
    assert DATA_TYPES == {name: number for number, name in enumerate(expected)}


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _key(number: int, wire_type: int) -> bytes:
    return _varint(number << 3 | wire_type)


def test_a_payload_encoded_by_hand_from_the_wire_rules_decodes_with_the_schema():
    """Sample NBIRTH metric 'Supply Voltage' (Float 12.1) of spec chapter 6, encoded field by field."""
    name = b"Supply Voltage"
    metric = (
        _key(1, 2) + _varint(len(name)) + name  # name, length-delimited
        + _key(3, 0) + _varint(1486144502122)  # timestamp, varint
        + _key(4, 0) + _varint(9)  # datatype Float
        + _key(12, 5) + struct.pack("<f", 12.1)  # float_value, 32-bit
    )  # fmt: skip
    data = _key(1, 0) + _varint(1486144502122) + _key(2, 2) + _varint(len(metric)) + metric + _key(3, 0) + _varint(0)
    payload = Payload.FromString(data)
    assert payload.timestamp == 1486144502122 and payload.HasField("seq") and payload.seq == 0
    (m,) = payload.metrics
    assert (m.name, m.timestamp, m.datatype) == ("Supply Voltage", 1486144502122, 9)
    assert m.WhichOneof("value") == "float_value" and m.float_value == pytest.approx(12.1, rel=1e-7)
    assert payload.SerializeToString() == data  # and our encoder writes the same bytes


def test_extension_ranges_follow_the_specification():
    ranges = {
        Payload: (6, 536870912),
        Payload.Template: (6, 536870912),
        Payload.DataSet: (5, 536870912),
        Payload.DataSet.Row: (2, 536870912),
        Payload.PropertySet: (3, 536870912),
        Payload.PropertySetList: (2, 536870912),
        Payload.MetaData: (9, 536870912),
        Payload.Metric.MetricValueExtension: (1, 536870912),
    }
    for message, expected in ranges.items():
        assert message.DESCRIPTOR.extension_ranges == [expected]
