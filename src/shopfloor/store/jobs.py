"""Background jobs in the store: a long report run started from a page, its progress and its result.

Kept in the store rather than in the process that runs the job, so that the page polling it may land on any
web worker.  A job whose worker stops beating (``updated_at`` older than ``STALE``) is reported as failed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from sqlalchemy import Connection, delete, insert, select, update

from shopfloor.errors import JobLost
from shopfloor.store.schema import background_jobs

KEEP = timedelta(hours=1)  # a finished job's result is kept this long
STALE = timedelta(minutes=10)  # a running job not updated for this long lost its worker


@dataclass(frozen=True)
class Job:
    id: str
    owner: int
    kind: str
    params: dict[str, Any]
    state: str  # running, finished, failed
    done: int
    total: int
    error: dict[str, Any] | None  # code, params, message of the refusal or failure
    result: Any

    @property
    def finished(self) -> bool:
        return self.state != "running"

    @property
    def percent(self) -> int:
        if self.finished:
            return 100
        return int(self.done * 100 / self.total) if self.total else 0


def create(conn: Connection, job_id: str, owner: int, kind: str, params: dict[str, Any], worker: str) -> Job:
    now = datetime.now(timezone.utc)
    conn.execute(delete(background_jobs).where(background_jobs.c.ended_at < now - KEEP))
    conn.execute(
        insert(background_jobs).values(
            id=job_id, owner_id=owner, kind=kind, params=params, state="running", done=0, total=0,
            worker=worker, created_at=now, updated_at=now,
        )
    )  # fmt: skip
    return get(conn, job_id, owner)


def progress(conn: Connection, job_id: str, done: int, total: int) -> None:
    conn.execute(
        update(background_jobs)
        .where(background_jobs.c.id == job_id, background_jobs.c.state == "running")
        .values(done=done, total=total, updated_at=datetime.now(timezone.utc))
    )


def finish(conn: Connection, job_id: str, result: Any = None, error: dict[str, Any] | None = None) -> None:
    now = datetime.now(timezone.utc)
    stored = None if result is None else json.loads(json.dumps(result, default=str))
    conn.execute(
        update(background_jobs)
        .where(background_jobs.c.id == job_id)
        .values(state="failed" if error else "finished", result=stored, error=error, updated_at=now, ended_at=now)
    )


def get(conn: Connection, job_id: str, owner: int) -> Job | None:
    """The job, if ``owner`` started it (nobody else sees it)."""
    j = background_jobs.c
    row = conn.execute(select(background_jobs).where(j.id == job_id, j.owner_id == owner)).first()
    if row is None:
        return None
    state, error = row.state, row.error
    if state == "running" and row.updated_at < datetime.now(timezone.utc) - STALE:
        state, error = "failed", JobLost().to_dict()
    return Job(row.id, row.owner_id, row.kind, row.params, state, row.done, row.total, error, row.result)
