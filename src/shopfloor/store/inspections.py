"""Inspection plans and records: characteristics of a product to inspect, the samples taken (at the terminal,
over the API, from a CSV file, or a machine's process values), and the control chart of each characteristic.

Limits: the first ``phase1`` subgroups of a characteristic set the centre and sigma (phase I); later subgroups
are plotted against those frozen values (phase II).  Until ``phase1`` subgroups exist, the limits come from all
subgroups so far and are marked provisional.  A characteristic without ``phase1`` always uses all the subgroups
shown.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import Connection, func, insert, select, update

from shopfloor.analytics import spc
from shopfloor.analytics.study import control_study
from shopfloor.model.plant import Plant
from shopfloor.store.locks import lock_name
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


class InspectionError(ValueError):
    """An inspection plan or record that cannot be accepted; the message says why."""


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
    rules: str
    phase1: int | None
    machine: str | None
    process_value: str | None
    active: bool

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
    v["rules"] = v["rules"] or "nelson"
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
    if v["rules"] not in ("nelson", "we"):
        problems.append(f"rules must be nelson or we, not {v['rules']!r}")
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


def save_characteristic(conn: Connection, plant: Plant, spec: dict[str, Any]) -> Characteristic:
    """Create the characteristic, or change the one with the same product and code."""
    v = check_characteristic(conn, plant, spec)
    ic = inspection_characteristics.c
    lock_name(conn, "characteristic", v["product"], v["code"])
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
        lock_name(conn, "sample_key", key)
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
        nums = []
        for i, x in enumerate(measurements_):
            try:
                nums.append(_finite(float(str(x).replace(",", ".")) if isinstance(x, str) else x, f"value {i + 1}"))
            except ValueError:
                raise InspectionError(f"value {i + 1} {x!r} is not a number") from None
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
    }


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
    query = select(inspection_samples).where(s.characteristic_id == char.id).order_by(s.ts.desc(), s.id.desc())
    rows = conn.execute(query.limit(limit) if limit else query).all()[::-1]
    if char.kind == "variable":
        return {"ts": [r.ts for r in rows], "groups": [list(r.measurements) for r in rows]}
    return {
        "ts": [r.ts for r in rows],
        "counts": [int(r.nonconforming) for r in rows],
        "sizes": [int(r.inspected) for r in rows],
    }


def _study_args(char: Characteristic, series: dict[str, Any]) -> dict[str, Any]:
    if char.kind == "variable":
        groups = series["groups"]
        if char.chart in ("xbar-r", "xbar-s"):
            return {"groups": groups}
        return {"values": [g[0] for g in groups]}
    return {"values": series["counts"], "sizes": series["sizes"], "subgroup_size": char.sample_size}


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
            select(inspection_samples).where(s.characteristic_id == char.id).order_by(s.ts, s.id).limit(char.phase1)
        ).all()
        series = (
            {"groups": [list(r.measurements) for r in rows]}
            if char.kind == "variable"
            else {"counts": [int(r.nonconforming) for r in rows], "sizes": [int(r.inspected) for r in rows]}
        )
    if _count(char, series) < char.phase1:
        return None
    study = control_study(char.chart, **_study_args(char, series))
    first = study["charts"][0]
    if char.chart in VARIABLE_CHARTS:
        if char.chart in ("ewma", "cusum"):
            values = _study_args(char, series)["values"]
            i_chart = spc.imr(values)[0]
            return {"centre": float(i_chart.centre[0]), "sigma": float(i_chart.extra["sigma"])}
        return {"centre": float(first["centre"]), "sigma": float(first["sigma"])}
    centre = float(first["centre"] if not isinstance(first["centre"], list) else first["centre"][0])
    if char.chart == "np":
        centre /= char.sample_size  # np_chart takes p-bar
    return {"centre": centre}


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
    return {"groups": [[float(r.value) for r in rows[i : i + n]] for i in range(0, len(rows) - n + 1, n)]}


def chart(conn: Connection, char: Characteristic, limit: int = 100) -> dict[str, Any]:
    """The characteristic's chart over its latest ``limit`` subgroups: the study (charts with limits per point,
    violations, capability for variables with limits), the subgroup times, and whether the limits are frozen."""
    series = _series(conn, char, limit)
    count = _count(char, series)
    base: dict[str, Any] = {"characteristic": char.to_dict(), "ts": [t.isoformat() for t in series["ts"]]}
    if count < 2:
        return base | {"charts": [], "limits": "none", "message": f"{count} subgroup(s): at least 2 are needed"}
    frozen = frozen_limits(conn, char)
    extra: dict[str, Any] = {}
    if frozen is not None:
        if char.chart in ("ewma", "cusum"):
            extra = {"target": frozen["centre"], "sigma": frozen["sigma"]}
        else:
            extra = dict(frozen)
    try:
        study = control_study(
            char.chart, **_study_args(char, series), usl=char.usl, lsl=char.lsl, rules=char.rules, **extra
        )
    except (spc.SpcError, ValueError) as exc:
        return base | {"charts": [], "limits": "none", "message": str(exc)}
    return base | study | {"limits": "frozen" if frozen is not None else "provisional" if char.phase1 else "all"}


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
