"""Inspection plans and records: characteristics of a product to inspect, the samples taken (at the terminal,
over the API, from a CSV file, or a machine's process values), and the control chart of each characteristic.

Limits: the first ``phase1`` subgroups of a characteristic set the centre and sigma (phase I); later subgroups
are plotted against those frozen values (phase II).  Until ``phase1`` subgroups exist, the limits come from all
subgroups so far and are marked provisional.  A characteristic without ``phase1`` always uses all the subgroups
shown.  A sample excluded with a reason (an assignable cause) is left out of the phase I estimate and still
charted (revised limits); a voided sample (a wrong entry) is kept with its reason but never charted.  Capability is
computed on the phase I subgroups once the limits are frozen (``options.capability_on``), and says so.

A measurement outside the characteristic's plausible range is refused: ``valid_min`` / ``valid_max`` (e.g. the
gauge's range) when set, else ten tolerances beyond the specification limits, and never beyond +-1e12.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from typing import Any

import numpy as np
from sqlalchemy import Connection, func, insert, select, update

from shopfloor.analytics import spc
from shopfloor.analytics.capability import METHODS as CAPABILITY_METHODS
from shopfloor.analytics.run_rules import RuleSpecError, parse_rules
from shopfloor.analytics.study import CAPABILITY_SETS, control_study
from shopfloor.model.plant import Plant
from shopfloor.store.schema import (
    inspection_characteristics,
    inspection_samples,
    items,
    lots,
    machines,
    measurements,
    operations,
    work_orders,
)

VARIABLE_CHARTS = ("xbar-r", "xbar-s", "imr", "ewma", "cusum")
ATTRIBUTE_CHARTS = ("p", "np", "c", "u")
SOURCES = ("terminal", "api", "csv")
# No measurement is larger than this: beyond it the squares in the statistics overflow.
MAGNITUDE_LIMIT = 1e12
# Without a stated range, a measurement more than this many tolerances beyond a limit is taken for a wrong entry.
TOLERANCES_BEYOND_LIMITS = 10
# Chart options a characteristic may set, with their type and allowed values (see analytics.study).
OPTION_KINDS: dict[str, Any] = {
    "nsigmas": (float, 0.5, 6.0),
    "centre": (float, None, None),
    "sigma": (float, 0.0, None),
    "lambda": (float, 0.0, 1.0),
    "ewma_limits": ("exact", "asymptotic"),
    "k": (float, 0.0, 10.0),
    "h": (float, 0.0, 50.0),
    "sigma_method": spc.SIGMA_METHODS,
    "capability_on": CAPABILITY_SETS,
    "capability_method": CAPABILITY_METHODS,
}


class InspectionError(ValueError):
    """An inspection plan or record that cannot be accepted; the message says why, ``code`` and ``params`` say it
    for a translation."""

    def __init__(self, message: str, code: str = "inspection.invalid", **params: Any):
        super().__init__(message)
        self.code = code
        self.params = params


@dataclass(frozen=True)
class Characteristic:
    id: int
    product: str
    operation_seq: int | None
    code: str
    name: str
    kind: str
    chart: str
    unit: str | None
    nominal: float | None
    lsl: float | None
    usl: float | None
    sample_size: int
    every_parts: int | None
    every_minutes: int | None
    rules: str | None
    phase1: int | None
    machine: str | None
    process_value: str | None
    active: bool
    options: dict[str, Any] | None = None
    valid_min: float | None = None
    valid_max: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def from_process(self) -> bool:
        return self.process_value is not None


FIELDS = [f for f in Characteristic.__dataclass_fields__ if f != "id"]


def _char(row: Any) -> Characteristic:
    return Characteristic(**{f: getattr(row, f) for f in Characteristic.__dataclass_fields__})


def _finite(value: Any, what: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise InspectionError(f"{what} must be a finite number, not {value!r}")
    return float(value)


def check_characteristic(conn: Connection, plant: Plant, spec: dict[str, Any]) -> dict[str, Any]:
    """The characteristic's fields, checked; every problem is named in one error."""
    unknown = set(spec) - set(FIELDS)
    if unknown:
        raise InspectionError(f"unknown fields: {', '.join(sorted(unknown))}")
    problems: list[str] = []
    v = {f: spec.get(f) for f in FIELDS}
    v["active"] = True if v["active"] is None else bool(v["active"])
    v["rules"] = v["rules"] or None
    for key in ("product", "code", "name", "kind", "chart"):
        if not isinstance(v[key], str) or not v[key].strip():
            problems.append(f"{key} is required")
    products = {p.code for p in plant.products}
    if v["product"] and v["product"] not in products:
        if conn.execute(select(items.c.code).where(items.c.code == v["product"])).first() is None:
            problems.append(f"unknown product {v['product']!r}")
    if v["kind"] == "variable":
        if v["chart"] not in VARIABLE_CHARTS:
            problems.append(f"a variable is charted with {', '.join(VARIABLE_CHARTS)}, not {v['chart']!r}")
    elif v["kind"] == "attribute":
        if v["chart"] not in ATTRIBUTE_CHARTS:
            problems.append(f"an attribute is charted with {', '.join(ATTRIBUTE_CHARTS)}, not {v['chart']!r}")
        for key in ("nominal", "lsl", "usl", "machine", "process_value"):
            if v[key] is not None:
                problems.append(f"{key} applies to variables only")
    else:
        problems.append(f"kind must be variable or attribute, not {v['kind']!r}")
    size = v["sample_size"]
    if isinstance(size, bool) or not isinstance(size, int) or size < 1:
        problems.append(f"sample_size must be a whole number of at least 1, not {size!r}")
    elif v["chart"] in ("xbar-r", "xbar-s") and not 2 <= size <= 25:
        problems.append(f"an {v['chart']} chart needs subgroups of 2 to 25, not {size}")
    elif v["chart"] in ("imr", "ewma", "cusum") and size != 1:
        problems.append(f"an {v['chart']} chart plots single values: sample_size must be 1, not {size}")
    try:
        lsl, usl, nominal = (_finite(v[k], k) for k in ("lsl", "usl", "nominal"))
        if lsl is not None and usl is not None and lsl >= usl:
            problems.append(f"lsl {lsl:g} must be below usl {usl:g}")
        if nominal is not None and ((lsl is not None and nominal < lsl) or (usl is not None and nominal > usl)):
            problems.append(f"nominal {nominal:g} lies outside the specification limits")
    except InspectionError as exc:
        problems.append(str(exc))
    for key in ("every_parts", "every_minutes", "phase1", "operation_seq"):
        value = v[key]
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
            problems.append(f"{key} must be a whole number of at least 1, not {value!r}")
    if isinstance(v["phase1"], int) and v["phase1"] < 2:
        problems.append("phase1 needs at least 2 subgroups")
    if v["rules"] is not None:
        try:
            rule_set = parse_rules(v["rules"])
            v["rules"] = rule_set.spec()
            if v["chart"] == "cusum" and rule_set.name != "limits":
                problems.append("a CUSUM chart is judged by its decision interval only: leave rules empty")
        except (RuleSpecError, TypeError) as exc:
            problems.append(str(exc))
    try:
        v["options"] = _check_options(v["options"])
    except InspectionError as exc:
        problems.append(str(exc))
    try:
        vmin, vmax = _finite(v["valid_min"], "valid_min"), _finite(v["valid_max"], "valid_max")
        if vmin is not None and vmax is not None and vmin >= vmax:
            problems.append(f"valid_min {vmin:g} must be below valid_max {vmax:g}")
        for key in ("lsl", "usl", "nominal"):
            limit = v[key]
            if isinstance(limit, (int, float)) and not isinstance(limit, bool):
                if (vmin is not None and limit < vmin) or (vmax is not None and limit > vmax):
                    problems.append(f"{key} {limit:g} lies outside the plausible range valid_min..valid_max")
    except InspectionError as exc:
        problems.append(str(exc))
    if (v["machine"] is None) != (v["process_value"] is None):
        problems.append("a characteristic from process values names both machine and process_value")
    if v["machine"] is not None and v["machine"] not in {m.code for m in plant.machines}:
        problems.append(f"unknown machine {v['machine']!r}")
    if isinstance(v["operation_seq"], int) and v["product"]:
        found = conn.execute(
            select(operations.c.seq).where(operations.c.item == v["product"], operations.c.seq == v["operation_seq"])
        ).first()
        if found is None:
            problems.append(f"{v['product']} has no operation {v['operation_seq']} in its routing")
    if problems:
        raise InspectionError("; ".join(problems))
    return v


