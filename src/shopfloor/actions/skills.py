"""Skills and certifications: skills, the skills an operation needs, operators certified with an expiry; and the
check at order start (someone without a valid certification cannot start an operation that needs it).

Live events: ``("skill", code)``."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from sqlalchemy import Connection, Engine, select

from shopfloor.actions.core import change
from shopfloor.errors import OperatorUnknown, SkillExists, SkillExpired, SkillMissing
from shopfloor.model.plant import Plant
from shopfloor.model.skills import MISSING, lacking
from shopfloor.store import skills as store
from shopfloor.store import work_orders
from shopfloor.store.locks import lock_name
from shopfloor.store.schema import users


def create_skill(engine: Engine, actor: str, *, code: str, name: str) -> dict[str, Any]:
    with change(engine, actor) as c:
        c.duplicate_means(SkillExists(skill=code))
        lock_name(c.conn, "skill", code)
        if code in store.skill_codes(c.conn):
            raise SkillExists(skill=code)
        store.create(c.conn, code, name or code)
        c.audit("skill.create", f"skill:{code}", {"name": name})
        c.publish("skill", code)
        return {"code": code, "name": name or code}


def require_skill(engine: Engine, actor: str, *, item: str, seq: int, skill: str) -> dict[str, Any]:
    """Operation ``seq`` of ``item`` needs ``skill``."""
    with change(engine, actor) as c:
        new = store.require(c.conn, item, seq, skill)
        c.audit("skill.require", f"skill:{skill}", {"item": item, "seq": seq, "new": new})
        c.publish("skill", skill)
        return {"item": item, "seq": seq, "skill": skill}


def certify_operator(
    engine: Engine, actor: str, username: str, *, skill: str, expires_at: datetime | None = None
) -> dict[str, Any]:
    """Certify a person in a skill, until ``expires_at`` (None: no expiry); a new certification replaces the old."""
    with change(engine, actor) as c:
        if c.conn.execute(select(users.c.id).where(users.c.username == username)).first() is None:
            raise OperatorUnknown(operator=username)
        now = datetime.now(timezone.utc)
        store.certify(c.conn, username, skill, actor, now, expires_at)
        c.audit(
            "skill.certify",
            f"user:{username}",
            {"skill": skill, "expires_at": expires_at.isoformat() if expires_at else None},
        )
        c.publish("skill", skill)
        return {"username": username, "skill": skill, "expires_at": expires_at.isoformat() if expires_at else None}


def check_skills(conn: Connection, plant: Plant, work_order: str, machine: str, actor: str, at: datetime) -> None:
    """Refuse to start ``work_order`` at ``machine`` if ``actor`` lacks a valid certification an operation done
    there needs (called in the order-start flow)."""
    username = actor.removeprefix("user:")
    order = work_orders.get(conn, work_order)
    held = store.held(conn, username)
    for seq, needed in sorted(store.required_at(conn, plant, order.product, machine).items()):
        for skill, why, expired in lacking(needed, held, at):
            operation = f"{order.product}/{seq}"
            if why == MISSING:
                raise SkillMissing(operator=username, skill=skill, operation=operation)
            raise SkillExpired(operator=username, skill=skill, expired=expired.date().isoformat(), operation=operation)
