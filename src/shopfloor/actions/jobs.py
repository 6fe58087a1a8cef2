"""Long report runs in the background of a web worker, their progress and result kept in the store.

``start_job`` records the job (the action: audited, ``("job", id)`` published) and runs ``work(progress)`` in
this process's pool of a few threads (so a burst of requests cannot starve the server); each step of progress
and the end are written to the store, where a poll on any worker finds them.  A job belongs to the user who
started it; its result is kept for an hour.
"""

from __future__ import annotations

import logging
import os
import socket
import uuid
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from sqlalchemy import Engine

from shopfloor.actions.core import change
from shopfloor.errors import DomainError, JobFailed
from shopfloor.live import broker
from shopfloor.store import jobs as store
from shopfloor.store.db import writing

log = logging.getLogger(__name__)
WORKER = f"{socket.gethostname()}:{os.getpid()}"
_pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="shopfloor-report")
_running: dict[str, Future] = {}

Work = Callable[[Callable[[int, int], None]], Any]


def start_job(engine: Engine, actor: str, owner: int, kind: str, params: dict[str, Any], work: Work) -> store.Job:
    """Record a job of ``owner`` (a user id) and run ``work(progress)`` in the background."""
    job_id = uuid.uuid4().hex
    with change(engine, actor) as c:
        job = store.create(c.conn, job_id, owner, kind, params, WORKER)
        c.audit(f"job.{kind}", f"job:{job_id}", params)
        c.publish("job", job_id)
    future = _pool.submit(_run, engine, job_id, work)
    _running[job_id] = future
    future.add_done_callback(lambda _: _running.pop(job_id, None))
    return job


def wait_for(job_id: str, timeout: float | None = None) -> None:
    """Until the job this process runs has ended (at once when it has, or when another process runs it)."""
    future = _running.get(job_id)
    if future is not None:
        future.result(timeout)


def _run(engine: Engine, job_id: str, work: Work) -> None:
    def progress(done: int, total: int) -> None:
        with writing(engine) as conn:
            store.progress(conn, job_id, done, total)
        broker.publish_event("job", [job_id])

    result, error = None, None
    try:
        result = work(progress)
    except DomainError as exc:
        error = exc.to_dict()
    except Exception as exc:  # noqa: BLE001 - kept on the job and shown to the user who asked
        log.exception("background job %s failed", job_id)
        error = JobFailed(reason=str(exc) or type(exc).__name__).to_dict()
    with writing(engine) as conn:
        store.finish(conn, job_id, result, error)
    broker.publish_event("job", [job_id])