def _check_options(options: Any) -> dict[str, Any] | None:
    if options is None:
        return None
    if not isinstance(options, dict):
        raise InspectionError("options must be an object of chart options")
    unknown = set(options) - set(OPTION_KINDS)
    if unknown:
        raise InspectionError(f"unknown chart options: {', '.join(sorted(unknown))}")
    out: dict[str, Any] = {}
    for key, value in options.items():
        if value is None:
            continue
        kind = OPTION_KINDS[key]
        if kind[0] is float:
            number = _finite(value, f"options.{key}")
            low, high = kind[1], kind[2]
            if (low is not None and number <= low) or (high is not None and number > high):
                bounds = f"above {low:g}" + (f" and at most {high:g}" if high is not None else "")
                raise InspectionError(f"options.{key} must be {bounds}, not {number:g}")
            out[key] = number
        elif value not in kind:
            raise InspectionError(f"options.{key} must be one of {', '.join(kind)}, not {value!r}")
        else:
            out[key] = value
    return out or None


def plausible_range(char: Characteristic) -> tuple[float, float]:
    """The range a measurement of ``char`` can have: its stated range, else ten tolerances beyond the limits."""
    low, high = -MAGNITUDE_LIMIT, MAGNITUDE_LIMIT
    if char.lsl is not None and char.usl is not None:
        tolerance = char.usl - char.lsl
        low = char.lsl - TOLERANCES_BEYOND_LIMITS * tolerance
        high = char.usl + TOLERANCES_BEYOND_LIMITS * tolerance
    if char.valid_min is not None:
        low = char.valid_min
    if char.valid_max is not None:
        high = char.valid_max
    return max(low, -MAGNITUDE_LIMIT), min(high, MAGNITUDE_LIMIT)


