"""``shopfloor spc``: a control chart, its rule violations and capability from a CSV file."""

from __future__ import annotations

import csv
import io
import json
import math
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from shopfloor.analytics import spc
from shopfloor.analytics.capability import METHODS, capability
from shopfloor.analytics.study import CHARTS, SUBGROUP_CHARTS, control_study

# Measurements beyond this magnitude are refused: no gauge reads them, and their squares overflow the statistics.
MAX_MAGNITUDE = 1e12


class InputError(ValueError):
    pass


def _read(path: Path) -> tuple[list[str], list[dict[str, str]], str]:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise InputError(f"{path}: not UTF-8 text (save it as 'CSV UTF-8')") from None
    first = text.splitlines()[0] if text else ""
    delimiter = ";" if first.count(";") > first.count(",") else "\t" if "\t" in first else ","
    reader = csv.DictReader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    try:
        if not reader.fieldnames:
            raise InputError(f"{path}: empty file, expected a header line")
        header = [f.strip() for f in reader.fieldnames]
        rows = []
        for row in reader:
            if None in row:  # more cells than the header has columns
                extra = ",".join(row[None])  # type: ignore[index]
                hint = (
                    " (a decimal comma? write 74.01, or separate the columns with ';' to use decimal commas)"
                    if delimiter == ","
                    else ""
                )
                raise InputError(
                    f"{path}, line {reader.line_num}: {len(header) + len(row[None])} cells but the header has "  # type: ignore[arg-type]
                    f"{len(header)} columns; the extra cell(s) {extra!r} would be lost{hint}"
                )
            rows.append(row)
        return header, rows, delimiter
    except csv.Error as exc:
        raise InputError(f"{path}, line {reader.line_num}: not readable as CSV ({exc})") from None


def parse_number(cell: str, decimal_comma: bool) -> float:
    """A measured value: a finite decimal number (with a decimal comma when the file is ';' or tab separated)."""
    text = cell.strip()
    if decimal_comma:
        text = text.replace(",", ".")
    value = float(text)  # ValueError for anything else
    if not math.isfinite(value):
        raise ValueError(text)
    return value


def _numbers(rows: list[dict[str, str]], column: str, header: list[str], delimiter: str) -> list[float]:
    if column not in header:
        raise InputError(f"no column {column!r}; the file has {', '.join(header)}")
    out = []
    for line, row in enumerate(rows, start=2):
        cell = (row.get(column) or "").strip()
        try:
            value = parse_number(cell, decimal_comma=delimiter != ",")
        except ValueError:
            hint = " (a decimal comma? write 74.01)" if "," in cell else ""
            raise InputError(f"line {line}, column {column!r}: {cell!r} is not a number{hint}") from None
        if abs(value) > MAX_MAGNITUDE:
            raise InputError(
                f"line {line}, column {column!r}: {cell!r} is beyond ±{MAX_MAGNITUDE:g}, not a measurement"
            )
        out.append(value)
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
        raise InputError(
            f"{len(values)} values do not make whole subgroups of {size} "
            "(for subgroups of different sizes, name each value's subgroup with --subgroup-column)"
        )
    return [values[i : i + size] for i in range(0, len(values), size)]


def _exclusions(text: str | None) -> list[int]:
    """1-based subgroup numbers ("15,23") as 0-based indices."""
    if not text:
        return []
    out = []
    for part in text.split(","):
        part = part.strip()
        if not part.isdigit() or int(part) < 1:
            raise InputError(f"--exclude {text!r}: subgroup numbers from 1, separated by commas (e.g. 15,23)")
        out.append(int(part) - 1)
    return out


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
    rules: str | None = None,
    lam: float = 0.2,
    target: float | None = None,
    k: float = 0.5,
    h: float = 5.0,
    **options: Any,
) -> dict[str, Any]:
    """The study as a dict; ``options`` are control_study's (sigma, nsigmas, exclude given 1-based, ...)."""
    if chart not in CHARTS:
        raise InputError(f"--chart {chart!r}: expected one of {', '.join(CHARTS)}")
    header, rows, delimiter = _read(path)
    values = _numbers(rows, column, header, delimiter)
    sizes = _numbers(rows, size_column, header, delimiter) if size_column else None
    means_of_groups = chart in ("ewma", "cusum") and (subgroup_column or (subgroup_size or 1) > 1)
    groups = (
        _subgroups(values, rows, header, subgroup_size, subgroup_column)
        if chart in SUBGROUP_CHARTS or means_of_groups
        else None
    )
    if chart in ("p", "u") and sizes is None:
        raise InputError(f"a {chart} chart needs --size-column (units inspected per subgroup)")
    if chart == "np" and not subgroup_size:
        raise InputError("an np chart needs --subgroup-size (the constant sample size)")
    options["exclude"] = _exclusions(options.get("exclude"))
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
        **{key: v for key, v in options.items() if v is not None},
    )
    if chart not in ("xbar-r", "xbar-s", "imr", "ewma", "cusum") and (usl is not None or lsl is not None):
        result["capability"] = capability(values, usl=usl, lsl=lsl).to_dict()
    return {
        "chart": chart,
        "column": column,
        "indices": "0-based",
        **{k_: v for k_, v in result.items() if k_ != "chart"},
    }


