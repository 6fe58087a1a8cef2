"""Live updates: writers publish what changed, open pages subscribe.

A live event is a topic and a key: ``("machine", "WLD-01")``, ``("lot", "R260302-0001")``,
``("work_order", "WO-7")``.  The ingest writer publishes the machines of each committed batch; every action
(``shopfloor.actions``) publishes the events of its change once its transaction has committed.  Only "this
changed" travels: each page renders what it shows from the store, so a slow page never holds stale data and a
lost message is healed by the next.

``publish`` may be called from any thread (the ingest writer commits in its own thread); subscribers are
asyncio queues on the web server's loop, one topic each.  ``watch`` adds a plain function that sees every
publication of this process as it is made (tests use it to check an action's events).

With PostgreSQL as the store, several processes (web workers, ingest workers) share their events through
``LISTEN``/``NOTIFY`` on the channel ``shopfloor_machines``: every publication is also sent as a notification
(its payload: the sending process's id, the topic and the keys), and each web process listens and hands what
others sent to its own subscribers (``use_postgres``).
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterable

log = logging.getLogger(__name__)
MACHINE = "machine"
Watcher = Callable[[str, list[str]], None]


class Broker:
    """Each publication has a version number, so that all boards showing the same change can share one
    rendering of it (``version`` travels with the key)."""

    def __init__(self) -> None:
        self.version = 0
        self._subscribers: dict[asyncio.Queue[tuple[int, str]], str] = {}
        self._watchers: list[Watcher] = []
        self._everywhere: list[Watcher] = []  # also called for the other processes' publications
        self._loop: asyncio.AbstractEventLoop | None = None
        self._lock = threading.Lock()
        self._pg: PgFanOut | None = None

    def use_postgres(self, url: str | None) -> None:
        """Share publications with the other processes on this PostgreSQL store (idempotent); None: this
        process alone (an SQLite store)."""
        with self._lock:
            old = self._pg
            if url is None:
                self._pg = None
            elif self._pg is None or self._pg.url != url.replace("postgresql+psycopg://", "postgresql://", 1):
                self._pg = PgFanOut(url, self)
        if old is not None and old is not self._pg:
            old.close()  # its connections to the store this process no longer uses

    def share_through(self, engine) -> None:
        """Share publications with the other processes on ``engine``'s store when it is PostgreSQL
        (LISTEN/NOTIFY); on SQLite one process serves, and publications stay in it."""
        is_pg = engine.dialect.name == "postgresql"
        self.use_postgres(engine.url.render_as_string(hide_password=False) if is_pg else None)

    def subscribe(self, topic: str = MACHINE) -> asyncio.Queue[tuple[int, str]]:
        """A queue of (version, key) for each event of ``topic``, on the running loop."""
        queue: asyncio.Queue[tuple[int, str]] = asyncio.Queue(maxsize=1000)
        with self._lock:
            self._loop = asyncio.get_running_loop()
            self._subscribers[queue] = topic
            pg = self._pg
        if pg is not None:
            pg.listen()  # the first board of this process starts listening to the others
        return queue

    def unsubscribe(self, queue: asyncio.Queue[tuple[int, str]]) -> None:
        with self._lock:
            self._subscribers.pop(queue, None)

    @property
    def subscribers(self) -> int:
        return len(self._subscribers)

    def watch(self, watcher: Watcher) -> Callable[[], None]:
        """Call ``watcher(topic, keys)`` for every publication of this process; returns what stops it."""
        with self._lock:
            self._watchers.append(watcher)

        def stop() -> None:
            with self._lock:
                if watcher in self._watchers:
                    self._watchers.remove(watcher)

        return stop

    def watch_everywhere(self, watcher: Watcher) -> None:
        """Call ``watcher(topic, keys)`` for every publication of this process and of the others on the store
        (PostgreSQL), for the life of the process: what a cache of the store's rows drops its entries by.  When
        publications of the others may have been missed (the listening connection lost), it is called with
        the topic ``"*"``: forget everything."""
        with self._lock:
            self._everywhere.append(watcher)
            pg = self._pg
        if pg is not None:
            pg.listen()

    def in_step(self) -> bool:
        """Whether every publication that changes the store reaches ``watch_everywhere``: one process on an
        SQLite store, or the connection listening to the other processes open."""
        pg = self._pg
        if pg is None:
            return True
        pg.listen()
        return pg.listening

    def _heard(self, codes: list[str], topic: str) -> None:
        for watcher in list(self._everywhere):
            watcher(topic, codes)
        if topic != "*":
            self.publish_local(codes, topic)

    def publish(self, machines: Iterable[str]) -> None:
        """The machines whose data changed (their tiles on the boards)."""
        self.publish_event(MACHINE, machines)

    def publish_event(self, topic: str, keys: Iterable[str]) -> None:
        codes = sorted(set(keys))
        if not codes:
            return
        for watcher in list(self._watchers):
            watcher(topic, codes)
        for watcher in list(self._everywhere):
            watcher(topic, codes)
        pg = self._pg
        if pg is not None:
            pg.notify(topic, codes)
        self.publish_local(codes, topic)

    def publish_local(self, codes: list[str], topic: str = MACHINE) -> None:
        """Hand an event to this process's subscribers only."""
        with self._lock:
            self.version += 1
            version = self.version
            loop = self._loop
            queues = [q for q, wanted in self._subscribers.items() if wanted == topic]
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