def check_measurements(char: Characteristic, raw: list[Any]) -> list[float]:
    """The subgroup's values as numbers within the plausible range; a decimal comma is read as a point."""
    low, high = plausible_range(char)
    unit = f" {char.unit}" if char.unit else ""
    nums = []
    for i, x in enumerate(raw):
        try:
            value = _finite(float(str(x).strip().replace(",", ".")) if isinstance(x, str) else x, f"value {i + 1}")
        except ValueError:
            raise InspectionError(
                f"value {i + 1} {x!r} is not a number", "inspection.not_a_number", position=i + 1, value=str(x)
            ) from None
        if not low <= value <= high:  # type: ignore[operator]
            raise InspectionError(
                f"value {i + 1} ({value:g}{unit}) lies outside the plausible range of {char.code}, {low:g} to "
                f"{high:g}{unit}: check the entry (a stated range can be changed in the characteristic's settings)",
                "inspection.implausible",
                position=i + 1,
                value=value,
                low=low,
                high=high,
            )
        nums.append(value)
    return nums


def save_characteristic(conn: Connection, plant: Plant, spec: dict[str, Any]) -> Characteristic:
    """Create the characteristic, or change the one with the same product and code."""
    v = check_characteristic(conn, plant, spec)
    ic = inspection_characteristics.c
    row = conn.execute(select(ic.id).where(ic.product == v["product"], ic.code == v["code"])).first()
    if row is None:
        cid = conn.execute(insert(inspection_characteristics).values(**v)).inserted_primary_key[0]
    else:
        cid = row.id
        conn.execute(update(inspection_characteristics).where(ic.id == cid).values(**v))
    return get(conn, int(cid))


def get(conn: Connection, cid: int) -> Characteristic:
    row = conn.execute(select(inspection_characteristics).where(inspection_characteristics.c.id == cid)).first()
    if row is None:
        raise InspectionError(f"no characteristic {cid}")
    return _char(row)


def find(conn: Connection, product: str, code: str) -> Characteristic:
    ic = inspection_characteristics.c
    row = conn.execute(select(inspection_characteristics).where(ic.product == product, ic.code == code)).first()
    if row is None:
        raise InspectionError(f"no characteristic {code!r} of {product!r}")
    return _char(row)


def characteristics(
    conn: Connection, product: str | None = None, machine: str | None = None, active_only: bool = True
) -> list[Characteristic]:
    """Characteristics, by product; with ``machine``, those inspected there (its own process values, and those of
    the operation whose work centre is the machine, or of products without a routing)."""
    ic = inspection_characteristics.c
    query = select(inspection_characteristics).order_by(ic.product, ic.operation_seq, ic.code)
    if product:
        query = query.where(ic.product == product)
    if active_only:
        query = query.where(ic.active.is_(True))
    out = [_char(r) for r in conn.execute(query)]
    if machine is None:
        return out
    at_machine = {
        (r.item, r.seq) for r in conn.execute(select(operations.c.item, operations.c.seq).where(
            operations.c.work_centre == machine
        ))
    }  # fmt: skip
    return [
        c
        for c in out
        if (c.machine == machine)
        or (c.machine is None and (c.operation_seq is None or (c.product, c.operation_seq) in at_machine))
    ]


