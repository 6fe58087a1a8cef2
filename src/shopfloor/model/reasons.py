"""Downtime reason and defect codes as people see them: a code (any letters of any script: ``금형교체``), a name
in each language of the floor, a group in the reason tree (``breakdown/electrical``), an optional icon and
colour, and the machines or lines it applies to (none named: every machine).

The plant file's ``reasons:`` key holds them (see the README); a bare code is a reason without names.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from shopfloor.errors import (
    DomainError,
    ReasonCodeBad,
    ReasonColourBad,
    ReasonGroupBad,
    ReasonIconBad,
    ReasonKindUnknown,
    ReasonMachineUnknown,
    ReasonNameBad,
)

# Letters and digits of any script, then also ``_ . -``: the code is what machines and files carry.
REASON_CODE = re.compile(r"^[^\W_][\w.-]{0,63}$")
GROUP = re.compile(r"^[^\W_][\w .-]{0,63}(/[^\W_][\w .-]{0,63}){0,3}$")
COLOUR = re.compile(r"^#[0-9a-fA-F]{6}$")
KINDS = ("downtime", "defects")
# The languages a reason's name may be given in: those of the operator terminal.
NAME_LANGUAGES = ("ko", "en", "vi", "ne", "km", "id", "my", "th", "uz", "fil", "si")
NAME_MAX = 80


@dataclass(frozen=True)
class ReasonCode:
    code: str
    names: dict[str, str] = field(default_factory=dict, compare=False, hash=False)
    group: str | None = None
    icon: str | None = None
    colour: str | None = None
    machines: tuple[str, ...] = ()

    def name(self, lang: str) -> str:
        """The name in ``lang``, else in English, else the code."""
        return self.names.get(lang) or self.names.get("en") or self.code

    def applies_to(self, machine: str, line: str | None) -> bool:
        return not self.machines or machine in self.machines or (line is not None and line in self.machines)

    def to_dict(self) -> dict[str, Any] | str:
        """A bare code when it has nothing else, else the mapping ``read_reason`` reads."""
        out: dict[str, Any] = {"code": self.code}
        if self.names:
            out["names"] = dict(self.names)
        for key in ("group", "icon", "colour"):
            if getattr(self, key):
                out[key] = getattr(self, key)
        if self.machines:
            out["machines"] = list(self.machines)
        return out if len(out) > 1 else self.code


def read_reason(value: Any, path: str, known: set[str], problems: list[str]) -> ReasonCode | None:
    """One entry of ``reasons.downtime`` or ``reasons.defects``: a code, or a mapping with ``code`` and any of
    ``names`` (language: name), ``group``, ``icon``, ``colour`` (#rrggbb), ``machines`` (machine or line codes,
    which must be in ``known``).  Problems are appended to ``problems``."""
    if isinstance(value, str):
        value = {"code": value}
    if not isinstance(value, dict):
        problems.append(f"{path}: expected a code or a mapping with code, names, group, icon, colour, machines")
        return None
    unknown = set(value) - {"code", "names", "group", "icon", "colour", "machines"}
    for key in sorted(unknown):
        problems.append(f"{path}.{key}: unknown key (expected code, names, group, icon, colour, machines)")
    code = value.get("code")
    if not isinstance(code, str) or not REASON_CODE.match(code):
        problems.append(f"{path}.code: {code!r} is not a code (letters or digits of any script, then _ . -, up to 64)")
        return None
    names = value.get("names") or {}
    if not isinstance(names, dict):
        problems.append(f"{path}.names: expected a mapping of language to name")
        names = {}
    clean: dict[str, str] = {}
    for lang, name in names.items():
        if lang not in NAME_LANGUAGES:
            problems.append(f"{path}.names.{lang}: unknown language (expected one of {', '.join(NAME_LANGUAGES)})")
        elif not isinstance(name, str) or not name.strip() or len(name) > NAME_MAX:
            problems.append(f"{path}.names.{lang}: expected a name of 1 to {NAME_MAX} characters")
        else:
            clean[lang] = name.strip()
    group = value.get("group")
    if group is not None and (not isinstance(group, str) or not GROUP.match(group)):
        problems.append(f"{path}.group: {group!r} is not a group path such as breakdown/electrical")
        group = None
    icon = value.get("icon")
    if icon is not None and (not isinstance(icon, str) or not 1 <= len(icon) <= 8):
        problems.append(f"{path}.icon: expected a symbol of 1 to 8 characters")
        icon = None
    colour = value.get("colour")
    if colour is not None and (not isinstance(colour, str) or not COLOUR.match(colour)):
        problems.append(f"{path}.colour: {colour!r} is not a colour such as #d93025")
        colour = None
    machines = value.get("machines") or []
    if not isinstance(machines, list) or not all(isinstance(m, str) for m in machines):
        problems.append(f"{path}.machines: expected a list of machine or line codes")
        machines = []
    for m in machines:
        if m not in known:
            problems.append(f"{path}.machines: {m!r} is not a machine or line of the plant")
    return ReasonCode(code, clean, group, icon, colour, tuple(machines))


def reason_tree(reasons: list[ReasonCode]) -> list[tuple[str, list[ReasonCode]]]:
    """The reasons by group, groups in the order first met, reasons without a group last."""
    groups: dict[str, list[ReasonCode]] = {}
    for r in reasons:
        groups.setdefault(r.group or "", []).append(r)
    return [(g, rs) for g, rs in groups.items() if g] + ([("", groups[""])] if "" in groups else [])


def reason_problems(kind: str, reason: ReasonCode, known: set[str]) -> list[DomainError]:
    """What is wrong with ``reason`` as a ``kind`` code of a plant whose machines and lines are ``known``, as
    typed errors (for a person's form; the plant file's reader says the same in its own words)."""
    out: list[DomainError] = []
    if kind not in KINDS:
        out.append(ReasonKindUnknown(kind=kind))
    if not REASON_CODE.match(reason.code):
        out.append(ReasonCodeBad(code=reason.code))
    for lang, name in reason.names.items():
        if lang not in NAME_LANGUAGES or not name.strip() or len(name) > NAME_MAX:
            out.append(ReasonNameBad(lang=lang, max=NAME_MAX))
    if reason.group is not None and not GROUP.match(reason.group):
        out.append(ReasonGroupBad(group=reason.group))
    if reason.icon is not None and not 1 <= len(reason.icon) <= 8:
        out.append(ReasonIconBad())
    if reason.colour is not None and not COLOUR.match(reason.colour):
        out.append(ReasonColourBad(colour=reason.colour))
    out += [ReasonMachineUnknown(machine=m) for m in reason.machines if m not in known]
    return out
