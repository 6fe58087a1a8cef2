"""Backup and restore of a whole store, the same for SQLite and PostgreSQL (and between them).

A backup is a gzip file of JSON lines: a header (format, schema revision, time, row counts), then one line per
row, table by table in foreign-key order.  Instants are written in ISO 8601 UTC, binary data in base64.
A restore goes into an empty store of the same schema revision, in one transaction, and on PostgreSQL moves
the id sequences past the restored ids.  Nothing is lost on the way: the restore checks every table's row count
against the header.
"""

from __future__ import annotations

import base64
import gzip
import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from alembic.migration import MigrationContext
from sqlalchemy import Engine, LargeBinary, func, insert, select, text

from shopfloor.errors import BackupDamaged, BackupIncomplete, BackupRevision, NotABackup, StoreNotEmpty
from shopfloor.store.schema import UTCDateTime, metadata

FORMAT = "shopfloor-backup"
VERSION = 1


def _revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def _dump_value(column, value: Any) -> Any:
    if value is None:
        return None
    if isinstance(column.type, UTCDateTime):
        return value.astimezone(timezone.utc).isoformat()
    if isinstance(column.type, LargeBinary):
        return base64.b64encode(value).decode("ascii")
    return value


def _load_value(column, value: Any) -> Any:
    if value is None:
        return None
    if isinstance(column.type, UTCDateTime):
        return datetime.fromisoformat(value)
    if isinstance(column.type, LargeBinary):
        return base64.b64decode(value)
    return value


def backup(engine: Engine, path: Path) -> dict[str, int]:
    counts: dict[str, int] = {}
    with engine.connect() as conn:
        for table in metadata.sorted_tables:
            counts[table.name] = conn.execute(select(func.count()).select_from(table)).scalar_one()
        header = {
            "format": FORMAT,
            "version": VERSION,
            "revision": _revision(engine),
            "created_at": datetime.now(timezone.utc).isoformat(),
            "counts": counts,
        }
        with gzip.open(path, "wt", encoding="utf-8") as fh:
            fh.write(json.dumps(header) + "\n")
            for table in metadata.sorted_tables:
                pk = list(table.primary_key.columns)
                for row in conn.execute(select(table).order_by(*pk)).mappings():
                    doc = {c.name: _dump_value(c, row[c.name]) for c in table.columns}
                    fh.write(json.dumps({"t": table.name, "r": doc}, separators=(",", ":")) + "\n")
    return counts


def restore(engine: Engine, path: Path) -> dict[str, int]:
    try:
        fh = gzip.open(path, "rt", encoding="utf-8")
        header = json.loads(fh.readline())
    except (OSError, json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise NotABackup(file=str(path), reason=f": {exc}") from None
    if header.get("format") != FORMAT:
        raise NotABackup(file=str(path), reason="")
    revision = _revision(engine)
    if header.get("revision") != revision:
        raise BackupRevision(backup=str(header.get("revision")), store=str(revision))
    tables = {t.name: t for t in metadata.sorted_tables}
    restored = dict.fromkeys(tables, 0)
    with fh, engine.begin() as conn:
        for name, table in tables.items():
            if conn.execute(select(func.count()).select_from(table)).scalar_one():
                raise StoreNotEmpty(table=name)
        batch: list[dict] = []
        current = None

        def flush() -> None:
            if batch:
                conn.execute(insert(tables[current]), batch)
                batch.clear()

        for line_no, line in enumerate(fh, start=2):
            try:
                item = json.loads(line)
                table = tables[item["t"]]
            except (json.JSONDecodeError, KeyError) as exc:
                raise BackupDamaged(file=str(path), line=line_no, reason=str(exc)) from None
            if item["t"] != current:
                flush()
                current = item["t"]
            batch.append({c.name: _load_value(c, item["r"].get(c.name)) for c in table.columns})
            restored[current] += 1
            if len(batch) >= 5000:
                flush()
        flush()
        expected = header.get("counts", {})
        wrong = {n: (restored[n], expected.get(n, 0)) for n in tables if restored[n] != expected.get(n, 0)}
        if wrong:
            raise BackupIncomplete(counts=str(wrong))
        if conn.dialect.name == "postgresql":
            for table in tables.values():
                pk = list(table.primary_key.columns)
                if len(pk) == 1 and pk[0].autoincrement is not False and pk[0].type.python_type is int:
                    conn.execute(
                        text(
                            f"SELECT setval(pg_get_serial_sequence('{table.name}', '{pk[0].name}'), "
                            f"COALESCE((SELECT MAX({pk[0].name}) FROM {table.name}), 0) + 1, false)"
                        )
                    )
    return restored
