"""The one write path: every change a person or a machine makes is an action, and every action runs in
:func:`change`.

An action is a function ``do_this(engine, actor, ..., *, options) -> dict``: it validates its input (raising a
``shopfloor.errors.DomainError``), writes in one transaction, records its audit row, names the live events of
its change, and returns the changed record as a dict ready for JSON.  ``actor`` says who acts: ``user:lee``
(a person signed in, or an API token), ``cli:root`` (a command), ``system:scheduler`` (the server itself).

::

    def hold_lot(engine: Engine, actor: str, code: str, *, reason: str, key: str | None = None) -> dict:
        with change(engine, actor) as c:
            lot = lots.hold(c.conn, code, reason, actor, key=key)
            c.audit("lot.hold", f"lot:{code}", {"reason": reason})
            c.publish("lot", code)
        return lot.to_dict()

:func:`change` opens the transaction (``store.db.writing``), writes the audit rows with it, and publishes the
live events only once it has committed: a change that fails publishes nothing, and nobody hears of a change
before it can be read.  A change that records no audit row is refused, so none is forgotten.  API routes,
pages, the command line and the terminal call actions and never write themselves.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import IntegrityError

from shopfloor.errors import DomainError
from shopfloor.live import broker
from shopfloor.model.plant import Plant
from shopfloor.store import audit
from shopfloor.store.db import writing
from shopfloor.store.plant import current_plant


class ChangeNotAudited(RuntimeError):
    """An action wrote without recording who did it: a fault of the action, never of its caller."""


@dataclass
class Change:
    """What an action writes with: the transaction's connection, and the audit rows and live events it adds."""

    conn: Connection
    actor: str
    audited: int = 0
    events: dict[str, set[str]] = field(default_factory=dict)
    on_duplicate: DomainError | None = None
    _plant: Plant | None = None

    def audit(self, action: str, target: str, detail: dict[str, Any] | None = None, reason: str | None = None):
        """The audit row of this change: what was done (``lot.hold``), to what (``lot:R-1``), the details."""
        audit.record(self.conn, self.actor, action, target, detail or {}, reason)
        self.audited += 1

    def publish(self, topic: str, *keys: str | None) -> None:
        """A live event to publish once the change has committed (``publish("machine", "WLD-01")``)."""
        self.events.setdefault(topic, set()).update(k for k in keys if k)

    def duplicate_means(self, error: DomainError) -> None:
        """Raise ``error`` if the store refuses the change as a duplicate (another request made the same thing at
        the same moment, and a unique constraint kept only the first)."""
        self.on_duplicate = error

    def plant(self) -> Plant:
        """The plant of the store (``PlantNotImported`` before one is), read once per change."""
        if self._plant is None:
            self._plant = current_plant(self.conn)
        return self._plant


@contextmanager
def change(engine: Engine, actor: str) -> Iterator[Change]:
    """One change: a write transaction, its audit rows, and its live events published after the commit."""
    c: Change | None = None
    try:
        with writing(engine) as conn:
            c = Change(conn, actor)
            yield c
            if not c.audited:
                raise ChangeNotAudited("an action must record its audit row (Change.audit)")
    except IntegrityError:
        if c is not None and c.on_duplicate is not None:
            raise c.on_duplicate from None
        raise
    for topic, keys in c.events.items():
        broker.publish_event(topic, keys)
