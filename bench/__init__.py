"""Benchmarks.  Each ``bench_*.py`` module has ``run(quick: bool = False) -> list[dict]`` returning rows
``{name, value, unit, baseline, baseline_unit, ratio}``: a figure, the baseline measured in the same run,
and their ratio.  ``python -m bench`` runs them all and prints one table."""
