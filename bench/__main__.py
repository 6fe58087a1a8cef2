"""Run every benchmark (or those named) and print one table; ``--json FILE`` keeps the rows for comparison."""

from __future__ import annotations

import argparse
import importlib
import json
import os
import pkgutil
import sys
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

import bench


def discover() -> list[str]:
    return sorted(m.name for m in pkgutil.iter_modules(bench.__path__) if m.name.startswith("bench_"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("names", nargs="*", help="benchmark modules to run (default: all), e.g. bench_kpi_rollups")
    parser.add_argument("--quick", action="store_true", help="small data sets, to check that benchmarks run")
    parser.add_argument("--json", type=Path, help="write the rows to this file")
    parser.add_argument(
        "--markdown",
        type=Path,
        nargs="+",
        metavar="JSON",
        help="print the rows of these --json files as the README's table (one row per figure) and run nothing",
    )
    args = parser.parse_args(argv)
    if args.markdown:
        print(markdown([row for path in args.markdown for row in json.loads(path.read_text())["rows"]]))
        return 0
    names = args.names or discover()
    unknown = [n for n in names if n not in discover()]
    if unknown:
        parser.error(f"unknown benchmark(s): {', '.join(unknown)}; known: {', '.join(discover())}")
    rows = []
    for name in names:
        started = time.perf_counter()
        module = importlib.import_module(f"bench.{name}")
        load_before = os.getloadavg()[0]
        measured = module.run(quick=args.quick)
        # The machine's load beside every figure: a benchmark on a busy machine reads slower than on an idle one.
        load = f"{load_before:.1f}-{os.getloadavg()[0]:.1f}"
        day = time.strftime("%Y-%m-%d", time.gmtime())
        for row in measured:
            rows.append({"bench": name, "load_1min": load, "date": day, **row})
        print(f"{name}: {time.perf_counter() - started:.1f} s", file=sys.stderr)
    table = Table(title="shopfloor benchmarks" + (" (quick)" if args.quick else ""))
    for col in ("bench", "figure", "value", "baseline", "ratio"):
        table.add_column(col, justify="left" if col in ("bench", "figure") else "right")
    for r in rows:
        table.add_row(
            r["bench"],
            r["name"],
            f"{r['value']:.4g} {r['unit']}",
            f"{r['baseline']:.4g} {r['baseline_unit']}",
            f"{r['ratio']:.3g}",
        )
    Console(width=160).print(table)
    if args.json:
        args.json.write_text(json.dumps({"quick": args.quick, "rows": rows}, indent=2))
    return 0


def _num(x: float) -> str:
    return f"{x:,.0f}" if abs(x) >= 100 else f"{x:.3g}"


def markdown(rows: list[dict]) -> str:
    """The rows as a Markdown table: each figure against its same-run baseline, with the CPU per request or value
    of each side where measured, the machine's load (1-minute average, before-after) and the date."""
    out = ["| benchmark | figure | value | baseline (same run) | ratio | load, date |", "|---|---|---|---|---|---|"]
    for r in rows:
        value = f"{_num(r['value'])} {r['unit']}"
        baseline = f"{_num(r['baseline'])} {r['baseline_unit']}"
        cpu = [f"{k.replace('_', ' ')}: {_num(v)}" for k, v in r.items() if "cpu" in k and isinstance(v, int | float)]
        if cpu:
            baseline += " (" + "; ".join(cpu) + ")"
        out.append(
            f"| `{r['bench']}` | {r['name']} | {value} | {baseline} | {r['ratio']:.3g} | "
            f"{r.get('load_1min', '?')}, {r.get('date', '?')} |"
        )
    return "\n".join(out)


if __name__ == "__main__":
    sys.exit(main())
