"""The plant after ISA-95 (site > area > line > machine), its products and their ideal cycle times.

Plain dataclasses and validation only; no I/O.  ``Plant.from_dict`` accepts the shape of the plant YAML file
(see ``shopfloor import plant``) and reports every problem it finds with its path in the document.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from shopfloor.model.calendar import Calendar, CalendarError, calendar_from_dict
from shopfloor.model.reasons import KINDS, ReasonCode, read_reason
from shopfloor.model.tags import MappingError, parse_tags

CODE_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


MAX_CYCLE_S = 7 * 24 * 3600  # an ideal cycle of more than a week is a typing error


class PlantError(ValueError):
    """The plant document is invalid; ``problems`` lists each problem with its path in the document."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("invalid plant file:\n" + "\n".join(f"  - {p}" for p in problems))


@dataclass(frozen=True)
class Machine:
    code: str
    name: str
    line: str
    area: str
    tags: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)
    connector: dict[str, Any] | None = field(default=None, compare=False, hash=False)
    kind: str | None = None  # the machine's type as the plant names it (press, laser welder, CNC lathe)


@dataclass(frozen=True)
class Line:
    code: str
    name: str
    area: str
    machines: tuple[Machine, ...]


@dataclass(frozen=True)
class Area:
    code: str
    name: str
    lines: tuple[Line, ...]


@dataclass(frozen=True)
class Product:
    """A product and its ISO 22400 planned run time per unit (PRU, the ideal cycle time), in seconds.

    ``ideal_cycle_s`` applies on every machine unless ``cycle_by_machine`` names a machine-specific value.
    """

    code: str
    name: str
    ideal_cycle_s: float | None
    cycle_by_machine: dict[str, float] = field(default_factory=dict, compare=False, hash=False)

    def ideal_cycle_on(self, machine: str) -> float | None:
        return self.cycle_by_machine.get(machine, self.ideal_cycle_s)


@dataclass(frozen=True)
class Site:
    code: str
    name: str
    timezone: str

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


CONNECTOR_TYPES = ("opcua", "modbus", "mqtt", "mtconnect")


@dataclass(frozen=True)
class ConnectorSpec:
    """A data source shared by machines: its protocol ``type`` and protocol options (endpoint, ...).

    Each machine names its source under ``connector: {name: ..., <per-machine options>}``.
    """

    name: str
    type: str
    options: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)


@dataclass(frozen=True)
class Plant:
    site: Site
    areas: tuple[Area, ...]
    products: tuple[Product, ...]
    calendar: Calendar
    connectors: tuple[ConnectorSpec, ...] = ()
    downtime_reasons: tuple[str, ...] = ()
    defect_codes: tuple[str, ...] = ()
    # Names, group, icon, colour and machines of the codes above that have any (``shopfloor.model.reasons``).
    reason_details: tuple[ReasonCode, ...] = field(default=(), compare=False)

    def reason(self, code: str) -> ReasonCode:
        """The reason or defect code with its details (a bare one when it has none)."""
        for r in self.reason_details:
            if r.code == code:
                return r
        return ReasonCode(code)

    def reason_name(self, code: str | None, lang: str) -> str:
        return "" if code is None else self.reason(code).name(lang)

    def reasons_for(self, kind: str, machine: str | None = None) -> list[ReasonCode]:
        """The downtime reasons (``kind`` "downtime") or defect codes ("defects") offered at ``machine``."""
        codes = self.downtime_reasons if kind == "downtime" else self.defect_codes
        line = None
        if machine is not None:
            try:
                line = self.machine(machine).line
            except KeyError:
                line = None
        out = [self.reason(c) for c in codes]
        return [r for r in out if machine is None or r.applies_to(machine, line)]

    @property
    def lines(self) -> list[Line]:
        return [line for area in self.areas for line in area.lines]

    @property
    def machines(self) -> list[Machine]:
        return [m for line in self.lines for m in line.machines]

    def machine(self, code: str) -> Machine:
        for m in self.machines:
            if m.code == code:
                return m
        raise KeyError(code)

    def line(self, code: str) -> Line:
        for line in self.lines:
            if line.code == code:
                return line
        raise KeyError(code)

    def product(self, code: str) -> Product:
        for p in self.products:
            if p.code == code:
                return p
        raise KeyError(code)

    def ideal_cycle(self, product: str | None, machine: str) -> float | None:
        """PRU of ``product`` on ``machine`` in seconds, or None when unknown."""
        if product is None:
            return None
        try:
            return self.product(product).ideal_cycle_on(machine)
        except KeyError:
            return None

    @classmethod
    def from_dict(cls, doc: Any) -> Plant:
        return _PlantReader().read(doc)

    def to_dict(self) -> dict[str, Any]:
        """The plant as a document of the same shape that ``from_dict`` reads."""
        return {
            "site": {"code": self.site.code, "name": self.site.name, "timezone": self.site.timezone},
            "areas": [
                {
                    "code": a.code,
                    "name": a.name,
                    "lines": [
                        {
                            "code": ln.code,
                            "name": ln.name,
                            "machines": [_machine_to_dict(m) for m in ln.machines],
                        }
                        for ln in a.lines
                    ],
                }
                for a in self.areas
            ],
            "products": [_product_to_dict(p) for p in self.products],
            "calendar": self.calendar.to_dict(),
            **(
                {"connectors": [{"name": c.name, "type": c.type, **c.options} for c in self.connectors]}
                if self.connectors
                else {}
            ),
            **(
                {
                    "reasons": {
                        "downtime": [self.reason(c).to_dict() for c in self.downtime_reasons],
                        "defects": [self.reason(c).to_dict() for c in self.defect_codes],
                    }
                }
                if self.downtime_reasons or self.defect_codes
                else {}
            ),
        }

    def machines_of(self, connector: str) -> list[Machine]:
        """Machines whose data comes from the named connector."""
        return [m for m in self.machines if m.connector and m.connector.get("name") == connector]


