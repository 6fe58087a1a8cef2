"""Inspection samples from a CSV file (a gauge's export, a lab's spreadsheet).

Columns (header row, comma or semicolon separated, UTF-8 with or without BOM):

- ``product``, ``characteristic`` (its code): required;
- ``ts``: ISO 8601 with a UTC offset (``2026-03-02T08:15:00+09:00``); required;
- variables: ``values`` (the subgroup's measurements separated by spaces or ``|``), or ``value1`` .. ``valueN``;
- attributes: ``inspected`` and ``nonconforming``;
- optional: ``defect``, ``lot``, ``work_order``, ``machine``, ``key`` (a sample's own id: a file imported again
  adds nothing; without it the key is made from the row's content).

A file with any bad row is refused whole, each problem named by its line; nothing is stored then.
"""

from __future__ import annotations

import csv
import hashlib
import io
from datetime import datetime
from typing import Any

from sqlalchemy import Connection

from shopfloor.store import inspections as insp

REQUIRED = ("product", "characteristic", "ts")
KNOWN = {"product", "characteristic", "ts", "values", "inspected", "nonconforming", "defect", "lot", "work_order"}
KNOWN |= {"machine", "key"}


class SampleImportError(ValueError):
    def __init__(self, problems: list[str]):
        self.problems = problems
        shown = "\n".join(f"  - {p}" for p in problems[:50])
        more = f"\n  ... and {len(problems) - 50} more" if len(problems) > 50 else ""
        super().__init__(f"samples refused ({len(problems)} problem(s)), nothing stored:\n{shown}{more}")


def _rows(content: bytes) -> tuple[list[str], list[dict[str, str]]]:
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise SampleImportError(["the file is not UTF-8 text: save it as CSV UTF-8"]) from None
    try:
        dialect = csv.Sniffer().sniff(text.splitlines()[0] if text else ",", delimiters=",;")
    except csv.Error:
        dialect = csv.excel
    reader = csv.DictReader(io.StringIO(text, newline=""), dialect=dialect)
    try:
        header = [h.strip() for h in reader.fieldnames or []]
        reader.fieldnames = header
        return header, list(reader)
    except csv.Error as exc:
        raise SampleImportError([f"line {reader.line_num}: not readable as CSV ({exc})"]) from None


def import_samples(conn: Connection, content: bytes, inspector: str) -> dict[str, int]:
    header, rows = _rows(content)
    problems: list[str] = []
    missing = [c for c in REQUIRED if c not in header]
    value_cols = sorted((h for h in header if h.startswith("value") and h[5:].isdigit()), key=lambda h: int(h[5:]))
    unknown = [h for h in header if h not in KNOWN and h not in value_cols]
    if missing:
        problems.append(f"line 1: missing column(s) {', '.join(missing)}")
    if unknown:
        problems.append(f"line 1: unknown column(s) {', '.join(unknown)}")
    if problems:
        raise SampleImportError(problems)
    chars: dict[tuple[str, str], insp.Characteristic | None] = {}
    parsed: list[tuple[int, insp.Characteristic, dict[str, Any]]] = []
    for line, row in enumerate(rows, start=2):
        row = {k: (v or "").strip() for k, v in row.items() if k is not None}
        if not any(row.values()):
            continue
        where = f"line {line}"
        ident = (row.get("product", ""), row.get("characteristic", ""))
        if ident not in chars:
            try:
                chars[ident] = insp.find(conn, *ident)
            except insp.InspectionError:
                chars[ident] = None
        char = chars[ident]
        if char is None:
            problems.append(f"{where}: no characteristic {ident[1]!r} of product {ident[0]!r}")
            continue
        try:
            ts = datetime.fromisoformat(row["ts"])
            if ts.tzinfo is None:
                raise ValueError
        except ValueError:
            problems.append(f"{where}, column ts: {row['ts']!r} is not ISO 8601 with a UTC offset")
            continue
        kwargs: dict[str, Any] = {"ts": ts}
        if char.kind == "variable":
            raw = row.get("values", "").replace("|", " ").split() or [row[c] for c in value_cols if row.get(c)]
            kwargs["measurements_"] = raw
        else:
            bad = False
            for col in ("inspected", "nonconforming"):
                text = row.get(col, "")
                if col == "inspected" and not text:
                    continue  # np and c charts: the characteristic's sample size
                if not text.isdigit():
                    problems.append(f"{where}, column {col}: {text!r} is not a whole number")
                    bad = True
                    break
                kwargs[col] = int(text)
            if bad:
                continue
        for col in ("defect", "lot", "work_order", "machine"):
            if row.get(col):
                kwargs[col] = row[col]
        kwargs["key"] = row.get("key") or "csv:" + hashlib.sha256(repr(sorted(row.items())).encode()).hexdigest()[:40]
        parsed.append((line, char, kwargs))
    if problems:
        raise SampleImportError(problems)
    # Checked row by row as it is stored; a problem here rolls back the caller's transaction, so still nothing
    # of the file is kept.
    for line, char, kwargs in parsed:
        try:
            insp.record(conn, char, inspector, source="csv", **kwargs)
        except insp.InspectionError as exc:
            problems.append(f"line {line}: {exc}")
    if problems:
        raise SampleImportError(problems)
    return {"rows": len(parsed)}
