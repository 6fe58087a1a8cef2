"""The Sparkplug B payload schema: protobuf message classes built at import time from ``sparkplug_b.proto``.

The ``.proto`` file beside this module, written from the Eclipse Sparkplug 3.0 specification (chapter 6,
"Payloads"), is the single source of truth for field names and numbers.  A small parser for the proto2 subset
that file uses (``syntax``, ``package``, ``option``, ``enum``, nested ``message``, ``optional`` / ``repeated``
fields, ``oneof``, ``extensions N to max``) turns it into a ``FileDescriptorProto``; protobuf's descriptor pool
then makes the message classes.  Nothing is generated or committed, and no protoc run is needed.

``Payload`` is the message every Sparkplug B MQTT message carries; ``DATA_TYPES`` maps the DataType enum's
names to their numbers.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import resources

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

F = descriptor_pb2.FieldDescriptorProto
PROTO_FILE = "sparkplug_b.proto"
# "max" in an extensions range is the largest field number, 2**29 - 1 (protobuf language guide, "Assigning
# Field Numbers"); a descriptor's range end is exclusive.
MAX_FIELD_NUMBER = 536_870_911

SCALAR_TYPES = {
    "double": F.TYPE_DOUBLE,
    "float": F.TYPE_FLOAT,
    "int32": F.TYPE_INT32,
    "int64": F.TYPE_INT64,
    "uint32": F.TYPE_UINT32,
    "uint64": F.TYPE_UINT64,
    "sint32": F.TYPE_SINT32,
    "sint64": F.TYPE_SINT64,
    "fixed32": F.TYPE_FIXED32,
    "fixed64": F.TYPE_FIXED64,
    "sfixed32": F.TYPE_SFIXED32,
    "sfixed64": F.TYPE_SFIXED64,
    "bool": F.TYPE_BOOL,
    "string": F.TYPE_STRING,
    "bytes": F.TYPE_BYTES,
}
_LABELS = {"optional": F.LABEL_OPTIONAL, "required": F.LABEL_REQUIRED, "repeated": F.LABEL_REPEATED}

_TOKEN = re.compile(
    r"""(?P<space>\s+)
      | (?P<comment>//[^\n]*|/\*.*?\*/)
      | (?P<string>"[^"\n]*")
      | (?P<number>-?\d+)
      | (?P<ident>[A-Za-z_][A-Za-z0-9_.]*)
      | (?P<symbol>[{}=;\[\](),<>])""",
    re.VERBOSE | re.DOTALL,
)


class ProtoSyntaxError(ValueError):
    """The schema text is not in the proto2 subset this parser reads; the message names the line."""


@dataclass(frozen=True, slots=True)
class _Token:
    kind: str
    text: str
    line: int


def _tokens(text: str) -> list[_Token]:
    out: list[_Token] = []
    pos, line = 0, 1
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None:
            raise ProtoSyntaxError(f"line {line}: unexpected character {text[pos]!r}")
        kind = match.lastgroup or ""
        if kind not in ("space", "comment"):
            out.append(_Token(kind, match.group(), line))
        line += match.group().count("\n")
        pos = match.end()
    return out


class _Parser:
    """Recursive descent over the token list; field types are resolved after the whole file is read."""

    def __init__(self, text: str):
        self.tokens = _tokens(text)
        self.pos = 0
        self.package = ""
        self.known: dict[str, int] = {}  # fully qualified message and enum names -> TYPE_MESSAGE or TYPE_ENUM
        self.unresolved: list[tuple[descriptor_pb2.FieldDescriptorProto, str, str, int]] = []

    # -- tokens --------------------------------------------------------------------------------------------
    def _line(self) -> int:
        return self.tokens[min(self.pos, len(self.tokens) - 1)].line if self.tokens else 1

    def _peek(self) -> str | None:
        return self.tokens[self.pos].text if self.pos < len(self.tokens) else None

    def _take(self, expected: str | None = None, kind: str | None = None) -> str:
        if self.pos >= len(self.tokens):
            raise ProtoSyntaxError(f"line {self._line()}: unexpected end of file (expected {expected or kind})")
        token = self.tokens[self.pos]
        if expected is not None and token.text != expected:
            raise ProtoSyntaxError(f"line {token.line}: expected {expected!r}, found {token.text!r}")
        if kind is not None and token.kind != kind:
            raise ProtoSyntaxError(f"line {token.line}: expected a {kind}, found {token.text!r}")
        self.pos += 1
        return token.text

    def _number(self) -> int:
        return int(self._take(kind="number"))

    def _skip_statement(self) -> None:
        while self._take() != ";":
            pass

    # -- grammar -------------------------------------------------------------------------------------------
    def parse(self, name: str) -> descriptor_pb2.FileDescriptorProto:
        fd = descriptor_pb2.FileDescriptorProto(name=name)
        while self._peek() is not None:
            word = self._take(kind="ident")
            if word == "syntax":
                self._take("=")
                syntax = self._take(kind="string").strip('"')
                if syntax != "proto2":
                    raise ProtoSyntaxError(f"line {self._line()}: only proto2 is supported, not {syntax!r}")
                fd.syntax = syntax
                self._take(";")
            elif word == "package":
                self.package = fd.package = self._take(kind="ident")
                self._take(";")
            elif word == "option":
                self._skip_statement()
            elif word == "enum":
                self._enum(fd.enum_type.add(), self.package)
            elif word == "message":
                self._message(fd.message_type.add(), self.package)
            else:
                raise ProtoSyntaxError(f"line {self._line()}: {word!r} is not supported at file level")
        self._resolve()
        return fd

    def _qualify(self, scope: str, name: str, kind: int) -> str:
        full = f"{scope}.{name}" if scope else name
        if full in self.known:
            raise ProtoSyntaxError(f"line {self._line()}: {full} is defined twice")
        self.known[full] = kind
        return full

    def _enum(self, enum: descriptor_pb2.EnumDescriptorProto, scope: str) -> None:
        enum.name = self._take(kind="ident")
        self._qualify(scope, enum.name, F.TYPE_ENUM)
        self._take("{")
        while self._peek() != "}":
            if self._peek() == "option":
                self._skip_statement()
                continue
            name = self._take(kind="ident")
            self._take("=")
            enum.value.add(name=name, number=self._number())
            self._take(";")
        self._take("}")

    def _message(self, msg: descriptor_pb2.DescriptorProto, scope: str) -> None:
        msg.name = self._take(kind="ident")
        full = self._qualify(scope, msg.name, F.TYPE_MESSAGE)
        self._take("{")
        while self._peek() != "}":
            word = self._take(kind="ident")
            if word == "message":
                self._message(msg.nested_type.add(), full)
            elif word == "enum":
                self._enum(msg.enum_type.add(), full)
            elif word in _LABELS:
                self._field(msg, full, _LABELS[word], None)
            elif word == "oneof":
                msg.oneof_decl.add(name=self._take(kind="ident"))
                self._take("{")
                while self._peek() != "}":
                    self._field(msg, full, F.LABEL_OPTIONAL, len(msg.oneof_decl) - 1)
                self._take("}")
            elif word == "extensions":
                start = self._number()
                self._take("to")
                end = self._take()
                last = MAX_FIELD_NUMBER if end == "max" else int(end)
                msg.extension_range.add(start=start, end=last + 1)
                self._take(";")
            elif word in ("option", "reserved"):
                self._skip_statement()
            else:
                raise ProtoSyntaxError(f"line {self._line()}: {word!r} is not supported inside message {full}")
        self._take("}")

    def _field(self, msg: descriptor_pb2.DescriptorProto, scope: str, label: int, oneof: int | None) -> None:
        line = self._line()
        type_name = self._take(kind="ident")
        field = msg.field.add(name=self._take(kind="ident"), label=label)
        self._take("=")
        field.number = self._number()
        if not 1 <= field.number <= MAX_FIELD_NUMBER:
            raise ProtoSyntaxError(f"line {line}: field number {field.number} of {field.name} is out of range")
        if self._peek() == "[":
            while self._take() != "]":
                pass
        self._take(";")
        if oneof is not None:
            field.oneof_index = oneof
        if type_name in SCALAR_TYPES:
            field.type = SCALAR_TYPES[type_name]
        else:
            self.unresolved.append((field, type_name, scope, line))

    def _resolve(self) -> None:
        """Find each named type from the innermost scope outwards, as protoc does for relative names."""
        for field, type_name, scope, line in self.unresolved:
            parts = scope.split(".")
            for depth in range(len(parts), -1, -1):
                candidate = ".".join([*parts[:depth], type_name])
                if candidate in self.known:
                    field.type_name = f".{candidate}"
                    field.type = self.known[candidate]
                    break
            else:
                raise ProtoSyntaxError(f"line {line}: unknown type {type_name!r} for field {field.name}")


def parse_proto(text: str, name: str = PROTO_FILE) -> descriptor_pb2.FileDescriptorProto:
    """The FileDescriptorProto of ``text`` (a proto2 schema in the subset described in the module docstring)."""
    return _Parser(text).parse(name)


def _load() -> descriptor_pb2.FileDescriptorProto:
    text = resources.files(__package__).joinpath(PROTO_FILE).read_text(encoding="utf-8")
    # A name of our own in the pool keeps this schema apart from any other copy of the Sparkplug schema
    # another library might register in protobuf's default pool.
    return parse_proto(text, f"shopfloor/{PROTO_FILE}")


FILE_DESCRIPTOR = _load()
_pool = descriptor_pool.DescriptorPool()
_pool.Add(FILE_DESCRIPTOR)
PACKAGE = FILE_DESCRIPTOR.package

Payload = message_factory.GetMessageClass(_pool.FindMessageTypeByName(f"{PACKAGE}.Payload"))
DATA_TYPES: dict[str, int] = {v.name: v.number for v in _pool.FindEnumTypeByName(f"{PACKAGE}.DataType").values}
