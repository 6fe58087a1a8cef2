"""Opening the store: SQLite by default (WAL, fully synchronous), PostgreSQL by URL; schema migrations.

The URL comes from the settings (``--db`` or ``SHOPFLOOR_DB``); a plain file path means SQLite.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.exc import DBAPIError

from shopfloor.errors import TextHasNul

DEFAULT_DB = "sqlite:///shopfloor.db"
MIGRATIONS = Path(__file__).parent / "migrations"


def resolve_url(url: str | None = None) -> str:
    """The store URL of ``url`` (default ./shopfloor.db); a plain path is an SQLite file, ``postgresql://`` uses
    psycopg 3."""
    url = url or DEFAULT_DB
    if "://" not in url:
        url = f"sqlite:///{url}"
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        url = "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


def _sqlite_pragmas(dbapi_conn, _record) -> None:
    cur = dbapi_conn.cursor()
    # WAL lets readers work while the writer commits; synchronous=FULL makes each commit durable, which an
    # acknowledged count requires.
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=FULL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=10000")
    # 64 MiB of page cache per connection (the default is 2 MiB): the measurement index of a busy plant outgrows
    # 2 MiB within minutes, and every insert then reads index pages back from the operating system.
    cur.execute("PRAGMA cache_size=-65536")
    cur.close()


def _has_nul(value: object) -> bool:
    """Whether a statement's parameters hold text with a NUL: a value, a row (dict or sequence) or rows."""
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(v) for v in value.values())
    if isinstance(value, (list, tuple)):
        return any(_has_nul(v) for v in value)
    return False


def _refuse_nul(_conn, _cursor, _statement, parameters, _context, _executemany) -> None:
    """No text with a NUL character reaches either store: PostgreSQL cannot hold one (its error would be a
    server error) and SQLite would keep it, cutting the text short for many readers.  Checked for every
    statement, so no form, file or API field is forgotten; the transaction is refused whole."""
    if _has_nul(parameters):
        raise TextHasNul()


def open_engine(url: str | None = None) -> Engine:
    url = resolve_url(url)
    if url.startswith("sqlite"):
        engine = create_engine(url)
        event.listen(engine, "connect", _sqlite_pragmas)
    else:
        engine = create_engine(url, pool_pre_ping=True)
    event.listen(engine, "before_cursor_execute", _refuse_nul)
    return engine


def migrate(engine: Engine, revision: str = "head") -> None:
    """Bring the schema up to ``revision`` (idempotent)."""
    # Alembic (some 0.3 s to import) is loaded only when the schema has to change: a store already at the newest
    # revision is recognised from the revision files and the store's alembic_version row (``schema_current``).
    from alembic import command  # loaded only when the schema has to change
    from alembic.config import Config  # likewise

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)


_REVISION = re.compile(r"^revision\s*(?::[^=]*)?=\s*[\"']([^\"']+)[\"']", re.M)
_DOWN_REVISION = re.compile(r"^down_revision\s*(?::[^=]*)?=\s*(.+)$", re.M)


def head_revision() -> str | None:
    """The newest migration this version knows, read from the revision files (the one revision no other names as
    the one before it); None if that is not one revision."""
    revisions, before = set(), set()
    for path in (MIGRATIONS / "versions").glob("*.py"):
        source = path.read_text(encoding="utf-8")
        found = _REVISION.search(source)
        if found is None:
            return None
        revisions.add(found.group(1))
        down = _DOWN_REVISION.search(source)
        if down is not None:
            before.update(re.findall(r"[\"']([^\"']+)[\"']", down.group(1)))
    heads = revisions - before
    return heads.pop() if len(heads) == 1 else None


def schema_current(conn: Connection) -> bool:
    """Whether the store's schema is at the newest migration this version knows."""
    head = head_revision()
    if head is None:
        return False
    try:
        with conn.begin_nested():
            stored = conn.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
    except DBAPIError:  # no alembic_version table: a new store
        return False
    return stored == [head]


def open_store(url: str | None = None) -> Engine:
    """Open the store and migrate it to the current schema (Alembic is loaded only when there is something to
    do)."""
    engine = open_engine(url)
    with engine.connect() as conn:
        current = schema_current(conn)
    if not current:
        migrate(engine)
    return engine


_write_locks: dict[int, threading.Lock] = {}
_locks_guard = threading.Lock()


@contextmanager
def writing(engine: Engine) -> Iterator[Connection]:
    """A write transaction.  SQLite allows one writer at a time and makes the others wait in a sleeping busy
    loop; taking turns on an in-process lock instead keeps concurrent writers (a hundred terminals) from
    stalling each other.  PostgreSQL writers run concurrently.

    On SQLite the transaction begins with BEGIN IMMEDIATE, which takes the store's write lock (waiting for another
    process's writer).  Python's sqlite3 would begin it only at the first INSERT, UPDATE or DELETE: what the
    change read before then would not be part of it (another process could write between its check and its
    write), and a savepoint taken before then would begin a transaction of its own, committed when the savepoint
    is released, however the change ends."""
    if engine.dialect.name != "sqlite":
        with engine.begin() as conn:
            yield conn
        return
    with _locks_guard:
        lock = _write_locks.setdefault(id(engine), threading.Lock())
    with lock, engine.begin() as conn:
        conn.exec_driver_sql("BEGIN IMMEDIATE")
        yield conn
