"""Sparkplug B payload values: every datatype to and from its protobuf field (Eclipse Sparkplug 3.0, chapter 6).

Where each datatype travels (section "Datatype Details"):

* Int8, Int16, Int32, UInt8, UInt16, UInt32 in ``int_value`` (uint32); Int64, UInt64 and DateTime in
  ``long_value`` (uint64).  A negative value is its two's complement; encoders write it sign-extended to the
  field's width (what Eclipse Tahu does), and the decoder also accepts it at the type's own width.  Some
  implementations put 32-bit types in ``long_value``; the decoder accepts both fields for any integer type
  and rejects a value that does not fit the type.
* Float in ``float_value`` (IEEE 754 binary32): decoded to the shortest decimal that rounds to the same
  binary32 value, so 12.1 comes back as 12.1 and not 12.100000381469727.  Double in ``double_value``,
  Boolean in ``boolean_value``, String, Text and UUID in ``string_value``, Bytes and File in ``bytes_value``.
* DateTime: milliseconds since 1970-01-01 UTC, decoded to a timezone-aware datetime.
* Arrays (types 22-34) in ``bytes_value`` as packed little-endian values; a BooleanArray is a 4-byte
  little-endian count followed by the bits, most significant bit first, the last byte padded; a StringArray is
  NUL-terminated UTF-8 strings; a DateTimeArray is 8-byte little-endian millisecond counts.
* DataSet, Template and PropertySet are decoded to ``Table``, ``TemplateValue`` and ``dict``.

Every decoding problem raises ``PayloadError`` naming the metric or field and what is wrong.
"""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from google.protobuf.message import DecodeError

from shopfloor.connectors.base import Quality
from shopfloor.connectors.sparkplug.errors import PayloadError
from shopfloor.connectors.sparkplug.schema import DATA_TYPES, Payload

DT = DATA_TYPES
DATA_TYPE_NAMES = {number: name for name, number in DATA_TYPES.items()}
# Section "Data Types": the basic types, allowed for DataSet columns and Template parameters.
BASIC_TYPES = frozenset(range(DT["Int8"], DT["Text"] + 1))
INTEGER_TYPES = {  # datatype -> (bits, signed)
    DT["Int8"]: (8, True),
    DT["Int16"]: (16, True),
    DT["Int32"]: (32, True),
    DT["Int64"]: (64, True),
    DT["UInt8"]: (8, False),
    DT["UInt16"]: (16, False),
    DT["UInt32"]: (32, False),
    DT["UInt64"]: (64, False),
}
ARRAY_FORMATS = {  # datatype -> struct format of one element, little-endian
    DT["Int8Array"]: "b",
    DT["Int16Array"]: "h",
    DT["Int32Array"]: "i",
    DT["Int64Array"]: "q",
    DT["UInt8Array"]: "B",
    DT["UInt16Array"]: "H",
    DT["UInt32Array"]: "I",
    DT["UInt64Array"]: "Q",
    DT["FloatArray"]: "f",
    DT["DoubleArray"]: "d",
    DT["DateTimeArray"]: "Q",
}
ARRAY_TYPES = frozenset([*ARRAY_FORMATS, DT["BooleanArray"], DT["StringArray"]])
_STRING_TYPES = frozenset([DT["String"], DT["Text"], DT["UUID"]])
_BYTES_TYPES = frozenset([DT["Bytes"], DT["File"]])
# The value field a non-integer scalar must use; integers may use either int_value or long_value.
_FIELD_OF = {
    DT["Float"]: "float_value",
    DT["Double"]: "double_value",
    DT["Boolean"]: "boolean_value",
    DT["String"]: "string_value",
    DT["Text"]: "string_value",
    DT["UUID"]: "string_value",
    DT["DateTime"]: "long_value",
}
# Section "Quality Codes": property 'Quality', type Int32, 0 = BAD, 192 = GOOD, 500 = STALE.
QUALITY_PROPERTY = "Quality"
QUALITY_CODES = {0: Quality.BAD, 192: Quality.GOOD, 500: Quality.STALE}
QUALITY_OF = {Quality.BAD: 0, Quality.GOOD: 192, Quality.STALE: 500}

_F32 = struct.Struct("<f")
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_MS = timedelta(milliseconds=1)


def type_name(datatype: int) -> str:
    return DATA_TYPE_NAMES.get(datatype, f"datatype {datatype}")


