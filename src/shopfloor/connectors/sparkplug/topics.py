"""The Sparkplug B topic namespace (Eclipse Sparkplug 3.0, chapter 4 "Topics and Messages").

Edge node and device messages: ``spBv1.0/<group_id>/<message_type>/<edge_node_id>[/<device_id>]``.
Host application state: ``spBv1.0/STATE/<sparkplug_host_id>``.

group_id, edge_node_id, device_id and host id are UTF-8 strings without ``+``, ``/`` and ``#`` (the MQTT
wildcards and level separator) and without U+0000 (not allowed in an MQTT topic).  A device id is required for
DBIRTH, DDEATH, DDATA and DCMD and not allowed for NBIRTH, NDEATH, NDATA, NCMD and STATE.
"""

from __future__ import annotations

from dataclasses import dataclass

from shopfloor.connectors.sparkplug.errors import SparkplugError

NAMESPACE = "spBv1.0"
NODE_MESSAGE_TYPES = ("NBIRTH", "NDEATH", "NDATA", "NCMD")
DEVICE_MESSAGE_TYPES = ("DBIRTH", "DDEATH", "DDATA", "DCMD")
MESSAGE_TYPES = (*NODE_MESSAGE_TYPES, *DEVICE_MESSAGE_TYPES, "STATE")


class TopicError(SparkplugError):
    """A topic outside the Sparkplug B namespace rules; the message names the topic and the rule."""


@dataclass(frozen=True, slots=True)
class Topic:
    """A parsed Sparkplug topic.  For STATE only ``host_id`` is set; otherwise ``group`` and ``edge_node``."""

    group: str | None
    message_type: str
    edge_node: str | None
    device: str | None = None
    host_id: str | None = None

    def __str__(self) -> str:
        if self.message_type == "STATE":
            return f"{NAMESPACE}/STATE/{self.host_id}"
        tail = f"/{self.device}" if self.device is not None else ""
        return f"{NAMESPACE}/{self.group}/{self.message_type}/{self.edge_node}{tail}"

    @property
    def node(self) -> tuple[str, str]:
        """The edge node descriptor (group id, edge node id), unique in a Sparkplug system."""
        return (self.group or "", self.edge_node or "")


def check_id(value: str, what: str) -> str:
    """``value`` if it is a valid Sparkplug id, else a TopicError naming ``what`` was wrong."""
    if not isinstance(value, str) or not value:
        raise TopicError(f"{what} must be a non-empty string, not {value!r}")
    bad = sorted({c for c in value if c in "+/#\x00"})
    if bad:
        raise TopicError(f"{what} {value!r} must not contain {' '.join(repr(c) for c in bad)}")
    return value


def parse_topic(topic: str) -> Topic:
    """The parts of a Sparkplug B topic; TopicError when it breaks a rule of the namespace."""
    parts = topic.split("/")
    if parts[0] != NAMESPACE:
        raise TopicError(f"topic {topic!r} is not in the {NAMESPACE} namespace")
    if len(parts) >= 2 and parts[1] == "STATE":
        if len(parts) != 3:
            raise TopicError(f"topic {topic!r}: a host state topic is {NAMESPACE}/STATE/<host_id>")
        return Topic(None, "STATE", None, host_id=check_id(parts[2], "host id"))
    if len(parts) not in (4, 5):
        raise TopicError(f"topic {topic!r} must be {NAMESPACE}/<group>/<message type>/<edge node>[/<device>]")
    group, message_type, edge = parts[1], parts[2], parts[3]
    if message_type not in MESSAGE_TYPES:
        raise TopicError(f"topic {topic!r}: {message_type!r} is not a Sparkplug message type")
    check_id(group, "group id")
    check_id(edge, "edge node id")
    device = parts[4] if len(parts) == 5 else None
    if message_type in DEVICE_MESSAGE_TYPES and device is None:
        raise TopicError(f"topic {topic!r}: a {message_type} must name a device")
    if message_type in NODE_MESSAGE_TYPES and device is not None:
        raise TopicError(f"topic {topic!r}: a {message_type} must not name a device")
    if device is not None:
        check_id(device, "device id")
    return Topic(group, message_type, edge, device)


def node_topic(group: str, message_type: str, edge_node: str, device: str | None = None) -> str:
    """The topic of an edge node or device message, with every id checked."""
    if message_type not in NODE_MESSAGE_TYPES and message_type not in DEVICE_MESSAGE_TYPES:
        raise TopicError(f"{message_type!r} is not an edge node or device message type")
    if (message_type in DEVICE_MESSAGE_TYPES) != (device is not None):
        raise TopicError(f"a {message_type} {'must' if device is None else 'must not'} name a device")
    check_id(group, "group id")
    check_id(edge_node, "edge node id")
    if device is not None:
        check_id(device, "device id")
    return str(Topic(group, message_type, edge_node, device))


def state_topic(host_id: str) -> str:
    """``spBv1.0/STATE/<host_id>``, where a host application publishes its birth and death (retained, QoS 1)."""
    return f"{NAMESPACE}/STATE/{check_id(host_id, 'host id')}"