# -- samples ------------------------------------------------------------------------------------------------
def record(
    conn: Connection,
    char: Characteristic,
    inspector: str,
    *,
    measurements_: list[Any] | None = None,
    inspected: int | None = None,
    nonconforming: int | None = None,
    defect: str | None = None,
    lot: str | None = None,
    work_order: str | None = None,
    machine: str | None = None,
    ts: datetime | None = None,
    source: str = "api",
    key: str | None = None,
) -> dict[str, Any]:
    """Store one sample (a subgroup of measurements, or a count of nonconforming units or defects); returns it
    with the violations its point completes on the characteristic's chart."""
    if key:
        done = conn.execute(select(inspection_samples).where(inspection_samples.c.key == key)).first()
        if done is not None:
            if done.characteristic_id != char.id:
                raise InspectionError(f"request key {key!r} was already used for another characteristic")
            return _sample_dict(done) | {"violations": _new_violations(conn, char, done.id)}
    if source not in SOURCES:
        raise InspectionError(f"source must be one of {', '.join(SOURCES)}")
    if char.from_process:
        raise InspectionError(f"{char.code} comes from {char.machine}/{char.process_value}: nothing to record by hand")
    values: dict[str, Any] = {}
    if char.kind == "variable":
        if not isinstance(measurements_, list) or not measurements_:
            raise InspectionError(f"{char.code} needs {char.sample_size} measured value(s)")
        nums = check_measurements(char, measurements_)
        if len(nums) != char.sample_size:
            raise InspectionError(f"{char.code} takes {char.sample_size} value(s) per sample, not {len(nums)}")
        values["measurements"] = nums
    else:
        size = char.sample_size if inspected is None and char.chart in ("np", "c") else inspected
        if isinstance(size, bool) or not isinstance(size, int) or size < 1:
            raise InspectionError("inspected must be the number of units inspected (at least 1)")
        if isinstance(nonconforming, bool) or not isinstance(nonconforming, int) or nonconforming < 0:
            raise InspectionError("nonconforming must be a count of 0 or more")
        if char.chart in ("p", "np") and nonconforming > size:
            raise InspectionError(f"{nonconforming} nonconforming of {size} inspected is impossible")
        if char.chart == "np" and size != char.sample_size:
            raise InspectionError(f"an np chart takes samples of {char.sample_size}, not {size}")
        values |= {"inspected": size, "nonconforming": nonconforming}
    if lot is not None and conn.execute(select(lots.c.id).where(lots.c.code == lot)).first() is None:
        raise InspectionError(f"no lot {lot!r}")
    if work_order is not None and (
        conn.execute(select(work_orders.c.id).where(work_orders.c.code == work_order)).first() is None
    ):
        raise InspectionError(f"no work order {work_order!r}")
    sid = conn.execute(
        insert(inspection_samples).values(
            characteristic_id=char.id,
            ts=ts or datetime.now(timezone.utc),
            defect=defect,
            lot=lot,
            work_order=work_order,
            machine=machine,
            inspector=inspector,
            source=source,
            key=key,
            **values,
        )
    ).inserted_primary_key[0]
    row = conn.execute(select(inspection_samples).where(inspection_samples.c.id == sid)).one()
    return _sample_dict(row) | {"violations": _new_violations(conn, char, int(sid))}


def _sample_dict(row: Any) -> dict[str, Any]:
    return {
        "id": int(row.id),
        "ts": row.ts.isoformat(),
        "measurements": row.measurements,
        "inspected": row.inspected,
        "nonconforming": row.nonconforming,
        "defect": row.defect,
        "lot": row.lot,
        "work_order": row.work_order,
        "machine": row.machine,
        "inspector": row.inspector,
        "source": row.source,
        "excluded_reason": row.excluded_reason,
        "void_reason": row.void_reason,
        "voided_by": row.voided_by,
    }


