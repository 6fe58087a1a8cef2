"""``shopfloor kpi``: ISO 22400-2 KPIs of a machine, a line or the site, as a table or JSON."""

from __future__ import annotations

import json
import sys
from datetime import date, datetime, timezone
from typing import Annotated, Any

import typer
from rich.table import Table

from shopfloor.actions.kpi_report import check_window, kpi_report
from shopfloor.cli.common import DbOption, console, store
from shopfloor.errors import InstantInvalid
from shopfloor.model.calendar import local_midnight
from shopfloor.model.intervals import Interval
from shopfloor.model.plant import Plant
from shopfloor.store.plant import load_plant

cli = typer.Typer()


def parse_instant(text: str, plant: Plant, option: str) -> datetime:
    """An ISO 8601 date-time with offset, ``now``, or a date (local midnight in the plant's time zone)."""
    if text == "now":
        return datetime.now(timezone.utc)
    try:
        if len(text) == 10:
            return local_midnight(date.fromisoformat(text), plant.site.tz)
        ts = datetime.fromisoformat(text)
    except ValueError:
        raise InstantInvalid(option=option, value=text) from None
    if ts.tzinfo is None:
        ts = ts.replace(tzinfo=plant.site.tz)
    return ts.astimezone(timezone.utc)


@cli.command("kpi")
def kpi_cmd(
    machine: Annotated[str | None, typer.Option("--machine", help="One machine code.")] = None,
    line: Annotated[str | None, typer.Option("--line", help="All machines of a line (time-weighted).")] = None,
    site: Annotated[bool, typer.Option("--site", help="All machines of the site (time-weighted).")] = False,
    start: Annotated[
        str | None,
        typer.Option(
            "--from", help="Start: ISO date-time with offset, or a date (plant-local midnight). Default: today."
        ),
    ] = None,
    end: Annotated[str | None, typer.Option("--to", help="End (exclusive), same forms, or 'now' (default).")] = None,
    by: Annotated[str | None, typer.Option("--by", help="Also per bucket: hour, shift or day (plant-local).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON (ratios as fractions 0..1).")] = False,
    db: DbOption = None,
) -> None:
    """ISO 22400-2 KPIs (availability, effectiveness, quality ratio, OEE, ...) for a machine, a line or the site.

    Time after now is not counted; each row says which part of its window had data (a partial window is marked,
    one without data shows no figures)."""
    engine = store(db)
    with engine.connect() as conn:
        plant = load_plant(conn)
        now = datetime.now(timezone.utc)
        t1 = parse_instant(end, plant, "--to") if end else now
        if start:
            t0 = parse_instant(start, plant, "--from")
        else:
            t0 = local_midnight(datetime.now(plant.site.tz).date(), plant.site.tz)
        check_window(t0, t1, by)
        result = kpi_report(conn, plant, Interval(t0, t1), machine, line, site, by, now)
    if as_json:
        sys.stdout.write(json.dumps(result, ensure_ascii=False, indent=2) + "\n")
        return
    _print_kpi_table(result)


def _pct(v: Any) -> str:
    return "-" if v is None else f"{v * 100:.1f}%"


def _hours(v: Any) -> str:
    return "-" if v is None else f"{v / 3600:.2f} h"


def _count(v: Any) -> str:
    return "-" if v is None else str(v)


def _data(r: dict[str, Any]) -> str:
    """The covered share of a result; a partial one is marked, one without data says so."""
    fraction = r["coverage"]["fraction"]
    if not fraction:
        return "no data"
    return f"{fraction * 100:.1f}% partial" if r["partial"] else "100%"


def _print_kpi_table(result: dict[str, Any]) -> None:
    rows = result.get("buckets") or []
    table = Table(title=f"KPIs {result['from']} .. {result['to']} ({', '.join(result['scope']['machines'])})")
    columns = ("bucket", "data", "PBT", "APT", "ADET", "ASUT", "PQ", "GQ", "SQ", "RQ", "A", "E", "Q", "OEE", "PPM",
               "GQ/h")  # fmt: skip
    for col in columns:
        table.add_column(col, justify="left" if col == "bucket" else "right")
    for r in [*rows, {**result, "bucket": "total"}]:
        table.add_row(
            r["bucket"],
            _data(r),
            _hours(r["pbt_s"]),
            _hours(r["apt_s"]),
            _hours(r["adet_s"]),
            _hours(r["asut_s"]),
            _count(r["pq"]),
            _count(r["gq"]),
            _count(r["sq"]),
            _count(r["rq"]),
            _pct(r["availability"]),
            _pct(r["effectiveness"]),
            _pct(r["quality_ratio"]),
            _pct(r["oee"]),
            "-" if r["ppm"] is None else f"{r['ppm']:.0f}",
            "-" if r["output_per_hour"] is None else f"{r['output_per_hour']:.1f}",
        )
    console.print(table)
    if result["partial"]:
        cover = result["coverage"]
        if cover["fraction"]:
            share = f"{cover['fraction'] * 100:.1f}% of the window"
            console.print(f"partial: data from {cover['from']} to {cover['to']} ({share})")
        else:
            console.print("no data in this window: every figure is unknown")
