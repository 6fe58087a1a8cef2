"""Sparkplug B topics and payload values (Eclipse Sparkplug 3.0, chapters 4 and 6).

Topics: ``spBv1.0/<group_id>/<message_type>/<edge_node_id>[/<device_id>]`` and ``spBv1.0/STATE/<host_id>``.
Values: Int8/16/32 and UInt8/16/32 travel in ``int_value`` (uint32), 64-bit types and DateTime in
``long_value`` (uint64); signed values are two's complement of their width.  Arrays travel in ``bytes_value``
as little-endian packed values (section 6.4.17); a BooleanArray is a 4-byte little-endian count followed by
the bits packed most significant bit first; a StringArray is NUL-terminated UTF-8 strings.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from shopfloor.connectors.sparkplug.schema import DATA_TYPES, Payload

NAMESPACE = "spBv1.0"
MESSAGE_TYPES = ("NBIRTH", "NDEATH", "DBIRTH", "DDEATH", "NDATA", "DDATA", "NCMD", "DCMD", "STATE")
DEVICE_TYPES = ("DBIRTH", "DDEATH", "DDATA", "DCMD")
DT = DATA_TYPES
_NAMES = {v: k for k, v in DATA_TYPES.items()}
_ARRAYS = {  # datatype -> struct code (little-endian)
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
_SIGNED_WIDTH = {DT["Int8"]: 8, DT["Int16"]: 16, DT["Int32"]: 32, DT["Int64"]: 64}


class SparkplugError(ValueError):
    """A topic or payload that does not follow the specification; the message says what is wrong."""


@dataclass(frozen=True)
class Topic:
    group: str | None
    message_type: str
    edge_node: str | None
    device: str | None = None
    host_id: str | None = None

    def __str__(self) -> str:
        if self.message_type == "STATE":
            return f"{NAMESPACE}/STATE/{self.host_id}"
        parts = [NAMESPACE, self.group, self.message_type, self.edge_node] + ([self.device] if self.device else [])
        return "/".join(parts)  # type: ignore[arg-type]


def _check_id(value: str, what: str) -> None:
    if not value or any(c in value for c in "+/#"):
        raise SparkplugError(f"{what} {value!r} must be non-empty UTF-8 without '+', '/' or '#'")


def parse_topic(topic: str) -> Topic:
    parts = topic.split("/")
    if parts[0] != NAMESPACE:
        raise SparkplugError(f"topic {topic!r} does not start with {NAMESPACE}")
    if len(parts) == 3 and parts[1] == "STATE":
        _check_id(parts[2], "host id")
        return Topic(None, "STATE", None, host_id=parts[2])
    if len(parts) not in (4, 5):
        raise SparkplugError(f"topic {topic!r} must be {NAMESPACE}/group/type/edge_node[/device]")
    _, group, mtype, edge = parts[:4]
    if mtype not in MESSAGE_TYPES or mtype == "STATE":
        raise SparkplugError(f"topic {topic!r}: unknown message type {mtype!r}")
    _check_id(group, "group id")
    _check_id(edge, "edge node id")
    device = parts[4] if len(parts) == 5 else None
    if mtype in DEVICE_TYPES and device is None:
        raise SparkplugError(f"topic {topic!r}: a {mtype} needs a device id")
    if mtype not in DEVICE_TYPES and device is not None:
        raise SparkplugError(f"topic {topic!r}: a {mtype} must not have a device id")
    if device is not None:
        _check_id(device, "device id")
    return Topic(group, mtype, edge, device)


def encode_array(datatype: int, values: list[Any]) -> bytes:
    if datatype == DT["BooleanArray"]:
        bits = bytearray((len(values) + 7) // 8)
        for i, v in enumerate(values):
            if v:
                bits[i // 8] |= 0x80 >> (i % 8)
        return struct.pack("<I", len(values)) + bytes(bits)
    if datatype == DT["StringArray"]:
        return b"".join(str(v).encode("utf-8") + b"\x00" for v in values)
    code = _ARRAYS[datatype]
    return struct.pack("<" + code * len(values), *values)


def decode_array(datatype: int, data: bytes) -> list[Any]:
    if datatype == DT["BooleanArray"]:
        if len(data) < 4:
            raise SparkplugError("BooleanArray shorter than its 4-byte count")
        (count,) = struct.unpack_from("<I", data)
        if len(data) - 4 < (count + 7) // 8:
            raise SparkplugError(f"BooleanArray announces {count} values but carries fewer")
        return [bool(data[4 + i // 8] & (0x80 >> (i % 8))) for i in range(count)]
    if datatype == DT["StringArray"]:
        if data and not data.endswith(b"\x00"):
            raise SparkplugError("StringArray not terminated by NUL")
        return [s.decode("utf-8") for s in data.split(b"\x00")[:-1]]
    code = _ARRAYS[datatype]
    size = struct.calcsize(code)
    if len(data) % size:
        raise SparkplugError(f"{_NAMES[datatype]}: {len(data)} bytes is not a whole number of values")
    return list(struct.unpack("<" + code * (len(data) // size), data))


def _signed(value: int, width: int) -> int:
    value &= (1 << width) - 1
    return value - (1 << width) if value >= 1 << (width - 1) else value


_PLAIN = {
    DT["Float"]: "float_value",
    DT["Double"]: "double_value",
    DT["Boolean"]: "boolean_value",
    DT["String"]: "string_value",
    DT["UInt8"]: "int_value",
    DT["UInt16"]: "int_value",
    DT["UInt32"]: "int_value",
    DT["UInt64"]: "long_value",
}


def metric_value(metric: Any, datatype: int) -> Any:
    """The Python value of a decoded metric (None for a null metric)."""
    if metric.is_null:
        return None
    field = _PLAIN.get(datatype)
    if field is not None and metric.WhichOneof("value") == field:
        return getattr(metric, field)  # the common case, without the conversions below
    kind = metric.WhichOneof("value")
    if kind is None:
        return None
    raw = getattr(metric, kind)
    if datatype in _SIGNED_WIDTH:
        return _signed(int(raw), _SIGNED_WIDTH[datatype])
    if datatype == DT["DateTime"]:
        return datetime.fromtimestamp(int(raw) / 1000, tz=timezone.utc)
    if datatype in _ARRAYS or datatype in (DT["BooleanArray"], DT["StringArray"]):
        return decode_array(datatype, raw)
    if kind in ("dataset_value", "template_value"):
        return raw  # kept as the protobuf message; not a machine signal
    return raw


def set_metric_value(metric: Any, datatype: int, value: Any) -> None:
    metric.datatype = datatype
    if value is None:
        metric.is_null = True
    elif datatype in (DT["Int8"], DT["Int16"], DT["Int32"], DT["UInt8"], DT["UInt16"], DT["UInt32"]):
        metric.int_value = int(value) & 0xFFFFFFFF
    elif datatype in (DT["Int64"], DT["UInt64"]):
        metric.long_value = int(value) & 0xFFFFFFFFFFFFFFFF
    elif datatype == DT["DateTime"]:
        metric.long_value = int(value.timestamp() * 1000) if isinstance(value, datetime) else int(value)
    elif datatype == DT["Float"]:
        metric.float_value = float(value)
    elif datatype == DT["Double"]:
        metric.double_value = float(value)
    elif datatype == DT["Boolean"]:
        metric.boolean_value = bool(value)
    elif datatype in (DT["String"], DT["Text"], DT["UUID"]):
        metric.string_value = str(value)
    elif datatype in (DT["Bytes"], DT["File"]):
        metric.bytes_value = bytes(value)
    elif datatype in _ARRAYS or datatype in (DT["BooleanArray"], DT["StringArray"]):
        metric.bytes_value = encode_array(datatype, list(value))
    else:
        raise SparkplugError(f"cannot encode a value of datatype {_NAMES.get(datatype, datatype)}")


def decode_payload(data: bytes) -> Any:
    payload = Payload()
    try:
        payload.ParseFromString(data)
    except Exception as exc:  # noqa: BLE001 - protobuf raises its own DecodeError, and others on garbage
        raise SparkplugError(f"payload is not a Sparkplug B protobuf: {exc}") from None
    return payload


def datatype_for(value: Any) -> int:
    if isinstance(value, bool):
        return DT["Boolean"]
    if isinstance(value, int):
        return DT["Int64"]
    if isinstance(value, float):
        return DT["Double"]
    return DT["String"]
