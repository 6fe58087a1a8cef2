"""Long report runs in the background of the web process, with their progress for the page to poll.

A job belongs to the user who started it (only that user sees it), keeps its result for an hour after it ends,
and at most a few run at once so a burst of requests cannot starve the server.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

KEEP_S = 3600


@dataclass
class Job:
    id: str
    owner: int
    kind: str
    params: dict[str, Any]
    done: int = 0
    total: int = 0
    finished: bool = False
    error: str | None = None
    result: Any = None
    ended_at: float | None = None
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def percent(self) -> int:
        if self.finished:
            return 100
        return int(self.done * 100 / self.total) if self.total else 0


class Jobs:
    def __init__(self, workers: int = 2):
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="shopfloor-report")
        self._jobs: dict[str, Job] = {}
        self._lock = threading.Lock()

    def start(self, owner: int, kind: str, params: dict[str, Any], work: Callable[[Callable[[int, int], None]], Any]):
        job = Job(uuid.uuid4().hex, owner, kind, params)

        def progress(done: int, total: int) -> None:
            job.done, job.total = done, total

        def run() -> None:
            try:
                job.result = work(progress)
            except Exception as exc:  # noqa: BLE001 - shown to the user who asked
                job.error = str(exc) or type(exc).__name__
            finally:
                job.finished, job.ended_at = True, time.monotonic()

        with self._lock:
            self._forget_old()
            self._jobs[job.id] = job
        self._pool.submit(run)
        return job

    def get(self, job_id: str, owner: int) -> Job | None:
        with self._lock:
            job = self._jobs.get(job_id)
        return job if job is not None and job.owner == owner else None

    def _forget_old(self) -> None:
        now = time.monotonic()
        for key in [k for k, j in self._jobs.items() if j.ended_at and now - j.ended_at > KEEP_S]:
            del self._jobs[key]


jobs = Jobs()