def _sample_row(conn: Connection, char: Characteristic, sample_id: int) -> Any:
    s = inspection_samples.c
    row = conn.execute(
        select(inspection_samples).where(s.id == sample_id, s.characteristic_id == char.id).with_for_update()
    ).first()
    if row is None:
        raise InspectionError(
            f"no sample {sample_id} of {char.code}", "inspection.no_sample", sample=sample_id, characteristic=char.code
        )
    return row


def _reason(reason: Any, what: str) -> str:
    if not isinstance(reason, str) or not reason.strip():
        raise InspectionError(f"a reason is required to {what} a sample", "inspection.reason_required", action=what)
    if len(reason) > 2000:
        raise InspectionError("a reason has at most 2000 characters", "inspection.reason_too_long")
    return reason.strip()


def void_sample(conn: Connection, char: Characteristic, sample_id: int, actor: str, reason: str) -> dict[str, Any]:
    """Void a sample (a wrong entry): it stays stored with who voided it and why, and is never charted again."""
    why = _reason(reason, "void")
    row = _sample_row(conn, char, sample_id)
    if row.void_reason is not None:
        raise InspectionError(
            f"sample {sample_id} was already voided by {row.voided_by}: {row.void_reason}",
            "inspection.already_voided",
            sample=sample_id,
        )
    s = inspection_samples.c
    conn.execute(
        update(inspection_samples)
        .where(s.id == sample_id)
        .values(void_reason=why, voided_by=actor, voided_at=datetime.now(timezone.utc))
    )
    return _sample_dict(conn.execute(select(inspection_samples).where(s.id == sample_id)).one())


def exclude_sample(conn: Connection, char: Characteristic, sample_id: int, reason: str | None) -> dict[str, Any]:
    """Leave a sample out of the phase I limits for an assignable cause (``reason``), or take it back (None); the
    sample stays on the chart and is still tested."""
    why = None if reason is None else _reason(reason, "exclude")
    row = _sample_row(conn, char, sample_id)
    if row.void_reason is not None:
        raise InspectionError(f"sample {sample_id} is voided", "inspection.already_voided", sample=sample_id)
    s = inspection_samples.c
    conn.execute(update(inspection_samples).where(s.id == sample_id).values(excluded_reason=why))
    return _sample_dict(conn.execute(select(inspection_samples).where(s.id == sample_id)).one())


def samples(conn: Connection, char: Characteristic, limit: int = 200) -> list[dict[str, Any]]:
    s = inspection_samples.c
    rows = conn.execute(
        select(inspection_samples).where(s.characteristic_id == char.id).order_by(s.ts.desc(), s.id.desc()).limit(limit)
    ).all()
    return [_sample_dict(r) for r in reversed(rows)]


def samples_of(conn: Connection, *, lots_: list[str] | None = None, orders: list[str] | None = None) -> list[dict]:
    """Samples taken on these lots or for these work orders, with their characteristic (for the trace)."""
    s, ic = inspection_samples.c, inspection_characteristics.c
    cond = []
    if lots_:
        cond.append(s.lot.in_(lots_))
    if orders:
        cond.append(s.work_order.in_(orders))
    if not cond:
        return []
    from sqlalchemy import or_

    rows = conn.execute(
        select(inspection_samples, ic.code.label("characteristic"), ic.lsl, ic.usl, ic.kind)
        .join(inspection_characteristics, ic.id == s.characteristic_id)
        .where(or_(*cond))
        .order_by(s.ts)
    ).all()
    out = []
    for r in rows:
        doc = _sample_dict(r) | {"characteristic": r.characteristic}
        if r.kind == "variable" and r.measurements:
            doc["in_spec"] = all(
                (r.lsl is None or x >= r.lsl) and (r.usl is None or x <= r.usl) for x in r.measurements
            )
        else:
            doc["in_spec"] = not r.nonconforming
        out.append(doc)
    return out


# -- charts -------------------------------------------------------------------------------------------------
def _series(conn: Connection, char: Characteristic, limit: int | None) -> dict[str, Any]:
    """The characteristic's subgroups, oldest first: times, and groups / values / sizes as the chart needs."""
    if char.from_process:
        mid = conn.execute(select(machines.c.id).where(machines.c.code == char.machine)).scalar()
        m = measurements.c
        rows = conn.execute(
            select(m.ts, m.value)
            .where(m.machine_id == mid, m.name == char.process_value, m.value.is_not(None))
            .order_by(m.ts.desc())
            .limit((limit or 100_000) * char.sample_size)
        ).all()[::-1]
        n = char.sample_size
        rows = rows[len(rows) % n :]
        groups = [[float(r.value) for r in rows[i : i + n]] for i in range(0, len(rows), n)]
        return {"ts": [rows[i + n - 1].ts for i in range(0, len(rows), n)], "groups": groups}
    s = inspection_samples.c
    query = (
        select(inspection_samples)
        .where(s.characteristic_id == char.id, s.void_reason.is_(None))
        .order_by(s.ts.desc(), s.id.desc())
    )
    rows = conn.execute(query.limit(limit) if limit else query).all()[::-1]
    return _series_of(char, rows)


