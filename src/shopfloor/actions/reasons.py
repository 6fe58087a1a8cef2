"""Downtime reasons and defect codes: add, change or remove one, with its names, group, icon, colour and the
machines or lines it applies to.  They are part of the plant (its ``reasons:`` key); each change is stored as
the plant's latest version with everything else unchanged, so no KPI rollup is rebuilt.  Live event:
``("plant", site)``.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from sqlalchemy import Engine

from shopfloor.actions.core import change
from shopfloor.errors import ReasonExists, ReasonKindUnknown, ReasonNotFound, refuse
from shopfloor.model.reasons import KINDS, ReasonCode, reason_problems
from shopfloor.store.locks import lock_name
from shopfloor.store.plant import load_plant, save_reasons


def _field(kind: str) -> str:
    return "downtime_reasons" if kind == "downtime" else "defect_codes"


def save_reason(
    engine: Engine,
    actor: str,
    kind: str,
    code: str,
    *,
    names: dict[str, str] | None = None,
    group: str | None = None,
    icon: str | None = None,
    colour: str | None = None,
    machines: tuple[str, ...] | list[str] = (),
    new: bool = False,
) -> dict[str, Any]:
    """Add (``new``: refused when the code exists) or change a downtime reason (``kind`` "downtime") or defect
    code ("defects").  Empty names, group, icon and colour are none."""
    if kind not in KINDS:
        raise ReasonKindUnknown(kind=kind)
    reason = ReasonCode(
        code.strip(),
        {lang: name.strip() for lang, name in (names or {}).items() if name and name.strip()},
        (group or "").strip() or None,
        (icon or "").strip() or None,
        (colour or "").strip() or None,
        tuple(m.strip() for m in machines if m.strip()),
    )
    with change(engine, actor) as c:
        lock_name(c.conn, "plant.reasons")
        plant = load_plant(c.conn)
        known = {m.code for m in plant.machines} | {ln.code for ln in plant.lines}
        refuse(reason_problems(kind, reason, known))
        codes = getattr(plant, _field(kind))
        if new and reason.code in codes:
            raise ReasonExists(code=reason.code)
        others = tuple(r for r in plant.reason_details if r.code != reason.code)
        updated = dataclasses.replace(
            plant,
            **{_field(kind): codes if reason.code in codes else (*codes, reason.code)},
            reason_details=(*others, reason) if reason.to_dict() != reason.code else others,
        )
        save_reasons(c.conn, updated, actor)
        c.audit("reason.save", f"{kind}:{reason.code}", {"new": reason.code not in codes, **_doc(reason)})
        c.publish("plant", plant.site.code)
    return {"kind": kind, **_doc(reason)}


def delete_reason(engine: Engine, actor: str, kind: str, code: str) -> dict[str, Any]:
    """Remove a code from the plant's list (events that name it keep it; reports show the bare code)."""
    if kind not in KINDS:
        raise ReasonKindUnknown(kind=kind)
    with change(engine, actor) as c:
        lock_name(c.conn, "plant.reasons")
        plant = load_plant(c.conn)
        codes = getattr(plant, _field(kind))
        if code not in codes:
            raise ReasonNotFound(code=code)
        updated = dataclasses.replace(
            plant,
            **{_field(kind): tuple(x for x in codes if x != code)},
            reason_details=tuple(r for r in plant.reason_details if r.code != code),
        )
        save_reasons(c.conn, updated, actor)
        c.audit("reason.delete", f"{kind}:{code}", {"code": code})
        c.publish("plant", plant.site.code)
    return {"kind": kind, "code": code}


def _doc(reason: ReasonCode) -> dict[str, Any]:
    d = reason.to_dict()
    return d if isinstance(d, dict) else {"code": d}
