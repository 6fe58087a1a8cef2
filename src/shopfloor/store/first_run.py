"""What the guided set-up asks of the store: is there a plant yet, is there a user yet."""

from __future__ import annotations

from sqlalchemy import Connection, select

from shopfloor.store.schema import sites, users


def has_plant(conn: Connection) -> str | None:
    """The code of the store's site, or None before a plant is set up or imported."""
    return conn.execute(select(sites.c.code).order_by(sites.c.id).limit(1)).scalar()


def has_users(conn: Connection) -> bool:
    return conn.execute(select(users.c.id).limit(1)).first() is not None
