"""The Sparkplug B payload schema (Eclipse Sparkplug 3.0, chapter 6, "Payloads"), built from its field list.

Written from the specification's message and field definitions: package ``org.eclipse.tahu.protobuf``,
proto2.  The descriptor is built here in code, so no generated module is needed; ``Payload`` is the message
class every Sparkplug B message carries.
"""

from __future__ import annotations

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

F = descriptor_pb2.FieldDescriptorProto
PACKAGE = "org.eclipse.tahu.protobuf"

# DataType enum, specification section 6.4.16 (values as in the reference README, SPB-02).
DATA_TYPES = {
    "Unknown": 0,
    "Int8": 1,
    "Int16": 2,
    "Int32": 3,
    "Int64": 4,
    "UInt8": 5,
    "UInt16": 6,
    "UInt32": 7,
    "UInt64": 8,
    "Float": 9,
    "Double": 10,
    "Boolean": 11,
    "String": 12,
    "DateTime": 13,
    "Text": 14,
    "UUID": 15,
    "DataSet": 16,
    "Bytes": 17,
    "File": 18,
    "Template": 19,
    "PropertySet": 20,
    "PropertySetList": 21,
    "Int8Array": 22,
    "Int16Array": 23,
    "Int32Array": 24,
    "Int64Array": 25,
    "UInt8Array": 26,
    "UInt16Array": 27,
    "UInt32Array": 28,
    "UInt64Array": 29,
    "FloatArray": 30,
    "DoubleArray": 31,
    "BooleanArray": 32,
    "StringArray": 33,
    "DateTimeArray": 34,
}

_SCALARS = {
    "uint32": F.TYPE_UINT32,
    "uint64": F.TYPE_UINT64,
    "float": F.TYPE_FLOAT,
    "double": F.TYPE_DOUBLE,
    "bool": F.TYPE_BOOL,
    "string": F.TYPE_STRING,
    "bytes": F.TYPE_BYTES,
}


def _message(
    name: str, fields: list[tuple], oneofs: tuple[str, ...] = (), nested: list | None = None, extensions: bool = False
) -> descriptor_pb2.DescriptorProto:
    """``fields``: (name, number, type, label, type_name or None, oneof index or None)."""
    msg = descriptor_pb2.DescriptorProto(name=name)
    for oneof in oneofs:
        msg.oneof_decl.add(name=oneof)
    for fname, number, ftype, label, type_name, oneof in fields:
        field = msg.field.add(name=fname, number=number, label=label)
        if ftype in _SCALARS:
            field.type = _SCALARS[ftype]
        else:
            field.type = F.TYPE_MESSAGE
            field.type_name = type_name
        if oneof is not None:
            field.oneof_index = oneof
    for n in nested or []:
        msg.nested_type.add().CopyFrom(n)
    if extensions:
        msg.extension_range.add(start=6 if name == "Payload" else 9, end=536870912)
    return msg


