"""The Sparkplug B payload schema: the message classes protobuf's own compiler generates from ``sparkplug_b.proto``.

The ``.proto`` file beside this module, written from the Eclipse Sparkplug 3.0 specification (chapter 6,
"Payloads"), is the single source of truth for field names and numbers.  The install (``setup.py``, with protoc
from grpcio-tools as a build requirement) generates ``sparkplug_b_pb2`` from it; the generated code is not
committed.

``Payload`` is the message every Sparkplug B MQTT message carries; ``DATA_TYPES`` maps the DataType enum's
names to their numbers.
"""

from __future__ import annotations

try:
    from shopfloor.connectors.sparkplug import sparkplug_b_pb2 as _generated
except ImportError as exc:  # a source tree that was never installed
    raise ImportError(
        "the Sparkplug B message classes are generated from sparkplug_b.proto when the package is installed: "
        "run `./run setup` (or `pip install -e .`)"
    ) from exc

Payload = _generated.Payload
DATA_TYPES: dict[str, int] = dict(_generated.DataType.items())