class PgFanOut:
    """NOTIFY on publication, LISTEN in a background thread that reconnects after a failure."""

    CHANNEL = "shopfloor_machines"
    WAIT_S = 1.0

    def __init__(self, url: str, broker: Broker):
        self.url = url.replace("postgresql+psycopg://", "postgresql://", 1)
        self.broker = broker
        self.origin = uuid.uuid4().hex[:12]
        self._send_lock = threading.Lock()
        self._send_conn = None
        self._listener: threading.Thread | None = None
        self.received = 0
        self.listening = False  # LISTEN is in force: the other processes' publications arrive
        self._closed = False

    def _connect(self):
        # Imported here: psycopg is needed only where the store is PostgreSQL.
        import psycopg

        return psycopg.connect(self.url, autocommit=True, connect_timeout=5)

    def notify(self, topic: str, codes: list[str]) -> None:
        payload = f"{self.origin}|{topic}|{','.join(codes)}"[:7900]  # NOTIFY payloads stay under 8000 bytes
        with self._send_lock:
            if self._closed:
                return  # replaced: this process publishes through its current store
            for attempt in (1, 2):
                try:
                    if self._send_conn is None or self._send_conn.closed:
                        self._send_conn = self._connect()
                    self._send_conn.execute("SELECT pg_notify(%s, %s)", (self.CHANNEL, payload))
                    return
                except Exception as exc:  # noqa: BLE001 - boards of other processes miss one change at worst
                    self._send_conn = None
                    if attempt == 2:
                        log.warning("live updates could not be sent to the other processes: %s", exc)

    def close(self) -> None:
        """Stop listening and close the connections (the listener ends within ``WAIT_S``)."""
        self._closed = True
        with self._send_lock:
            if self._send_conn is not None:
                try:
                    self._send_conn.close()
                except Exception:  # noqa: BLE001,S110 - closing a connection that is already broken
                    pass
                self._send_conn = None

    def listen(self) -> None:
        with self._send_lock:
            if self._closed:
                return
            if self._listener is not None and self._listener.is_alive():
                return
            self._listener = threading.Thread(target=self._listen, name="shopfloor-listen", daemon=True)
            self._listener.start()

    def _listen(self) -> None:
        pause = 1.0
        while self.broker._pg is self and not self._closed:  # a process that switched stores stops listening
            try:
                with self._connect() as conn:
                    conn.execute("LISTEN shopfloor_machines")  # the channel name, never from input
                    pause = 1.0
                    self.listening = True
                    self.broker._heard(["*"], "*")  # what was published while not listening is unknown
                    while self.broker._pg is self and not self._closed:
                        # Woken every WAIT_S to see whether this process still uses this store.
                        for note in conn.notifies(timeout=self.WAIT_S):
                            origin, _, rest = note.payload.partition("|")
                            topic, _, codes = rest.partition("|")
                            if origin != self.origin and codes:
                                self.received += 1
                                self.broker._heard(codes.split(","), topic)
                    self.listening = False
            except Exception as exc:  # noqa: BLE001 - the store restarting: listen again after a pause
                self.listening = False
                self.broker._heard(["*"], "*")
                if self.broker._pg is not self or self._closed:
                    return
                log.warning("listening for live updates failed (%s); again in %.0f s", exc, pause)
                time.sleep(pause)
                pause = min(pause * 2, 30.0)


broker = Broker()
