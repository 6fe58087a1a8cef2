"""Skills in the store: the skills, the skills each operation needs, the operators' certifications."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, delete, insert, or_, select

from shopfloor.errors import SkillOperationUnknown, SkillUnknown
from shopfloor.model.plant import Plant
from shopfloor.store.schema import operation_skills, operations, operator_skills, skills, users


def skill_codes(conn: Connection) -> list[str]:
    return list(conn.execute(select(skills.c.code).order_by(skills.c.code)).scalars())


def all_skills(conn: Connection) -> list[dict[str, str]]:
    return [dict(r._mapping) for r in conn.execute(select(skills).order_by(skills.c.code))]


def known(conn: Connection, skill: str) -> None:
    if conn.execute(select(skills.c.code).where(skills.c.code == skill)).first() is None:
        raise SkillUnknown(skill=skill)


def create(conn: Connection, code: str, name: str) -> None:
    conn.execute(insert(skills).values(code=code, name=name))


def require(conn: Connection, item: str, seq: int, skill: str) -> bool:
    known(conn, skill)
    o = operations.c
    if conn.execute(select(o.seq).where(o.item == item, o.seq == seq)).first() is None:
        raise SkillOperationUnknown(item=item, seq=seq)
    s = operation_skills.c
    if conn.execute(select(s.skill).where(s.item == item, s.seq == seq, s.skill == skill)).first():
        return False
    conn.execute(insert(operation_skills).values(item=item, seq=seq, skill=skill))
    return True


def certify(conn: Connection, username: str, skill: str, actor: str, at: datetime, expires_at: datetime | None):
    known(conn, skill)
    s = operator_skills.c
    conn.execute(delete(operator_skills).where(s.username == username, s.skill == skill))
    conn.execute(
        insert(operator_skills).values(
            username=username, skill=skill, certified_at=at, certified_by=actor, expires_at=expires_at
        )
    )


def held(conn: Connection, username: str) -> dict[str, datetime | None]:
    s = operator_skills.c
    return dict(conn.execute(select(s.skill, s.expires_at).where(s.username == username)).all())


def required_at(conn: Connection, plant: Plant, item: str, machine: str) -> dict[int, list[str]]:
    """The skills each operation of ``item`` done at ``machine`` (or its line) needs, by operation number."""
    line = plant.machine(machine).line
    o, s = operations.c, operation_skills.c
    rows = conn.execute(
        select(o.seq, s.skill)
        .join(operation_skills, (s.item == o.item) & (s.seq == o.seq))
        .where(o.item == item, or_(o.work_centre == machine, o.work_centre == line))
    ).all()
    out: dict[int, list[str]] = {}
    for seq, skill in rows:
        out.setdefault(seq, []).append(skill)
    return out


def matrix(conn: Connection) -> dict[str, Any]:
    """Operators x skills: each cell the certification's expiry (or None for no expiry), absent when none."""
    people = [
        dict(r._mapping)
        for r in conn.execute(
            select(users.c.username, users.c.display_name, users.c.role)
            .where(users.c.role.in_(("operator", "supervisor")), users.c.active.is_(True))
            .order_by(users.c.username)
        )
    ]
    cells: dict[str, dict[str, Any]] = {}
    for r in conn.execute(select(operator_skills)):
        cells.setdefault(r.username, {})[r.skill] = {"expires_at": r.expires_at, "certified_at": r.certified_at}
    needs = [dict(r._mapping) for r in conn.execute(select(operation_skills).order_by(operation_skills.c.item))]
    return {"people": people, "cells": cells, "needs": needs, "skills": all_skills(conn)}