def _machine_to_dict(m: Machine) -> dict[str, Any]:
    d: dict[str, Any] = {"code": m.code, "name": m.name}
    if m.kind:
        d["type"] = m.kind
    if m.tags:
        d["tags"] = m.tags
    if m.connector:
        d["connector"] = m.connector
    return d


def _product_to_dict(p: Product) -> dict[str, Any]:
    d: dict[str, Any] = {"code": p.code, "name": p.name, "ideal_cycle_s": p.ideal_cycle_s}
    if p.cycle_by_machine:
        d["cycle_by_machine"] = dict(p.cycle_by_machine)
    return d


class _PlantReader:
    """Validates a plant document, collecting every problem instead of stopping at the first."""

    def __init__(self) -> None:
        self.problems: list[str] = []

    def read(self, doc: Any) -> Plant:
        if not isinstance(doc, dict):
            raise PlantError(["the document must be a mapping with keys site, areas, products, calendar"])
        unknown = set(doc) - {"site", "areas", "products", "calendar", "connectors", "reasons"}
        for key in sorted(unknown):
            self.problems.append(f"{key}: unknown key (expected site, areas, products, calendar, connectors, reasons)")
        site = self._site(doc.get("site"))
        areas = self._areas(doc.get("areas"))
        machine_codes = {m.code for a in areas for ln in a.lines for m in ln.machines}
        products = self._products(doc.get("products", []), machine_codes)
        calendar = self._calendar(doc.get("calendar", {}))
        self._tags([m for a in areas for ln in a.lines for m in ln.machines], {p.code for p in products})
        connectors = self._connectors(doc.get("connectors"), [m for a in areas for ln in a.lines for m in ln.machines])
        known = machine_codes | {ln.code for a in areas for ln in a.lines}
        downtime, defects, details = self._reasons(doc.get("reasons"), known)
        if self.problems:
            raise PlantError(self.problems)
        assert site is not None and calendar is not None
        return Plant(
            downtime_reasons=downtime,
            defect_codes=defects,
            reason_details=details,
            site=site,
            areas=tuple(areas),
            products=tuple(products),
            calendar=calendar,
            connectors=tuple(connectors),
        )

    def _reasons(self, value: Any, known: set[str]) -> tuple[tuple[str, ...], tuple[str, ...], tuple[ReasonCode, ...]]:
        """Downtime reasons and defect codes: ``reasons: {downtime: [...], defects: [...]}``, each entry a code or a
        mapping with its names, group, icon, colour and machines (``shopfloor.model.reasons.read_reason``)."""
        if value is None:
            return (), (), ()
        if not isinstance(value, dict):
            self.problems.append("reasons: expected a mapping with downtime and defects lists")
            return (), (), ()
        for key in sorted(set(value) - set(KINDS)):
            self.problems.append(f"reasons.{key}: unknown key (expected downtime, defects)")
        out: list[tuple[str, ...]] = []
        details: list[ReasonCode] = []
        for key in KINDS:
            read = [
                read_reason(c, f"reasons.{key}[{i}]", known, self.problems)
                for i, c in enumerate(self._list(value.get(key), f"reasons.{key}"))
            ]
            codes = [r.code for r in read if r is not None]
            if len(set(codes)) != len(codes):
                self.problems.append(f"reasons.{key}: a code appears twice")
            out.append(tuple(codes))
            details += [r for r in read if r is not None and r.to_dict() != r.code]
        return out[0], out[1], tuple(details)

    def _tags(self, machines: list[Machine], products: set[str]) -> None:
        for m in machines:
            if m.tags:
                try:
                    parse_tags(m.code, m.tags, products)
                except MappingError as exc:
                    self.problems.extend(exc.problems)

    def _connectors(self, value: Any, machines: list[Machine]) -> list[ConnectorSpec]:
        out: list[ConnectorSpec] = []
        names: set[str] = set()
        for i, c in enumerate(self._list(value, "connectors")):
            path = f"connectors[{i}]"
            cd = self._mapping(c, path, ("name", "type"))
            if cd is None:
                continue
            name = self._code(cd.get("name"), f"{path}.name")
            if name in names:
                self.problems.append(f"{path}.name: connector {name!r} defined twice")
            names.add(name)
            ctype = cd.get("type")
            if "type" in cd and ctype not in CONNECTOR_TYPES:
                self.problems.append(f"{path}.type: {ctype!r} is not one of {', '.join(CONNECTOR_TYPES)}")
            options = {k: v for k, v in cd.items() if k not in ("name", "type")}
            out.append(ConnectorSpec(name=name, type=str(ctype), options=options))
        for m in machines:
            if m.connector is not None and m.connector.get("name") not in names:
                self.problems.append(
                    f"machine {m.code}: connector {m.connector.get('name')!r} is not defined under connectors"
                )
        return out

    def _code(self, value: Any, path: str) -> str:
        if not isinstance(value, str) or not CODE_PATTERN.match(value):
            self.problems.append(
                f"{path}: code {value!r} must be 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit"
            )
            return str(value)
        return value

    def _mapping(self, value: Any, path: str, required: tuple[str, ...]) -> dict[str, Any] | None:
        if not isinstance(value, dict):
            self.problems.append(f"{path}: expected a mapping, got {type(value).__name__}")
            return None
        for key in required:
            if key not in value:
                self.problems.append(f"{path}.{key}: missing")
        return value

    def _site(self, value: Any) -> Site | None:
        d = self._mapping(value, "site", ("code", "timezone"))
        if d is None:
            return None
        code = self._code(d.get("code"), "site.code")
        tz = d.get("timezone")
        if "timezone" in d:
            try:
                ZoneInfo(str(tz))
            except (ZoneInfoNotFoundError, ValueError):
                self.problems.append(f"site.timezone: {tz!r} is not an IANA time zone (e.g. Asia/Seoul)")
        return Site(code=code, name=str(d.get("name", code)), timezone=str(tz))

    def _list(self, value: Any, path: str) -> list[Any]:
        if value is None:
            return []
        if not isinstance(value, list):
            self.problems.append(f"{path}: expected a list, got {type(value).__name__}")
            return []
        return value

    def _areas(self, value: Any) -> list[Area]:
        areas: list[Area] = []
        seen_machines: dict[str, str] = {}
        seen_lines: dict[str, str] = {}
        items = self._list(value, "areas")
        if not items:
            self.problems.append("areas: at least one area with a line and a machine is required")
        for i, a in enumerate(items):
            apath = f"areas[{i}]"
            ad = self._mapping(a, apath, ("code",))
            if ad is None:
                continue
            acode = self._code(ad.get("code"), f"{apath}.code")
            lines: list[Line] = []
            for j, ln in enumerate(self._list(ad.get("lines"), f"{apath}.lines")):
                lpath = f"{apath}.lines[{j}]"
                ld = self._mapping(ln, lpath, ("code",))
                if ld is None:
                    continue
                lcode = self._code(ld.get("code"), f"{lpath}.code")
                if lcode in seen_lines:
                    self.problems.append(f"{lpath}.code: line {lcode!r} already defined at {seen_lines[lcode]}")
                seen_lines[lcode] = lpath
                machines: list[Machine] = []
                for k, m in enumerate(self._list(ld.get("machines"), f"{lpath}.machines")):
                    mpath = f"{lpath}.machines[{k}]"
                    md = self._mapping(m, mpath, ("code",))
                    if md is None:
                        continue
                    mcode = self._code(md.get("code"), f"{mpath}.code")
                    if mcode in seen_machines:
                        self.problems.append(
                            f"{mpath}.code: machine {mcode!r} already defined at {seen_machines[mcode]}"
                        )
                    seen_machines[mcode] = mpath
                    tags = md.get("tags") or {}
                    if not isinstance(tags, dict):
                        self.problems.append(f"{mpath}.tags: expected a mapping of tag name to its source")
                        tags = {}
                    connector = md.get("connector")
                    if connector is not None and not isinstance(connector, dict):
                        self.problems.append(f"{mpath}.connector: expected a mapping")
                        connector = None
                    kind = md.get("type")
                    if kind is not None and (not isinstance(kind, str) or not 0 < len(kind) <= 64):
                        self.problems.append(f"{mpath}.type: expected a name of 1-64 characters")
                        kind = None
                    machines.append(
                        Machine(
                            code=mcode,
                            name=str(md.get("name", mcode)),
                            line=lcode,
                            area=acode,
                            tags=tags,
                            connector=connector,
                            kind=kind or None,
                        )
                    )
                lines.append(Line(code=lcode, name=str(ld.get("name", lcode)), area=acode, machines=tuple(machines)))
            areas.append(Area(code=acode, name=str(ad.get("name", acode)), lines=tuple(lines)))
        return areas

    def _products(self, value: Any, machine_codes: set[str]) -> list[Product]:
        products: list[Product] = []
        seen: set[str] = set()
        for i, p in enumerate(self._list(value, "products")):
            path = f"products[{i}]"
            pd = self._mapping(p, path, ("code",))
            if pd is None:
                continue
            code = self._code(pd.get("code"), f"{path}.code")
            if code in seen:
                self.problems.append(f"{path}.code: product {code!r} defined twice")
            seen.add(code)
            cycle = self._positive(pd.get("ideal_cycle_s"), f"{path}.ideal_cycle_s", optional=True)
            by_machine: dict[str, float] = {}
            raw = pd.get("cycle_by_machine") or {}
            if not isinstance(raw, dict):
                self.problems.append(f"{path}.cycle_by_machine: expected a mapping of machine code to seconds")
                raw = {}
            for mcode, secs in raw.items():
                if mcode not in machine_codes:
                    self.problems.append(f"{path}.cycle_by_machine.{mcode}: no such machine")
                value_s = self._positive(secs, f"{path}.cycle_by_machine.{mcode}", optional=False)
                if value_s is not None:
                    by_machine[str(mcode)] = value_s
            products.append(
                Product(code=code, name=str(pd.get("name", code)), ideal_cycle_s=cycle, cycle_by_machine=by_machine)
            )
        return products

    def _positive(self, value: Any, path: str, optional: bool) -> float | None:
        if value is None and optional:
            return None
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value <= MAX_CYCLE_S:
            # not 0 < nan, and .inf (YAML for infinity) is more than a week
            self.problems.append(f"{path}: expected a positive number of seconds up to a week, got {value!r}")
            return None
        return float(value)

    def _calendar(self, value: Any) -> Calendar | None:
        try:
            return calendar_from_dict(value)
        except CalendarError as exc:
            self.problems.extend(f"calendar{p}" for p in exc.problems)
            return None