# -- scalars --------------------------------------------------------------------------------------------------
def float32(value: float) -> float:
    """The shortest decimal that rounds to the same IEEE 754 binary32 value as ``value``."""
    if not math.isfinite(value):
        return value
    for digits in (6, 7, 8, 9):
        short = float(f"{value:.{digits}g}")
        try:
            if _F32.unpack(_F32.pack(short))[0] == value:
                return short
        except OverflowError:  # rounding up past the largest binary32 value
            continue
    return value  # not a binary32 value (a double given directly): kept as it is


def _integer(raw: int, container_bits: int, datatype: int, where: str) -> int:
    bits, signed = INTEGER_TYPES[datatype]
    if not signed:
        if raw >= 1 << bits:
            raise PayloadError(f"{where}: {raw} does not fit {type_name(datatype)}")
        return raw
    # Two's complement sign-extended to the protobuf field's width (Tahu's encoding) ...
    value = raw - (1 << container_bits) if raw >= 1 << (container_bits - 1) else raw
    if -(1 << (bits - 1)) <= value < 1 << (bits - 1):
        return value
    # ... or at the type's own width (0xFB for an Int8 of -5).
    if raw < 1 << bits:
        return raw - (1 << bits) if raw >= 1 << (bits - 1) else raw
    raise PayloadError(f"{where}: {raw} does not fit {type_name(datatype)}")


def datetime_from_ms(ms: int, where: str = "DateTime") -> datetime:
    """Milliseconds since 1970-01-01 UTC as a timezone-aware datetime."""
    try:
        return datetime.fromtimestamp(ms / 1000, tz=timezone.utc)
    except (OverflowError, OSError, ValueError):
        raise PayloadError(f"{where}: {ms} ms since 1970 is not a representable date and time") from None


def ms_from_datetime(value: datetime | int, where: str = "DateTime") -> int:
    """Milliseconds since 1970-01-01 UTC of an aware datetime (or an int already in milliseconds)."""
    if isinstance(value, bool):
        raise PayloadError(f"{where}: a boolean is not a date and time")
    if isinstance(value, int):
        return value
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise PayloadError(f"{where}: {value.isoformat()} has no time zone; Sparkplug times are UTC")
        return (value - _EPOCH) // _MS
    raise PayloadError(f"{where}: {value!r} is neither a datetime nor milliseconds since 1970")


def _scalar(container: Any, kind: str | None, datatype: int, where: str) -> Any:
    """The value of a basic-type datatype from any value-bearing message (Metric, PropertyValue, ...)."""
    if datatype in INTEGER_TYPES:
        if kind == "int_value":
            return _integer(container.int_value, 32, datatype, where)
        if kind == "long_value":
            return _integer(container.long_value, 64, datatype, where)
        expected = "int_value or long_value"
    else:
        expected = _FIELD_OF.get(datatype)
        if expected is None:
            raise PayloadError(f"{where}: {type_name(datatype)} is not a basic datatype")
        if kind == expected:
            if datatype == DT["Float"]:
                return float32(container.float_value)
            if datatype == DT["DateTime"]:
                return datetime_from_ms(container.long_value, where)
            return getattr(container, kind)
    raise PayloadError(f"{where}: a {type_name(datatype)} travels in {expected}, not {kind or 'no value field'}")


