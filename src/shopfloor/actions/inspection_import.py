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

from shopfloor.errors import (
    CharacteristicOfProductNotFound,
    CsvLooksLikeCp949,
    DomainError,
    SamplesColumnsMissing,
    SamplesColumnsUnknown,
    SamplesFileNotCsv,
    SamplesFileNotText,
    SamplesFileProblem,
    SamplesFileRefused,
    SampleTimeInvalid,
    SampleWholeNumber,
)
from shopfloor.model.inputs import looks_like_cp949, plausible_time, whole_number
from shopfloor.store import inspections as insp

REQUIRED = ("product", "characteristic", "ts")
KNOWN = {"product", "characteristic", "ts", "values", "inspected", "nonconforming", "defect", "lot", "work_order"}
KNOWN |= {"machine", "key"}


def _rows(content: bytes) -> tuple[list[str], list[dict[str, str]]]:
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise (CsvLooksLikeCp949() if looks_like_cp949(content) else SamplesFileNotText()) from None
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
        raise SamplesFileRefused([SamplesFileProblem(reader.line_num, SamplesFileNotCsv(reason=str(exc)))]) from None


def read_samples_file(content: bytes) -> tuple[list[str], list[dict[str, str]]]:
    """The header and rows of a samples file, read without the store (before the write transaction begins)."""
    return _rows(content)


def import_samples(
    conn: Connection, content: bytes, inspector: str, *, read: tuple[list[str], list[dict[str, str]]] | None = None
) -> dict[str, Any]:
    """Store the file's samples in the caller's transaction (``read``: the file as ``read_samples_file`` read it
    already); returns the rows stored and the ids of the characteristics they belong to."""
    header, rows = read if read is not None else _rows(content)
    problems: list[SamplesFileProblem] = []
    missing = [c for c in REQUIRED if c not in header]
    value_cols = sorted((h for h in header if h.startswith("value") and h[5:].isdigit()), key=lambda h: int(h[5:]))
    unknown = [h for h in header if h not in KNOWN and h not in value_cols]
    if missing:
        problems.append(SamplesFileProblem(1, SamplesColumnsMissing(columns=missing)))
    if unknown:
        problems.append(SamplesFileProblem(1, SamplesColumnsUnknown(columns=unknown)))
    if problems:
        raise SamplesFileRefused(problems)
    chars: dict[tuple[str, str], insp.Characteristic | DomainError] = {}
    parsed: list[tuple[int, insp.Characteristic, dict[str, Any]]] = []
    for line, row in enumerate(rows, start=2):
        row = {k: (v or "").strip() for k, v in row.items() if k is not None}
        if not any(row.values()):
            continue
        ident = (row.get("product", ""), row.get("characteristic", ""))
        if ident not in chars:
            try:
                chars[ident] = insp.find(conn, *ident)
            except CharacteristicOfProductNotFound as exc:
                chars[ident] = exc
        char = chars[ident]
        if isinstance(char, DomainError):
            problems.append(SamplesFileProblem(line, char))
            continue
        try:
            ts = datetime.fromisoformat(row["ts"])
            if plausible_time(ts) is None:
                raise ValueError
        except ValueError:
            problems.append(SamplesFileProblem(line, SampleTimeInvalid(value=row["ts"])))
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
                number = whole_number(text)
                if number is None or number < 0:
                    problems.append(SamplesFileProblem(line, SampleWholeNumber(field=col, value=text)))
                    bad = True
                    break
                kwargs[col] = number
            if bad:
                continue
        for col in ("defect", "lot", "work_order", "machine"):
            if row.get(col):
                kwargs[col] = row[col]
        kwargs["key"] = row.get("key") or "csv:" + hashlib.sha256(repr(sorted(row.items())).encode()).hexdigest()[:40]
        parsed.append((line, char, kwargs))
    if problems:
        raise SamplesFileRefused(problems)
    # Checked row by row as it is stored; a problem here rolls back the caller's transaction, so still nothing
    # of the file is kept.
    for line, char, kwargs in parsed:
        try:
            insp.record(conn, char, inspector, source="csv", **kwargs)
        except DomainError as exc:
            problems.append(SamplesFileProblem(line, exc))
    if problems:
        raise SamplesFileRefused(problems)
    return {"rows": len(parsed), "characteristics": sorted({char.id for _, char, _ in parsed})}
