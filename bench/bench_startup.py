"""Start-up: ``shopfloor serve`` from the command to its first 200 (``/healthz``) and its resident memory then,
against bare uvicorn serving a bare FastAPI app (``bench_web.bare_app``) to its first 200, in the same run; and
``shopfloor --version``.  Runs alternated, medians.  The store is an SQLite file already migrated, with a plant.
"""

from __future__ import annotations

import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def _first_200(command: list[str], url: str) -> tuple[float, float]:
    """Seconds from starting ``command`` to the first 200 from ``url``, and the server's RSS (MB) then."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(url, timeout=1) as r:
                    if r.status == 200:
                        return time.perf_counter() - t0, _rss_mb(proc.pid)
            except OSError:
                time.sleep(0.01)
        raise RuntimeError(f"{command} gave no 200")
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def run(quick: bool = False) -> list[dict]:
    from shopfloor.actions.demo import sample_plant
    from shopfloor.store.db import open_store
    from shopfloor.store.plant import save_plant

    repeat = 1 if quick else 5
    here = Path(__file__).resolve().parent.parent
    with tempfile.TemporaryDirectory() as tmp:
        db = str(Path(tmp) / "start.db")
        engine = open_store(db)
        with engine.begin() as conn:
            save_plant(conn, sample_plant(), "bench")
        engine.dispose()
        serve, bare, version, bare_version = [], [], [], []
        for _ in range(repeat):
            port = _free_port()
            serve.append(
                _first_200(
                    [sys.executable, "-m", "shopfloor.cli", "serve", "--db", db, "--port", str(port)],
                    f"http://127.0.0.1:{port}/healthz",
                )
            )
            port = _free_port()
            bare.append(
                _first_200(
                    [sys.executable, "-m", "uvicorn", "--factory", "bench.bench_web:bare_app", "--port", str(port),
                     "--app-dir", str(here)],
                    f"http://127.0.0.1:{port}/openapi.json",
                )
            )  # fmt: skip
            t = time.perf_counter()
            subprocess.run([sys.executable, "-m", "shopfloor.cli", "--version"], check=True, capture_output=True)
            version.append(time.perf_counter() - t)
            t = time.perf_counter()
            subprocess.run([sys.executable, "-c", "import typer"], check=True, capture_output=True)
            bare_version.append(time.perf_counter() - t)
    med = statistics.median
    return [
        {"name": "shopfloor serve: start to first 200", "value": med(s for s, _ in serve), "unit": "s",
         "baseline": med(s for s, _ in bare), "baseline_unit": "s (bare uvicorn + FastAPI to first 200)",
         "ratio": med(s for s, _ in serve) / med(s for s, _ in bare)},
        {"name": "shopfloor serve: resident memory at the first 200", "value": med(m for _, m in serve),
         "unit": "MB", "baseline": med(m for _, m in bare), "baseline_unit": "MB (bare uvicorn + FastAPI)",
         "ratio": med(m for _, m in serve) / med(m for _, m in bare)},
        {"name": "shopfloor --version", "value": med(version), "unit": "s", "baseline": med(bare_version),
         "baseline_unit": "s (python -c 'import typer')", "ratio": med(version) / med(bare_version)},
    ]  # fmt: skip