def _set_scalar(container: Any, datatype: int, value: Any, where: str) -> None:
    name = type_name(datatype)
    if datatype in INTEGER_TYPES:
        if isinstance(value, bool) or not isinstance(value, int):
            if isinstance(value, float) and value.is_integer():
                value = int(value)
            else:
                raise PayloadError(f"{where}: {value!r} is not an integer for {name}")
        bits, signed = INTEGER_TYPES[datatype]
        low, high = (-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if signed else (0, (1 << bits) - 1)
        if not low <= value <= high:
            raise PayloadError(f"{where}: {value} is outside {name}'s range {low}..{high}")
        if bits <= 32:
            container.int_value = value & 0xFFFFFFFF
        else:
            container.long_value = value & 0xFFFFFFFFFFFFFFFF
    elif datatype == DT["Float"]:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise PayloadError(f"{where}: {value!r} is not a number for Float")
        try:
            _F32.pack(float(value))
        except OverflowError:
            raise PayloadError(f"{where}: {value} is too large for a Float (binary32)") from None
        container.float_value = float(value)
    elif datatype == DT["Double"]:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise PayloadError(f"{where}: {value!r} is not a number for Double")
        container.double_value = float(value)
    elif datatype == DT["Boolean"]:
        if not isinstance(value, bool):
            raise PayloadError(f"{where}: {value!r} is not a boolean")
        container.boolean_value = value
    elif datatype in _STRING_TYPES:
        if not isinstance(value, str):
            raise PayloadError(f"{where}: {value!r} is not a string for {name}")
        container.string_value = value
    elif datatype == DT["DateTime"]:
        ms = ms_from_datetime(value, where)
        if not 0 <= ms < 1 << 64:
            raise PayloadError(f"{where}: {ms} ms is outside a DateTime's range")
        container.long_value = ms
    else:
        raise PayloadError(f"{where}: {name} is not a basic datatype")


# -- arrays ---------------------------------------------------------------------------------------------------
def encode_array(datatype: int, values: list[Any] | tuple[Any, ...]) -> bytes:
    """The ``bytes_value`` of an array datatype (22-34)."""
    name = type_name(datatype)
    if datatype == DT["BooleanArray"]:
        if not all(isinstance(v, bool) for v in values):
            raise PayloadError(f"{name}: every element must be a boolean")
        bits = bytearray((len(values) + 7) // 8)
        for i, v in enumerate(values):
            if v:
                bits[i // 8] |= 0x80 >> (i % 8)
        return struct.pack("<I", len(values)) + bytes(bits)
    if datatype == DT["StringArray"]:
        out = bytearray()
        for v in values:
            if not isinstance(v, str) or "\x00" in v:
                raise PayloadError(f"{name}: {v!r} is not a string without NUL characters")
            try:
                out += v.encode("utf-8") + b"\x00"
            except UnicodeEncodeError:
                raise PayloadError(f"{name}: {v!r} cannot be encoded as UTF-8 (a lone surrogate)") from None
        return bytes(out)
    code = ARRAY_FORMATS.get(datatype)
    if code is None:
        raise PayloadError(f"{name} is not an array datatype")
    if datatype == DT["DateTimeArray"]:
        values = [ms_from_datetime(v, name) for v in values]
    elif code in "fd":
        if any(isinstance(v, bool) or not isinstance(v, (int, float)) for v in values):
            raise PayloadError(f"{name}: every element must be a number")
    elif any(isinstance(v, bool) or not isinstance(v, int) for v in values):
        raise PayloadError(f"{name}: every element must be an integer")
    try:
        return struct.pack(f"<{len(values)}{code}", *values)
    except (struct.error, OverflowError) as exc:
        raise PayloadError(f"{name}: an element is out of range ({exc})") from None


def decode_array(datatype: int, data: bytes) -> list[Any]:
    """The elements of an array datatype's ``bytes_value`` (DateTimeArray as millisecond counts)."""
    name = type_name(datatype)
    if datatype == DT["BooleanArray"]:
        if len(data) < 4:
            raise PayloadError(f"{name}: {len(data)} bytes, shorter than its 4-byte count")
        (count,) = struct.unpack_from("<I", data)
        needed = (count + 7) // 8
        if len(data) - 4 != needed:
            raise PayloadError(f"{name}: a count of {count} needs {needed} bytes of bits, not {len(data) - 4}")
        return [bool(data[4 + i // 8] & (0x80 >> (i % 8))) for i in range(count)]
    if datatype == DT["StringArray"]:
        if not data:
            return []
        if not data.endswith(b"\x00"):
            raise PayloadError(f"{name}: the last string is not terminated by NUL")
        try:
            return [s.decode("utf-8") for s in data[:-1].split(b"\x00")]
        except UnicodeDecodeError as exc:
            raise PayloadError(f"{name}: not UTF-8 ({exc})") from None
    code = ARRAY_FORMATS.get(datatype)
    if code is None:
        raise PayloadError(f"{name} is not an array datatype")
    size = struct.calcsize(code)
    if len(data) % size:
        raise PayloadError(f"{name}: {len(data)} bytes is not a whole number of {size}-byte elements")
    values = list(struct.unpack(f"<{len(data) // size}{code}", data))
    if code == "f":
        return [float32(v) for v in values]
    return values


# -- DataSet, Template, PropertySet ---------------------------------------------------------------------------
@dataclass(frozen=True)
class Table:
    """A decoded DataSet: column names, their datatypes, and rows of Python values."""

    columns: list[str]
    types: list[int]
    rows: list[list[Any]]


@dataclass(frozen=True)
class TemplateMember:
    name: str
    datatype: int
    value: Any


@dataclass(frozen=True)
class TemplateValue:
    """A decoded Template: a definition (a user defined type) or an instance of one (``template_ref``)."""

    is_definition: bool
    template_ref: str | None
    version: str | None
    parameters: dict[str, Any]
    members: list[TemplateMember] = field(default_factory=list)


def table(dataset: Any, where: str = "DataSet") -> Table:
    """A DataSet message as a Table; the column, type and row sizes must agree (section "DataSet")."""
    columns, types = list(dataset.columns), list(dataset.types)
    if len(columns) != len(types):
        raise PayloadError(f"{where}: {len(columns)} column names but {len(types)} column types")
    if dataset.HasField("num_of_columns") and dataset.num_of_columns != len(columns):
        raise PayloadError(f"{where}: num_of_columns is {dataset.num_of_columns} but {len(columns)} columns are named")
    for column, datatype in zip(columns, types):
        if datatype not in BASIC_TYPES:
            raise PayloadError(f"{where}: column {column!r} has {type_name(datatype)}, not a basic datatype")
    rows = []
    for r, row in enumerate(dataset.rows):
        if len(row.elements) != len(columns):
            raise PayloadError(f"{where}: row {r} has {len(row.elements)} values for {len(columns)} columns")
        rows.append(
            [
                _scalar(element, element.WhichOneof("value"), datatype, f"{where} row {r} column {column!r}")
                for element, column, datatype in zip(row.elements, columns, types)
            ]
        )
    return Table(columns, types, rows)


def property_value(value: Any, where: str) -> Any:
    """A PropertyValue as a Python value (a PropertySet as a dict, a PropertySetList as a list of dicts)."""
    if value.is_null:
        return None
    kind = value.WhichOneof("value")
    if not value.HasField("type"):
        # The type is required in births only; elsewhere the value field speaks for itself.
        if kind in ("propertyset_value", "propertysets_value", "extension_value", None):
            datatype = {"propertyset_value": DT["PropertySet"], "propertysets_value": DT["PropertySetList"]}.get(
                kind or "", DT["Unknown"]
            )
        else:
            return getattr(value, kind)
    else:
        datatype = value.type
    if datatype == DT["PropertySet"] and kind == "propertyset_value":
        return properties(value.propertyset_value, where)
    if datatype == DT["PropertySetList"] and kind == "propertysets_value":
        return [properties(ps, f"{where}[{i}]") for i, ps in enumerate(value.propertysets_value.propertyset)]
    if datatype in BASIC_TYPES:
        return _scalar(value, kind, datatype, where)
    raise PayloadError(f"{where}: {type_name(datatype)} in {kind or 'no value field'} is not a property value")


def properties(property_set: Any, where: str = "properties") -> dict[str, Any]:
    """A PropertySet as a dict; its keys and values arrays must be of equal size (section "PropertySet")."""
    keys, values = property_set.keys, property_set.values
    if len(keys) != len(values):
        raise PayloadError(f"{where}: {len(keys)} keys but {len(values)} values")
    return {key: property_value(value, f"{where}.{key}") for key, value in zip(keys, values)}


def template(value: Any, where: str = "Template") -> TemplateValue:
    """A Template message as a TemplateValue (section "Template"): members decoded like metrics."""
    if not value.HasField("is_definition"):
        raise PayloadError(f"{where}: is_definition is required in every template definition and instance")
    ref = value.template_ref if value.HasField("template_ref") else None
    if value.is_definition and ref:
        raise PayloadError(f"{where}: a template definition must not have a template_ref ({ref!r})")
    if not value.is_definition and not ref:
        raise PayloadError(f"{where}: a template instance must name its definition in template_ref")
    parameters = {}
    for p in value.parameters:
        if not p.name:
            raise PayloadError(f"{where}: a template parameter without a name")
        kind = p.WhichOneof("value")
        if kind is None:
            parameters[p.name] = None
        elif p.HasField("type"):
            parameters[p.name] = _scalar(p, kind, p.type, f"{where} parameter {p.name!r}")
        else:
            parameters[p.name] = getattr(p, kind)
    members = []
    for m in value.metrics:
        if not m.name:
            raise PayloadError(f"{where}: a template member without a name")
        members.append(TemplateMember(m.name, m.datatype, metric_value(m, m.datatype, f"{where}/{m.name}")))
    return TemplateValue(
        value.is_definition, ref, value.version if value.HasField("version") else None, parameters, members
    )


# -- metrics --------------------------------------------------------------------------------------------------
def metric_value(metric: Any, datatype: int | None = None, where: str | None = None) -> Any:
    """The Python value of a metric of ``datatype`` (the metric's own by default); None for a null metric."""
    if datatype is None:
        datatype = metric.datatype
    if metric.is_null:
        return None
    kind = metric.WhichOneof("value")
    expected = _FIELD_OF.get(datatype)
    if expected is not None and kind == expected and datatype != DT["DateTime"]:
        return float32(metric.float_value) if kind == "float_value" else getattr(metric, kind)
    where = where or f"metric {metric.name or metric.alias!r}"
    if datatype in INTEGER_TYPES or expected is not None:
        return _scalar(metric, kind, datatype, where)
    if kind is None:
        raise PayloadError(f"{where}: no value and not marked is_null")
    if datatype in _BYTES_TYPES or datatype in ARRAY_TYPES:
        if kind != "bytes_value":
            raise PayloadError(f"{where}: a {type_name(datatype)} travels in bytes_value, not {kind}")
        if datatype in _BYTES_TYPES:
            return bytes(metric.bytes_value)
        values = decode_array(datatype, metric.bytes_value)
        if datatype == DT["DateTimeArray"]:
            return [datetime_from_ms(v, where) for v in values]
        return values
    if datatype == DT["DataSet"] and kind == "dataset_value":
        return table(metric.dataset_value, where)
    if datatype == DT["Template"] and kind == "template_value":
        return template(metric.template_value, where)
    raise PayloadError(f"{where}: {type_name(datatype)} in {kind} is not a metric value")


def set_metric_value(metric: Any, datatype: int, value: Any) -> None:
    """Set ``metric``'s datatype and value (``None`` marks it is_null).  DataSet and Template are not encoded."""
    where = f"metric {metric.name or metric.alias!r}"
    metric.datatype = datatype
    if value is None:
        kind = metric.WhichOneof("value")
        if kind is not None:
            metric.ClearField(kind)
        metric.is_null = True
        return
    if datatype in _BYTES_TYPES:
        if not isinstance(value, (bytes, bytearray, memoryview)):
            raise PayloadError(f"{where}: {type_name(datatype)} needs bytes, not {type(value).__name__}")
        metric.bytes_value = bytes(value)
    elif datatype in ARRAY_TYPES:
        if not isinstance(value, (list, tuple)):
            raise PayloadError(f"{where}: {type_name(datatype)} needs a list, not {type(value).__name__}")
        metric.bytes_value = encode_array(datatype, value)
    else:
        _set_scalar(metric, datatype, value, where)


def quality_of(metric: Any, where: str | None = None) -> Quality:
    """The metric's quality from its ``Quality`` property (section "Quality Codes"); GOOD when absent.

    A code other than 0, 192 or 500 is outside the specification: the value is kept as UNCERTAIN rather than
    dropped.
    """
    if not metric.HasField("properties"):
        return Quality.GOOD
    keys = metric.properties.keys
    if QUALITY_PROPERTY not in keys:
        return Quality.GOOD
    if len(keys) != len(metric.properties.values):
        raise PayloadError(f"{where or 'metric'}: properties have {len(keys)} keys but a different number of values")
    value = metric.properties.values[list(keys).index(QUALITY_PROPERTY)]
    code = value.int_value if value.WhichOneof("value") == "int_value" else value.long_value
    if value.HasField("type") and value.type == DT["Int32"]:
        code = _integer(code, 32, DT["Int32"], f"{where or 'metric'} Quality")
    return QUALITY_CODES.get(code, Quality.UNCERTAIN)


def set_quality(metric: Any, quality: Quality) -> None:
    """Add the ``Quality`` property (type Int32) for a quality other than GOOD, as the specification asks."""
    if quality == Quality.GOOD:
        return
    if quality not in QUALITY_OF:
        raise PayloadError(f"Sparkplug has no quality code for {quality.value!r}")
    metric.properties.keys.append(QUALITY_PROPERTY)
    pv = metric.properties.values.add(type=DT["Int32"])
    pv.int_value = QUALITY_OF[quality]


def decode_payload(data: bytes) -> Any:
    """The Payload message in ``data``; PayloadError when the bytes are not a Sparkplug B protobuf."""
    payload = Payload()
    try:
        payload.ParseFromString(data)
    except (DecodeError, RuntimeError, ValueError) as exc:
        raise PayloadError(f"payload is not a Sparkplug B protobuf: {exc}") from None
    return payload


def datatype_for(value: Any) -> int:
    """A datatype for a Python value, for edge nodes that are given plain values."""
    if isinstance(value, bool):
        return DT["Boolean"]
    if isinstance(value, int):
        return DT["Int64"]
    if isinstance(value, float):
        return DT["Double"]
    if isinstance(value, datetime):
        return DT["DateTime"]
    if isinstance(value, (bytes, bytearray)):
        return DT["Bytes"]
    if isinstance(value, str):
        return DT["String"]
    raise PayloadError(f"no Sparkplug datatype for a {type(value).__name__} value")
