"""Run every benchmark (or those named) and print one table; ``--json FILE`` keeps the rows for comparison."""

from __future__ import annotations

import argparse
import importlib
import json
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
    args = parser.parse_args(argv)
    names = args.names or discover()
    unknown = [n for n in names if n not in discover()]
    if unknown:
        parser.error(f"unknown benchmark(s): {', '.join(unknown)}; known: {', '.join(discover())}")
    rows = []
    for name in names:
        started = time.perf_counter()
        module = importlib.import_module(f"bench.{name}")
        for row in module.run(quick=args.quick):
            rows.append({"bench": name, **row})
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


if __name__ == "__main__":
    sys.exit(main())
