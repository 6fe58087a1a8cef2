"""Live updates inside one process: writers publish which machines changed, open boards subscribe.

``publish`` may be called from any thread (the ingest writer commits in its own thread); subscribers are
asyncio queues on the web server's loop.  Only "machine X changed" travels: each board renders what it
shows from the store, so a slow board never holds stale data and a lost message is healed by the next.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterable


class Broker:
    """Each publication has a version number, so that all boards showing the same change can share one
    rendering of it (``version`` travels with the machine code)."""

    def __init__(self) -> None:
        self.version = 0
        self._subscribers: set[asyncio.Queue[tuple[int, str]]] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._lock = threading.Lock()

    def subscribe(self) -> asyncio.Queue[tuple[int, str]]:
        queue: asyncio.Queue[tuple[int, str]] = asyncio.Queue(maxsize=1000)
        with self._lock:
            self._loop = asyncio.get_running_loop()
            self._subscribers.add(queue)
        return queue

    def unsubscribe(self, queue: asyncio.Queue[tuple[int, str]]) -> None:
        with self._lock:
            self._subscribers.discard(queue)

    @property
    def subscribers(self) -> int:
        return len(self._subscribers)

    def publish(self, machines: Iterable[str]) -> None:
        codes = sorted(set(machines))
        if not codes:
            return
        with self._lock:
            self.version += 1
            version = self.version
            loop, queues = self._loop, list(self._subscribers)
        if loop is None or not queues:
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            self._deliver(queues, version, codes)
        elif not loop.is_closed():
            loop.call_soon_threadsafe(self._deliver, queues, version, codes)

    @staticmethod
    def _deliver(queues: list[asyncio.Queue[tuple[int, str]]], version: int, codes: list[str]) -> None:
        for q in queues:
            for code in codes:
                if q.full():
                    continue  # a board that cannot keep up gets this machine's next change
                q.put_nowait((version, code))


broker = Broker()
