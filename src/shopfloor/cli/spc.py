"""``shopfloor spc``: a control chart, its rule violations and capability from a CSV file."""

from __future__ import annotations

import csv
import io
import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from shopfloor.analytics import spc
from shopfloor.analytics.capability import capability
from shopfloor.analytics.study import CHARTS, control_study


class InputError(ValueError):
    pass


def _read(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise InputError(f"{path}: not UTF-8 text") from None
    reader = csv.DictReader(io.StringIO(text, newline=""))
    try:
        if not reader.fieldnames:
            raise InputError(f"{path}: empty file, expected a header line")
        return [f.strip() for f in reader.fieldnames], list(reader)
    except csv.Error as exc:
        raise InputError(f"{path}, line {reader.line_num}: not readable as CSV ({exc})") from None


def _numbers(rows: list[dict[str, str]], column: str, header: list[str]) -> list[float]:
    if column not in header:
        raise InputError(f"no column {column!r}; the file has {', '.join(header)}")
    out = []
    for line, row in enumerate(rows, start=2):
        cell = (row.get(column) or "").strip()
        try:
            out.append(float(cell))
        except ValueError:
            raise InputError(f"line {line}, column {column!r}: {cell!r} is not a number") from None
    return out


def _subgroups(values: list[float], rows, header, size: int | None, column: str | None) -> list[list[float]]:
    if column:
        if column not in header:
            raise InputError(f"no subgroup column {column!r}; the file has {', '.join(header)}")
        groups: dict[str, list[float]] = {}
        for row, v in zip(rows, values):
            groups.setdefault(row[column], []).append(v)
        return list(groups.values())
    if not size:
        raise InputError("give --subgroup-size N or --subgroup-column NAME for an X-bar chart")
    if len(values) % size:
        raise InputError(f"{len(values)} values do not make whole subgroups of {size}")
    return [values[i : i + size] for i in range(0, len(values), size)]


def run_spc(
    path: Path,
    chart: str,
    column: str,
    subgroup_size: int | None = None,
    subgroup_column: str | None = None,
    size_column: str | None = None,
    usl: float | None = None,
    lsl: float | None = None,
    phase1: int | None = None,
    rules: str = "nelson",
    lam: float = 0.2,
    target: float | None = None,
    k: float = 0.5,
    h: float = 5.0,
) -> dict[str, Any]:
    if chart not in CHARTS:
        raise InputError(f"--chart {chart!r}: expected one of {', '.join(CHARTS)}")
    header, rows = _read(path)
    values = _numbers(rows, column, header)
    sizes = _numbers(rows, size_column, header) if size_column else None
    groups = _subgroups(values, rows, header, subgroup_size, subgroup_column) if chart in ("xbar-r", "xbar-s") else None
    if chart in ("p", "u") and sizes is None:
        raise InputError(f"a {chart} chart needs --size-column (units inspected per subgroup)")
    if chart == "np" and not subgroup_size:
        raise InputError("an np chart needs --subgroup-size (the constant sample size)")
    result = control_study(
        chart,
        values=values,
        groups=groups,
        sizes=sizes,
        subgroup_size=subgroup_size,
        usl=usl,
        lsl=lsl,
        phase1=phase1,
        rules=rules,
        lam=lam,
        target=target,
        k=k,
        h=h,
    )
    if chart not in ("xbar-r", "xbar-s", "imr", "ewma", "cusum") and (usl is not None or lsl is not None):
        result["capability"] = capability(values, usl=usl, lsl=lsl).to_dict()
    return {"chart": chart, "column": column, **{k_: v for k_, v in result.items() if k_ != "chart"}}


def spc_command(
    file: Annotated[Path, typer.Argument(help="CSV file with a header line.", exists=True, dir_okay=False)],
    chart: Annotated[str, typer.Option(help="xbar-r, xbar-s, imr, p, np, c, u, ewma or cusum.")],
    column: Annotated[str, typer.Option(help="Column with the measured values (counts for attribute charts).")],
    subgroup_size: Annotated[
        int | None, typer.Option(help="Consecutive values per subgroup (X-bar; n for np).")
    ] = None,
    subgroup_column: Annotated[str | None, typer.Option(help="Column naming each value's subgroup.")] = None,
    size_column: Annotated[str | None, typer.Option(help="Units inspected per subgroup (p and u charts).")] = None,
    usl: Annotated[float | None, typer.Option(help="Upper specification limit (capability).")] = None,
    lsl: Annotated[float | None, typer.Option(help="Lower specification limit (capability).")] = None,
    phase1: Annotated[int | None, typer.Option(help="Estimate the limits from the first K points only.")] = None,
    rules: Annotated[str, typer.Option(help="Run rules: nelson or we (Western Electric).")] = "nelson",
    lam: Annotated[float, typer.Option("--lambda", help="EWMA weight.")] = 0.2,
    target: Annotated[float | None, typer.Option(help="EWMA / CUSUM target (default: the mean).")] = None,
    k: Annotated[float, typer.Option(help="CUSUM reference value in sigma.")] = 0.5,
    h: Annotated[float, typer.Option(help="CUSUM decision interval in sigma.")] = 5.0,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Control chart limits (per point where they vary), run-rule violations and capability from a CSV."""
    try:
        result = run_spc(
            file, chart, column, subgroup_size, subgroup_column, size_column, usl, lsl, phase1, rules, lam, target, k, h
        )
    except (InputError, spc.SpcError, ValueError) as exc:
        Console(stderr=True).print(f"[bold red]error:[/] {exc}", highlight=False)
        raise typer.Exit(2) from None
    if as_json:
        sys.stdout.write(json.dumps(result, indent=2) + "\n")
        return
    console = Console(width=None if sys.stdout.isatty() else 160)
    for c in result["charts"]:
        table = Table(title=f"{c['chart']} chart of {column}")
        for col in ("centre", "UCL", "LCL", "violations"):
            table.add_column(col)
        fmt = lambda v: f"{v:.6g}" if isinstance(v, float) else "per point"  # noqa: E731
        table.add_row(
            fmt(c["centre"]),
            fmt(c["ucl"]),
            fmt(c["lcl"]),
            ", ".join(f"{v['rule']}@{v['index']}" for v in c["violations"]) or "none",
        )
        console.print(table)
    if "capability" in result:
        cap = result["capability"]
        console.print({k: cap[k] for k in ("cp", "cpk", "pp", "ppk", "ppm_total_overall", "normality_p")})


cli = typer.Typer()
cli.command("spc")(spc_command)