def _series_of(char: Characteristic, rows: list[Any]) -> dict[str, Any]:
    out: dict[str, Any] = {
        "ts": [r.ts for r in rows],
        "ids": [int(r.id) for r in rows],
        "excluded": [i for i, r in enumerate(rows) if r.excluded_reason is not None],
    }
    if char.kind == "variable":
        return out | {"groups": [list(r.measurements) for r in rows]}
    return out | {"counts": [int(r.nonconforming) for r in rows], "sizes": [int(r.inspected) for r in rows]}


def _study_args(char: Characteristic, series: dict[str, Any]) -> dict[str, Any]:
    if char.kind == "variable":
        groups = series["groups"]
        if char.chart in ("xbar-r", "xbar-s") or char.sample_size > 1:
            return {"groups": groups}
        return {"values": [g[0] for g in groups]}
    return {"values": series["counts"], "sizes": series["sizes"], "subgroup_size": char.sample_size}


def _options(char: Characteristic) -> dict[str, Any]:
    """The characteristic's chart options as control_study arguments."""
    opts = dict(char.options or {})
    out: dict[str, Any] = {}
    for key, arg in (
        ("nsigmas", "nsigmas"), ("lambda", "lam"), ("ewma_limits", "ewma_limits"), ("k", "k"), ("h", "h"),
        ("sigma_method", "sigma_method"), ("capability_method", "capability_method"),
    ):  # fmt: skip
        if key in opts:
            out[arg] = opts[key]
    return out


def _count(char: Characteristic, series: dict[str, Any]) -> int:
    return len(series["groups"] if char.kind == "variable" else series["counts"])


def frozen_limits(conn: Connection, char: Characteristic) -> dict[str, float] | None:
    """Centre and sigma from the first ``phase1`` subgroups, or None while there are fewer (or no phase1)."""
    if not char.phase1:
        return None
    if char.from_process:
        series = _series_oldest(conn, char, char.phase1)
    else:
        s = inspection_samples.c
        rows = conn.execute(
            select(inspection_samples)
            .where(s.characteristic_id == char.id, s.void_reason.is_(None))
            .order_by(s.ts, s.id)
            .limit(char.phase1)
        ).all()
        series = _series_of(char, rows)
    if _count(char, series) < char.phase1:
        return None
    args = _study_args(char, series)
    exclude = series.get("excluded") or None
    if char.chart in ("ewma", "cusum"):
        # The target and sigma of individual values (or of the subgroups' within sigma) from the phase I points.
        if "groups" in args:
            within = spc.xbar_r(args["groups"], exclude=exclude)[0]
            return {"centre": float(within.centre[0]), "sigma": float(within.extra["sigma"]), "series": series}
        x = np.asarray(args["values"], dtype=float)
        i_chart = spc.imr(x, exclude=exclude)[0]
        return {"centre": float(i_chart.centre[0]), "sigma": float(i_chart.extra["sigma"]), "series": series}
    study = control_study(char.chart, **args, exclude=exclude, **_options(char))
    first = study["charts"][0]
    if char.chart in VARIABLE_CHARTS:
        return {"centre": float(first["centre"]), "sigma": float(first["sigma"]), "series": series}
    centre = float(first["centre"] if not isinstance(first["centre"], list) else first["centre"][0])
    if char.chart == "np":
        centre /= char.sample_size  # np_chart takes p-bar
    return {"centre": centre, "series": series}


def _series_oldest(conn: Connection, char: Characteristic, count: int) -> dict[str, Any]:
    mid = conn.execute(select(machines.c.id).where(machines.c.code == char.machine)).scalar()
    m = measurements.c
    rows = conn.execute(
        select(m.value)
        .where(m.machine_id == mid, m.name == char.process_value, m.value.is_not(None))
        .order_by(m.ts)
        .limit(count * char.sample_size)
    ).all()
    n = char.sample_size
    return {
        "groups": [[float(r.value) for r in rows[i : i + n]] for i in range(0, len(rows) - n + 1, n)],
        "excluded": [],
    }


