"""The guided set-up of a new store: the first plant (site and time zone, a line and a machine, the shifts) and,
when the store has no user yet, its first administrator, in one change.  Live events: ``("plant", site)``,
``("machine", code)``, ``("user", username)``.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine

from shopfloor.actions.core import change
from shopfloor.errors import SetupDone, SetupNeedsAdmin, UserExists
from shopfloor.model.plant import Plant
from shopfloor.store import accounts, rollups
from shopfloor.store.first_run import has_plant, has_users
from shopfloor.store.locks import lock_name
from shopfloor.store.plant import load_plant, save_plant


def set_up_plant(
    engine: Engine,
    actor: str,
    plant: Plant,
    *,
    admin: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Save the first plant; with ``admin`` (username, password, display_name, language) also create the first
    administrator, which only a store without any user accepts.  Refused once a plant exists (the plant pages
    change it then).  Two set-ups at once: the second waits for the first and is refused."""
    with change(engine, actor) as c:
        lock_name(c.conn, "setup", "first")
        existing = has_plant(c.conn)
        if existing is not None:
            raise SetupDone(site=existing)
        users_exist = has_users(c.conn)
        if admin is None and not users_exist:
            raise SetupNeedsAdmin()
        summary: dict[str, Any] = {}
        if admin is not None:
            if users_exist:
                raise UserExists(user=admin["username"])
            user = accounts.create_user(
                c.conn,
                admin["username"],
                "admin",
                admin["password"],
                None,
                admin.get("display_name") or admin["username"],
                None,
                admin.get("language"),
            )
            c.audit("user.create", f"user:{user.username}", {"role": "admin", "via": "setup"})
            c.publish("user", user.username)
            summary["admin"] = user.username
        summary.update(save_plant(c.conn, plant, actor))
        stored = load_plant(c.conn, plant.site.code)
        rollups.refresh(c.conn, stored)
        c.audit("plant.setup", f"site:{plant.site.code}", summary)
        c.publish("plant", plant.site.code)
        c.publish("machine", *(m.code for m in stored.machines))
    return summary