def spc_command(
    file: Annotated[Path, typer.Argument(help="CSV file with a header line.", exists=True, dir_okay=False)],
    chart: Annotated[str, typer.Option(help="xbar-r, xbar-s, imr, p, np, c, u, ewma or cusum.")],
    column: Annotated[str, typer.Option(help="Column with the measured values (counts for attribute charts).")],
    subgroup_size: Annotated[
        int | None, typer.Option(help="Consecutive values per subgroup (X-bar; EWMA/CUSUM of means; n for np).")
    ] = None,
    subgroup_column: Annotated[
        str | None, typer.Option(help="Column naming each value's subgroup (subgroups may differ in size).")
    ] = None,
    size_column: Annotated[str | None, typer.Option(help="Units inspected per subgroup (p and u charts).")] = None,
    usl: Annotated[float | None, typer.Option(help="Upper specification limit (capability).")] = None,
    lsl: Annotated[float | None, typer.Option(help="Lower specification limit (capability).")] = None,
    nominal: Annotated[float | None, typer.Option(help="Target value of the characteristic (Cpm).")] = None,
    phase1: Annotated[int | None, typer.Option(help="Estimate the limits from the first K subgroups only.")] = None,
    exclude: Annotated[
        str | None,
        typer.Option(help="Subgroups (numbered from 1) left out of the limits but still plotted, e.g. 15,23."),
    ] = None,
    rules: Annotated[
        str | None,
        typer.Option(
            help="Run rules: nelson, we (Western Electric) or limits, with the rules to apply and their parameter: "
            "nelson:1,2=7,5=2/3. Default nelson; EWMA and CUSUM only their limits."
        ),
    ] = None,
    centre: Annotated[
        float | None,
        typer.Option("--centre", "--target", help="Known centre (EWMA/CUSUM target; p, c or u of attribute charts)."),
    ] = None,
    sigma: Annotated[float | None, typer.Option(help="Known sigma of individual values.")] = None,
    nsigmas: Annotated[float, typer.Option(help="Width of the limits in sigmas (L of the EWMA).")] = 3.0,
    lam: Annotated[float, typer.Option("--lambda", help="EWMA weight.")] = 0.2,
    ewma_limits: Annotated[str, typer.Option(help="EWMA limits: exact (widening) or asymptotic.")] = "exact",
    k: Annotated[float, typer.Option(help="CUSUM reference value k, in sigmas (K = k sigma).")] = 0.5,
    h: Annotated[float, typer.Option(help="CUSUM decision interval h, in sigmas (H = h sigma).")] = 5.0,
    sigma_method: Annotated[
        str, typer.Option(help="X-bar/S sigma with unequal subgroups: uwave (ASTM E2587) or pooled (Montgomery).")
    ] = "uwave",
    capability_on: Annotated[
        str, typer.Option(help="Capability on the phase1 subgroups (less excluded ones) or on all.")
    ] = "phase1",
    capability_method: Annotated[
        str, typer.Option(help="normal, percentile (ISO 22514-2, fitted distribution) or boxcox.")
    ] = "normal",
    confidence: Annotated[float, typer.Option(help="Level of the capability intervals.")] = 0.95,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print JSON; every index in it (violations, baseline) is 0-based.")
    ] = False,
) -> None:
    """Control chart limits (per point where they vary), run-rule violations and capability from a CSV.

    Subgroups are numbered from 1 in --exclude and in the printed table; JSON indices are 0-based."""
    if capability_method not in METHODS:
        Console(stderr=True).print(f"[bold red]error:[/] --capability-method: expected {', '.join(METHODS)}")
        raise typer.Exit(2)
    try:
        result = run_spc(
            file, chart, column, subgroup_size, subgroup_column, size_column, usl, lsl, phase1, rules, lam, None, k, h,
            centre=centre, sigma=sigma, nsigmas=nsigmas, ewma_limits=ewma_limits, sigma_method=sigma_method,
            exclude=exclude, nominal=nominal, capability_on=capability_on, capability_method=capability_method,
            confidence=confidence,
        )  # fmt: skip
    except (InputError, spc.SpcError, ValueError) as exc:
        Console(stderr=True).print(f"[bold red]error:[/] {exc}", highlight=False)
        raise typer.Exit(2) from None
    if as_json:
        sys.stdout.write(json.dumps(result, indent=2) + "\n")
        return
    console = Console(width=None if sys.stdout.isatty() else 160)
    for c in result["charts"]:
        table = Table(title=f"{c['chart']} chart of {column} (rules {result['rules']})")
        for col in ("centre", "UCL", "LCL", "violations (rule@subgroup, from 1)"):
            table.add_column(col)
        fmt = lambda v: f"{v:.6g}" if isinstance(v, float) else "per point"  # noqa: E731
        table.add_row(
            fmt(c["centre"]),
            fmt(c["ucl"]),
            fmt(c["lcl"]),
            ", ".join(f"{v['rule']}@{v['index'] + 1}" for v in c["violations"]) or "none",
        )
        console.print(table)
    if "capability" in result:
        cap = result["capability"]
        shown = ("cp", "cpk", "pp", "ppk", "cpm", "ppm_total_overall", "normality_p", "method")
        console.print({key: cap[key] for key in shown if key in cap})
        if cap.get("basis"):
            console.print(f"capability on {cap['basis']['description']}")