def chart(conn: Connection, char: Characteristic, limit: int = 100) -> dict[str, Any]:
    """The characteristic's chart over its latest ``limit`` subgroups: the study (charts with limits per point,
    violations, capability for variables with limits), the subgroup times and sample ids, and whether the limits
    are frozen.  Data that cannot make a chart give a ``message`` instead of charts, never an error."""
    series = _series(conn, char, limit)
    count = _count(char, series)
    base: dict[str, Any] = {
        "characteristic": char.to_dict(),
        "ts": [t.isoformat() for t in series["ts"]],
        "sample_ids": series.get("ids", []),
        "indices": "0-based",
    }
    if count < 2:
        return base | {"charts": [], "limits": "none", "message": f"{count} subgroup(s): at least 2 are needed"}
    options = char.options or {}
    extra: dict[str, Any] = _options(char)
    try:
        frozen = frozen_limits(conn, char)
        if frozen is not None:
            extra |= {key: frozen[key] for key in ("centre", "sigma") if key in frozen}
        # A known centre or sigma stated in the settings wins over an estimate.
        extra |= {key: options[key] for key in ("centre", "sigma") if key in options}
        cap_on = options.get("capability_on", "phase1")
        study = control_study(
            char.chart,
            **_study_args(char, series),
            usl=char.usl,
            lsl=char.lsl,
            nominal=char.nominal,
            rules=char.rules,
            exclude=series.get("excluded") if frozen is None else None,
            capability_on="all",
            **extra,
        )
        if "capability" in study and frozen is not None and cap_on == "phase1":
            # Capability of the phase I subgroups (less the excluded ones), with the frozen sigma.
            phase = frozen["series"]
            cap = control_study(
                char.chart, **_study_args(char, phase), usl=char.usl, lsl=char.lsl, nominal=char.nominal,
                exclude=phase.get("excluded") or None, capability_on="phase1", **extra,
            )["capability"]  # fmt: skip
            study["capability"] = cap
    except (spc.SpcError, ValueError, ArithmeticError) as exc:
        return base | {"charts": [], "limits": "none", "message": str(exc)}
    excluded = series.get("excluded", [])
    return (
        base
        | study
        | {"excluded": excluded, "limits": "frozen" if frozen is not None else "provisional" if char.phase1 else "all"}
    )


def _new_violations(conn: Connection, char: Characteristic, sample_id: int) -> list[dict[str, Any]]:
    """Violations completed by the latest point of the chart (after storing ``sample_id``)."""
    doc = chart(conn, char, limit=50)
    out = []
    for c in doc.get("charts", []):
        last = len(c["values"]) - 1
        out += [v | {"chart": c["chart"]} for v in c["violations"] if v["index"] == last]
    return out


def sample_count(conn: Connection, char: Characteristic) -> int:
    s = inspection_samples.c
    return int(conn.execute(select(func.count()).where(s.characteristic_id == char.id)).scalar_one())


def due(conn: Connection, char: Characteristic, machine: str, now: datetime) -> dict[str, Any]:
    """Whether a sample of ``char`` is due at ``machine``: parts made there since its last sample there (good and
    scrap counts) against ``every_parts``, minutes since against ``every_minutes``; due at once when never taken."""
    from shopfloor.store.schema import machine_events

    s = inspection_samples.c
    last = conn.execute(select(func.max(s.ts)).where(s.characteristic_id == char.id, s.machine == machine)).scalar()
    if last is None:
        return {"last": None, "parts_since": None, "minutes_since": None, "due": True}
    me = machine_events.c
    mid = conn.execute(select(machines.c.id).where(machines.c.code == machine)).scalar()
    parts = int(
        conn.execute(
            select(func.coalesce(func.sum(me.quantity), 0)).where(
                me.machine_id == mid, me.kind.in_(["good", "scrap"]), me.ts > last
            )
        ).scalar_one()
    )
    minutes = int((now - last).total_seconds() // 60)
    is_due = bool(
        (char.every_parts and parts >= char.every_parts) or (char.every_minutes and minutes >= char.every_minutes)
    )
    return {"last": last.isoformat(), "parts_since": parts, "minutes_since": minutes, "due": is_due}
