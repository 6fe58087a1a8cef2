"""Tag mapping rules: which machine signal means state, part count, scrap, alarm, product or a process value.

Configured per machine under ``tags`` in the plant file::

    tags:
      state: {signal: State, map: {0: idle, 1: running, 2: setup, 3: down}, default: idle}
      # or  ranges: [{min: 1, max: 9, state: running}]  or  bits: [{mask: 0x04, state: down}, ...]
      good_count: {signal: GoodCount, bits: 16}      # a PLC counter; or total_count: {signal: ..., bits: 32}
      scrap_count: {signal: ScrapCount, bits: 16, reason: WELD_NG}
      alarm: {signal: AlarmCode, reasons: {101: LASER_FAULT}}   # a non-zero code puts the machine down
      product: {signal: Program, map: {O1001: TM-CASE}}          # counts are attributed to it
      process:
        - {signal: LaserPower, name: laser_power, unit: W, compression: swinging_door, deviation: 5}
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from shopfloor.model.events import MachineState

COUNT_ROLES = ("good_count", "total_count", "scrap_count", "rework_count")
ROLES = ("state", *COUNT_ROLES, "alarm", "product", "process", "program")


class MappingError(ValueError):
    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("invalid tag mapping:\n" + "\n".join(f"  - {p}" for p in problems))


@dataclass(frozen=True)
class StateRule:
    signal: str
    exact: dict[str, MachineState]
    ranges: tuple[tuple[float, float, MachineState], ...]
    bits: tuple[tuple[int, MachineState], ...]
    default: MachineState | None

    def state_of(self, value: Any) -> MachineState | None:
        key = value_key(value)
        if key in self.exact:
            return self.exact[key]
        number = as_number(value)
        if number is not None:
            for lo, hi, state in self.ranges:
                if lo <= number <= hi:
                    return state
            if self.bits and float(number).is_integer():
                for mask, state in self.bits:
                    if int(number) & mask:
                        return state
        return self.default


@dataclass(frozen=True)
class CounterRule:
    role: str
    signal: str
    bits: int | None
    reason: str | None


@dataclass(frozen=True)
class ProcessRule:
    signal: str
    name: str
    unit: str | None
    compression: str
    deviation: float
    max_gap_s: float
    # Live SPC on this value: individuals chart with limits estimated from the first ``spc_baseline`` values
    # (phase I, then frozen) and the ``spc_rules`` set (nelson or we); None when the value is not watched.
    spc_baseline: int | None = None
    spc_rules: str = "nelson"


@dataclass(frozen=True)
class MachineTags:
    machine: str
    state: StateRule | None = None
    counters: tuple[CounterRule, ...] = ()
    alarm_signal: str | None = None
    alarm_reasons: dict[str, str] = field(default_factory=dict)
    product_signal: str | None = None
    product_map: dict[str, str] = field(default_factory=dict)
    product_default: str | None = None
    process: tuple[ProcessRule, ...] = ()
    # The NC program the control reports running (MTConnect PROGRAM, an OPC UA node, a Sparkplug metric): checked
    # against the approved program of the running operation.
    program_signal: str | None = None


def value_key(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def as_number(value: Any) -> float | None:
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, (int, float)):
        return float(value)
    try:
        return float(str(value))
    except ValueError:
        return None


def parse_tags(machine: str, doc: dict[str, Any], products: set[str]) -> MachineTags:
    """Validate one machine's ``tags`` section; every problem is listed with its path."""
    problems: list[str] = []
    path = f"machines.{machine}.tags"
    for key in sorted(set(doc) - set(ROLES)):
        problems.append(f"{path}.{key}: unknown role (expected {', '.join(ROLES)})")

    def signal_of(role: str, spec: Any) -> str | None:
        if not isinstance(spec, dict) or not isinstance(spec.get("signal"), str) or not spec["signal"]:
            problems.append(f"{path}.{role}: expected a mapping with a 'signal' name")
            return None
        return spec["signal"]

    def to_state(value: Any, where: str) -> MachineState | None:
        try:
            return MachineState(str(value))
        except ValueError:
            problems.append(f"{where}: {value!r} is not a state ({', '.join(s.value for s in MachineState)})")
            return None

    state_rule = None
    if "state" in doc:
        spec = doc["state"]
        sig = signal_of("state", spec)
        if sig:
            exact = {}
            for k, v in (spec.get("map") or {}).items():
                st = to_state(v, f"{path}.state.map.{k}")
                if st:
                    exact[value_key(k)] = st
            ranges = []
            for i, r in enumerate(spec.get("ranges") or []):
                st = to_state(r.get("state") if isinstance(r, dict) else None, f"{path}.state.ranges[{i}].state")
                lo, hi = (as_number(r.get("min")), as_number(r.get("max"))) if isinstance(r, dict) else (None, None)
                if lo is None or hi is None or lo > hi:
                    problems.append(f"{path}.state.ranges[{i}]: needs numbers min <= max")
                elif st:
                    ranges.append((lo, hi, st))
            bits = []
            for i, b in enumerate(spec.get("bits") or []):
                st = to_state(b.get("state") if isinstance(b, dict) else None, f"{path}.state.bits[{i}].state")
                mask = b.get("mask") if isinstance(b, dict) else None
                if not isinstance(mask, int) or mask <= 0:
                    problems.append(f"{path}.state.bits[{i}].mask: expected a positive integer bit mask")
                elif st:
                    bits.append((mask, st))
            default = to_state(spec["default"], f"{path}.state.default") if "default" in spec else None
            if not (exact or ranges or bits):
                problems.append(f"{path}.state: give map, ranges or bits to turn signal values into states")
            state_rule = StateRule(sig, exact, tuple(ranges), tuple(bits), default)
    counters = []
    for role in COUNT_ROLES:
        if role not in doc:
            continue
        spec = doc[role]
        sig = signal_of(role, spec)
        bits = spec.get("bits") if isinstance(spec, dict) else None
        if bits not in (None, 16, 32, 64):
            problems.append(f"{path}.{role}.bits: {bits!r} must be 16, 32 or 64 (the PLC counter's width)")
            bits = None
        if sig:
            counters.append(CounterRule(role, sig, bits, spec.get("reason")))
    if "good_count" in doc and "total_count" in doc:
        problems.append(f"{path}: give good_count or total_count, not both")
    alarm_signal, alarm_reasons = None, {}
    if "alarm" in doc:
        alarm_signal = signal_of("alarm", doc["alarm"])
        if isinstance(doc["alarm"], dict):
            alarm_reasons = {value_key(k): str(v) for k, v in (doc["alarm"].get("reasons") or {}).items()}
    product_signal, product_map, product_default = None, {}, None
    if "product" in doc:
        spec = doc["product"]
        if isinstance(spec, dict) and "signal" not in spec and "default" in spec:
            product_signal = None  # a machine that always makes one product needs no signal
        else:
            product_signal = signal_of("product", spec)
        if isinstance(spec, dict):
            product_map = {value_key(k): str(v) for k, v in (spec.get("map") or {}).items()}
            product_default = str(spec["default"]) if spec.get("default") is not None else None
            for k, v in product_map.items():
                if v not in products:
                    problems.append(f"{path}.product.map.{k}: unknown product {v!r}")
            if product_default is not None and product_default not in products:
                problems.append(f"{path}.product.default: unknown product {product_default!r}")
    program_signal = signal_of("program", doc["program"]) if "program" in doc else None
    process = []
    specs = doc.get("process") or []
    if not isinstance(specs, list):
        problems.append(f"{path}.process: expected a list")
        specs = []
    for i, spec in enumerate(specs):
        sig = signal_of(f"process[{i}]", spec)
        if not sig:
            continue
        kind = str(spec.get("compression", "none"))
        deviation = as_number(spec.get("deviation", 0.0))
        if kind not in ("none", "deadband", "swinging_door"):
            problems.append(f"{path}.process[{i}].compression: {kind!r} is not none, deadband or swinging_door")
        if deviation is None or deviation < 0:
            problems.append(f"{path}.process[{i}].deviation: expected a number >= 0")
            deviation = 0.0
        spc_doc = spec.get("spc")
        baseline, rules = None, "nelson"
        if spc_doc is not None:
            if not isinstance(spc_doc, dict):
                problems.append(f"{path}.process[{i}].spc: expected {{baseline: N, rules: nelson|we}}")
            else:
                baseline = spc_doc.get("baseline", 30)
                rules = str(spc_doc.get("rules", "nelson"))
                if not isinstance(baseline, int) or baseline < 10:
                    problems.append(f"{path}.process[{i}].spc.baseline: at least 10 values are needed for limits")
                if rules not in ("nelson", "we"):
                    problems.append(f"{path}.process[{i}].spc.rules: {rules!r} is not nelson or we")
        process.append(
            ProcessRule(
                sig,
                str(spec.get("name", sig)),
                spec.get("unit"),
                kind,
                deviation,
                float(spec.get("max_gap_s", 3600)),
                baseline,
                rules,
            )
        )
    if problems:
        raise MappingError(problems)
    return MachineTags(
        machine,
        state_rule,
        tuple(counters),
        alarm_signal,
        alarm_reasons,
        product_signal,
        product_map,
        product_default,
        tuple(process),
        program_signal,
    )
