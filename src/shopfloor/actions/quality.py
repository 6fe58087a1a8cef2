"""Quality: inspection characteristics, samples (one, or a CSV file of them), nonconformance reports and their
disposition, and process alarms acknowledged.

Live events: ``("characteristic", id)`` when a characteristic or its chart changes, ``("ncr", code)``, the
``("lot", code)`` an NCR holds, scraps or releases, ``("alarm", id)`` and the ``("machine", code)`` whose tile
shows an alarm.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Engine

from shopfloor.actions.core import change
from shopfloor.actions.inspection_import import import_samples, read_samples_file
from shopfloor.errors import AlarmCommentMissing
from shopfloor.store import alarms
from shopfloor.store import inspections as insp
from shopfloor.store import ncr as ncr_store


def save_characteristic(engine: Engine, actor: str, spec: dict[str, Any]) -> dict[str, Any]:
    """Create a characteristic, or change the one with the same product and code."""
    with change(engine, actor) as c:
        char = insp.save_characteristic(c.conn, c.plant(), spec)
        c.audit("quality.characteristic", f"characteristic:{char.id}", char.to_dict())
        c.publish("characteristic", str(char.id))
    return char.to_dict()


def set_chart_settings(
    engine: Engine,
    actor: str,
    characteristic: int,
    *,
    rules: str | None,
    options: dict[str, Any] | None,
    valid_min: float | None,
    valid_max: float | None,
) -> dict[str, Any]:
    """The chart settings of a characteristic (its rules, chart options and plausible range), the rest kept."""
    with change(engine, actor) as c:
        char = insp.get(c.conn, characteristic)
        spec = {key: value for key, value in char.to_dict().items() if key != "id"}
        spec |= {"rules": rules, "options": options, "valid_min": valid_min, "valid_max": valid_max}
        saved = insp.save_characteristic(c.conn, c.plant(), spec)
        c.audit("quality.characteristic", f"characteristic:{saved.id}", saved.to_dict())
        c.publish("characteristic", str(saved.id))
    return saved.to_dict()


def void_sample(engine: Engine, actor: str, characteristic: int, sample: int, *, reason: str) -> dict[str, Any]:
    """Void a sample (a wrong entry): kept with who voided it and why, never charted again."""
    with change(engine, actor) as c:
        doc = insp.void_sample(c.conn, insp.get(c.conn, characteristic), sample, actor, reason)
        c.audit("quality.sample_void", f"sample:{sample}", {"characteristic": characteristic, "reason": reason})
        c.publish("characteristic", str(characteristic))
    return doc


def exclude_sample(
    engine: Engine, actor: str, characteristic: int, sample: int, *, reason: str | None
) -> dict[str, Any]:
    """Leave a sample out of the phase I limits for an assignable cause (``reason``), or take it back (None)."""
    with change(engine, actor) as c:
        doc = insp.exclude_sample(c.conn, insp.get(c.conn, characteristic), sample, reason)
        c.audit("quality.sample_exclude", f"sample:{sample}", {"characteristic": characteristic, "reason": reason})
        c.publish("characteristic", str(characteristic))
    return doc


def record_sample(
    engine: Engine,
    actor: str,
    characteristic: int,
    *,
    measurements: list[Any] | None = None,
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
    """One sample of a characteristic (a subgroup of measurements, or a count of nonconforming units); returns it
    with the rule violations its point completes on the chart."""
    with change(engine, actor) as c:
        char = insp.get(c.conn, characteristic)
        sample = insp.record(
            c.conn,
            char,
            actor,
            measurements_=measurements,
            inspected=inspected,
            nonconforming=nonconforming,
            defect=defect,
            lot=lot,
            work_order=work_order,
            machine=machine,
            ts=ts,
            source=source,
            key=key,
        )
        detail = {k: v for k, v in sample.items() if k not in ("violations", "inspector")}
        c.audit("quality.sample", f"characteristic:{char.id}", detail)
        c.publish("characteristic", str(char.id))
        c.publish("machine", machine)
    return sample


def import_sample_file(engine: Engine, actor: str, content: bytes, filename: str) -> dict[str, int]:
    """Samples from a CSV file: all of them or none, each problem named by its line."""
    read = read_samples_file(content)  # before the write transaction: nobody waits while the file is read
    with change(engine, actor) as c:
        summary = import_samples(c.conn, content, actor, read=read)
        c.audit("quality.samples_import", f"file:{filename}", summary)
        c.publish("characteristic", *(str(cid) for cid in summary.pop("characteristics")))
    return summary


def open_ncr(
    engine: Engine,
    actor: str,
    *,
    description: str,
    lot: str | None = None,
    qty: Any = None,
    work_order: str | None = None,
    machine: str | None = None,
    characteristic_id: int | None = None,
    defect: str | None = None,
    key: str | None = None,
) -> dict[str, Any]:
    """A nonconformance report; the lot it names, if in use, goes on hold."""
    with change(engine, actor) as c:
        doc = ncr_store.open_ncr(
            c.conn,
            description,
            actor,
            lot=lot,
            qty=qty,
            work_order=work_order,
            machine=machine,
            characteristic_id=characteristic_id,
            defect=defect,
            key=key,
        )
        c.audit("quality.ncr_open", f"ncr:{doc['code']}", doc)
        c.publish("ncr", doc["code"])
        c.publish("lot", doc["lot"])
    return doc


def dispose_ncr(engine: Engine, actor: str, code: str, *, disposition: str, note: str) -> dict[str, Any]:
    """Decide an open NCR (scrap, rework, use as is, return to supplier): acts on its lot and closes it."""
    with change(engine, actor) as c:
        doc = ncr_store.dispose(c.conn, code, disposition, note, actor)
        c.audit("quality.ncr_disposition", f"ncr:{code}", {"disposition": disposition, "note": note})
        c.publish("ncr", code)
        c.publish("lot", doc["lot"])
    return doc


def acknowledge_alarm(engine: Engine, actor: str, alarm: int, *, comment: str) -> dict[str, Any]:
    """Acknowledge a process alarm with what was found and done; an alarm is acknowledged once."""
    if not comment.strip():
        raise AlarmCommentMissing()
    with change(engine, actor) as c:
        doc = alarms.acknowledge(c.conn, alarm, actor, comment)
        c.audit("alarm.ack", f"alarm:{alarm}", {"rule": doc["rule"]}, comment)
        c.publish("alarm", str(alarm))
        c.publish("machine", doc["machine"])
    return doc