def _build() -> descriptor_pb2.FileDescriptorProto:
    OPT, REP = F.LABEL_OPTIONAL, F.LABEL_REPEATED
    P = f".{PACKAGE}.Payload"
    parameter = _message(
        "Parameter",
        [
            ("name", 1, "string", OPT, None, None),
            ("type", 2, "uint32", OPT, None, None),
            ("int_value", 3, "uint32", OPT, None, 0),
            ("long_value", 4, "uint64", OPT, None, 0),
            ("float_value", 5, "float", OPT, None, 0),
            ("double_value", 6, "double", OPT, None, 0),
            ("boolean_value", 7, "bool", OPT, None, 0),
            ("string_value", 8, "string", OPT, None, 0),
        ],
        oneofs=("value",),
    )
    template = _message(
        "Template",
        [
            ("version", 1, "string", OPT, None, None),
            ("metrics", 2, "msg", REP, f"{P}.Metric", None),
            ("parameters", 3, "msg", REP, f"{P}.Template.Parameter", None),
            ("template_ref", 4, "string", OPT, None, None),
            ("is_definition", 5, "bool", OPT, None, None),
        ],
        nested=[parameter],
    )
    dataset_value = _message(
        "DataSetValue",
        [
            ("int_value", 1, "uint32", OPT, None, 0),
            ("long_value", 2, "uint64", OPT, None, 0),
            ("float_value", 3, "float", OPT, None, 0),
            ("double_value", 4, "double", OPT, None, 0),
            ("boolean_value", 5, "bool", OPT, None, 0),
            ("string_value", 6, "string", OPT, None, 0),
        ],
        oneofs=("value",),
    )
    row = _message("Row", [("elements", 1, "msg", REP, f"{P}.DataSet.DataSetValue", None)])
    dataset = _message(
        "DataSet",
        [
            ("num_of_columns", 1, "uint64", OPT, None, None),
            ("columns", 2, "string", REP, None, None),
            ("types", 3, "uint32", REP, None, None),
            ("rows", 4, "msg", REP, f"{P}.DataSet.Row", None),
        ],
        nested=[dataset_value, row],
    )
    property_value = _message(
        "PropertyValue",
        [
            ("type", 1, "uint32", OPT, None, None),
            ("is_null", 2, "bool", OPT, None, None),
            ("int_value", 3, "uint32", OPT, None, 0),
            ("long_value", 4, "uint64", OPT, None, 0),
            ("float_value", 5, "float", OPT, None, 0),
            ("double_value", 6, "double", OPT, None, 0),
            ("boolean_value", 7, "bool", OPT, None, 0),
            ("string_value", 8, "string", OPT, None, 0),
            ("propertyset_value", 9, "msg", OPT, f"{P}.PropertySet", 0),
            ("propertysets_value", 10, "msg", OPT, f"{P}.PropertySetList", 0),
        ],
        oneofs=("value",),
    )
    property_set = _message(
        "PropertySet",
        [
            ("keys", 1, "string", REP, None, None),
            ("values", 2, "msg", REP, f"{P}.PropertyValue", None),
        ],
    )
    property_set_list = _message("PropertySetList", [("propertyset", 1, "msg", REP, f"{P}.PropertySet", None)])
    meta = _message(
        "MetaData",
        [
            ("is_multi_part", 1, "bool", OPT, None, None),
            ("content_type", 2, "string", OPT, None, None),
            ("size", 3, "uint64", OPT, None, None),
            ("seq", 4, "uint64", OPT, None, None),
            ("file_name", 5, "string", OPT, None, None),
            ("file_type", 6, "string", OPT, None, None),
            ("md5", 7, "string", OPT, None, None),
            ("description", 8, "string", OPT, None, None),
        ],
    )
    metric = _message(
        "Metric",
        [
            ("name", 1, "string", OPT, None, None),
            ("alias", 2, "uint64", OPT, None, None),
            ("timestamp", 3, "uint64", OPT, None, None),
            ("datatype", 4, "uint32", OPT, None, None),
            ("is_historical", 5, "bool", OPT, None, None),
            ("is_transient", 6, "bool", OPT, None, None),
            ("is_null", 7, "bool", OPT, None, None),
            ("metadata", 8, "msg", OPT, f"{P}.MetaData", None),
            ("properties", 9, "msg", OPT, f"{P}.PropertySet", None),
            ("int_value", 10, "uint32", OPT, None, 0),
            ("long_value", 11, "uint64", OPT, None, 0),
            ("float_value", 12, "float", OPT, None, 0),
            ("double_value", 13, "double", OPT, None, 0),
            ("boolean_value", 14, "bool", OPT, None, 0),
            ("string_value", 15, "string", OPT, None, 0),
            ("bytes_value", 16, "bytes", OPT, None, 0),
            ("dataset_value", 17, "msg", OPT, f"{P}.DataSet", 0),
            ("template_value", 18, "msg", OPT, f"{P}.Template", 0),
        ],
        oneofs=("value",),
    )
    payload = _message(
        "Payload",
        [
            ("timestamp", 1, "uint64", OPT, None, None),
            ("metrics", 2, "msg", REP, f"{P}.Metric", None),
            ("seq", 3, "uint64", OPT, None, None),
            ("uuid", 4, "string", OPT, None, None),
            ("body", 5, "bytes", OPT, None, None),
        ],
        nested=[template, dataset, property_value, property_set, property_set_list, meta, metric],
        extensions=True,
    )
    fd = descriptor_pb2.FileDescriptorProto(name="shopfloor/sparkplug_b.proto", package=PACKAGE, syntax="proto2")
    enum = fd.enum_type.add(name="DataType")
    for name, number in DATA_TYPES.items():
        enum.value.add(name=name, number=number)
    fd.message_type.add().CopyFrom(payload)
    return fd


_pool = descriptor_pool.DescriptorPool()
_pool.Add(_build())
Payload = message_factory.GetMessageClass(_pool.FindMessageTypeByName(f"{PACKAGE}.Payload"))
