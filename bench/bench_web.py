"""Web latency under load: the terminal's entry endpoint with 10 and 100 concurrent terminals on SQLite and on
PostgreSQL, and the live board's SSE fan-out to 200 open boards, each against a bare FastAPI app doing the same
transport in the same run.

Servers run as separate uvicorn processes on loopback.  The taps are sent by ``bench.loadgen`` (HTTP/1.1 on raw
asyncio sockets, one keep-alive connection per terminal, requests encoded before the clock starts), whose own CPU
time per request is reported beside the server's, so that the bare endpoint's figure is the server's and not the
client's (an httpx client spent some 3.5 ms of CPU a request, more than the bare endpoint).  Figures: p50/p99 of
request latency (ms, medians of alternated runs), taps per second, and p50/p99 of the delay from a stored entry to
its tile arriving on each board (ms).
"""

from __future__ import annotations

import asyncio
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

import httpx
from fastapi import FastAPI
from fastapi.responses import StreamingResponse

from bench.loadgen import LoadResult, post_request, run_load
from bench.stores import pg_database, pg_server

PASSWORD = "bench-password-1"
ROOT = str(Path(__file__).resolve().parent.parent)  # bench/ is imported from the checkout


def bare_app() -> FastAPI:
    """Baseline: the same transport with no work behind it (echo a JSON body; broadcast a line over SSE)."""
    app = FastAPI()
    subscribers: set[asyncio.Queue] = set()

    @app.post("/entries")
    async def entries(body: dict) -> dict:
        return {"stored": True, "key": body.get("key")}

    @app.post("/publish")
    async def publish() -> dict:
        for q in subscribers:
            q.put_nowait("x")
        return {"subscribers": len(subscribers)}

    @app.get("/stream")
    async def stream():
        q: asyncio.Queue = asyncio.Queue()
        subscribers.add(q)

        async def gen():
            try:
                yield ": connected\n\n"
                while True:
                    await q.get()
                    yield "event: tile-X\ndata: <article>x</article>\n\n"
            finally:
                subscribers.discard(q)

        return StreamingResponse(gen(), media_type="text/event-stream")

    return app


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start(factory: str, env: dict[str, str]) -> tuple[subprocess.Popen, str]:
    port = _free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "--factory",
            factory,
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--log-level",
            "warning",
            "--no-access-log",
        ],
        env={**os.environ, **env, "PYTHONPATH": os.pathsep.join(filter(None, [ROOT, os.environ.get("PYTHONPATH")]))},
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120  # start-up takes seconds, and many more on a busy machine
    while time.monotonic() < deadline:
        try:
            httpx.get(base + "/openapi.json" if "bare" in factory else base + "/healthz", timeout=1)
            return proc, base
        except httpx.HTTPError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError(f"server {factory} did not start")


def _pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q * (len(values) - 1))))]


async def _fanout(base: str, stream_path: str, cookies, boards: int, trigger, rounds: int) -> list[float]:
    delays: list[float] = []
    ready = asyncio.Event()
    connected = 0
    arrivals: list[asyncio.Queue] = [asyncio.Queue() for _ in range(boards)]

    async def board(i: int):
        nonlocal connected
        async with httpx.AsyncClient(base_url=base, cookies=cookies, timeout=None) as client:
            async with client.stream("GET", stream_path) as response:
                async for line in response.aiter_lines():
                    if line.startswith(": connected"):
                        connected += 1
                        if connected == boards:
                            ready.set()
                    elif line.startswith("event: tile-"):
                        arrivals[i].put_nowait(time.perf_counter())

    tasks = [asyncio.create_task(board(i)) for i in range(boards)]
    await asyncio.wait_for(ready.wait(), timeout=60)
    for _ in range(rounds):
        sent = time.perf_counter()
        await trigger()
        for q in arrivals:
            arrived = await asyncio.wait_for(q.get(), timeout=30)
            delays.append((arrived - sent) * 1000)
            while not q.empty():
                q.get_nowait()
        await asyncio.sleep(0.2)
    for t in tasks:
        t.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    return delays


def _prepare_store(url: str, terminals: int) -> None:
    from shopfloor.actions.demo import sample_plant
    from shopfloor.store import accounts
    from shopfloor.store.db import open_store
    from shopfloor.store.plant import save_plant

    engine = open_store(url)
    with engine.begin() as conn:
        save_plant(conn, sample_plant(), "bench")
        accounts.create_user(conn, "boss", "supervisor", password=PASSWORD)
        for i in range(terminals):
            accounts.create_user(conn, f"op{i}", "operator", pin="1234", badge=f"B{i}")
    engine.dispose()


def _tap_requests(
    host: str, port: int, path: str, sessions, csrfs, machines: list[str], count: int
) -> list[list[bytes]]:
    """Each terminal's taps (a good part on its own machine, the terminals spread over the plant's machines), as
    ready HTTP requests."""
    out = []
    for i in range(len(sessions)):
        headers = {"X-CSRF-Token": csrfs[i]} if csrfs[i] else {}
        if sessions[i]:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in sessions[i].items())
        now = datetime.now(timezone.utc)
        body = {"machine": machines[i % len(machines)], "action": "good", "quantity": 1}
        out.append(
            [
                post_request(
                    host,
                    port,
                    path,
                    {"key": uuid.uuid4().hex, "ts": (now + timedelta(microseconds=j)).isoformat(), **body},
                    headers,
                )
                for j in range(count)
            ]
        )
    return out


def _must_be_ok(status: int, body: bytes) -> None:
    if status != 200:
        raise AssertionError(f"answer {status}: {body[:300]!r}")


def _taps(store: str, url: str, sizes: list[int], entries_each: int, repeat: int) -> list[dict]:
    """Terminal taps at each number of concurrent terminals against the bare endpoint, runs alternated (medians of
    ``repeat`` runs of each), with the CPU time per request of the server and of the load generator."""
    from shopfloor.actions.demo import sample_plant

    machines = [m.code for m in sample_plant().machines]
    terminals = max(sizes)
    _prepare_store(url, terminals)
    app_proc, app_base = _start("shopfloor.app:app_from_env", {"SHOPFLOOR_DB": url})
    bare_proc, bare_base = _start("bench.bench_web:bare_app", {})
    rows = []
    try:
        sessions, csrfs = [], []
        for i in range(terminals):
            r = httpx.post(app_base + "/api/v1/auth/pin", json={"who": f"B{i}", "pin": "1234"})
            r.raise_for_status()
            sessions.append(dict(r.cookies))
            csrfs.append(r.json()["csrf_token"])
        host, port = "127.0.0.1", int(app_base.rsplit(":", 1)[1])
        bare_port = int(bare_base.rsplit(":", 1)[1])
        # A first round outside the measurement: connections, caches and the first hour's rollup state.
        warm = _tap_requests(host, port, "/api/v1/pop/entries", sessions[:10], csrfs[:10], machines, 2)
        run_load(host, port, warm, check=_must_be_ok)
        for n in sizes:
            app_runs, bare_runs = [], []
            for _ in range(repeat):
                reqs = _tap_requests(host, port, "/api/v1/pop/entries", sessions[:n], csrfs[:n], machines, entries_each)
                app_runs.append(run_load(host, port, reqs, app_proc.pid, _must_be_ok))
                reqs = _tap_requests(host, bare_port, "/entries", [{}] * n, [""] * n, machines, entries_each)
                bare_runs.append(run_load(host, bare_port, reqs, bare_proc.pid, _must_be_ok))
            for q, name in ((0.5, "p50"), (0.99, "p99")):
                v = statistics.median(r.pct(q) for r in app_runs)
                b = statistics.median(r.pct(q) for r in bare_runs)
                rows.append(
                    {
                        "name": f"{store}: terminal tap latency, {n} concurrent terminals, {name}",
                        "value": v,
                        "unit": "ms",
                        "baseline": b,
                        "baseline_unit": "ms (bare FastAPI endpoint, same load generator)",
                        "ratio": v / b if b else float("inf"),
                        **_cpu(app_runs, bare_runs),
                    }
                )
            rate = statistics.median(r.requests / r.wall_s for r in app_runs)
            bare_rate = statistics.median(r.requests / r.wall_s for r in bare_runs)
            rows.append(
                {
                    "name": f"{store}: terminal taps per second, {n} concurrent terminals",
                    "value": rate,
                    "unit": "taps/s",
                    "baseline": bare_rate,
                    "baseline_unit": "requests/s (bare FastAPI endpoint)",
                    "ratio": rate / bare_rate,
                    **_cpu(app_runs, bare_runs),
                }
            )
    finally:
        for proc in (app_proc, bare_proc):
            proc.terminate()
            proc.wait(timeout=10)
    return rows


def _cpu(app_runs: list[LoadResult], bare_runs: list[LoadResult]) -> dict[str, float]:
    """CPU milliseconds per request: the server's and the load generator's, on each side (medians)."""
    return {
        "server_cpu_ms_per_request": statistics.median(r.server_cpu_ms_per_request for r in app_runs),
        "client_cpu_ms_per_request": statistics.median(r.client_cpu_ms_per_request for r in app_runs),
        "baseline_server_cpu_ms_per_request": statistics.median(r.server_cpu_ms_per_request for r in bare_runs),
        "baseline_client_cpu_ms_per_request": statistics.median(r.client_cpu_ms_per_request for r in bare_runs),
    }


def _fanout_rows(tmp: Path, boards: int, rounds: int) -> list[dict]:
    db = tmp / "fanout.db"
    _prepare_store(str(db), 1)
    app_proc, app_base = _start("shopfloor.app:app_from_env", {"SHOPFLOOR_DB": str(db)})
    bare_proc, bare_base = _start("bench.bench_web:bare_app", {})
    try:
        r = httpx.post(app_base + "/api/v1/auth/pin", json={"who": "B0", "pin": "1234"})
        r.raise_for_status()
        session, csrf = dict(r.cookies), r.json()["csrf_token"]
        boss = httpx.post(app_base + "/api/v1/auth/login", json={"username": "boss", "password": PASSWORD})
        boss.raise_for_status()

        async def app_trigger():
            async with httpx.AsyncClient(base_url=app_base, cookies=session) as c:
                body = {
                    "key": uuid.uuid4().hex,
                    "ts": datetime.now(timezone.utc).isoformat(),
                    "machine": "WLD-01",
                    "action": "good",
                    "quantity": 1,
                }
                (await c.post("/api/v1/pop/entries", json=body, headers={"X-CSRF-Token": csrf})).raise_for_status()

        async def bare_trigger():
            async with httpx.AsyncClient(base_url=bare_base) as c:
                (await c.post("/publish")).raise_for_status()

        fan = asyncio.run(_fanout(app_base, "/board/stream", dict(boss.cookies), boards, app_trigger, rounds))
        fan_bare = asyncio.run(_fanout(bare_base, "/stream", {}, boards, bare_trigger, rounds))
    finally:
        for proc in (app_proc, bare_proc):
            proc.terminate()
            proc.wait(timeout=10)
    rows = []
    for q, name in ((0.5, "p50"), (0.99, "p99")):
        v, b = _pct(fan, q), _pct(fan_bare, q)
        rows.append(
            {
                "name": f"SQLite: SSE fan-out delay to {boards} boards (entry stored -> tile received) {name}",
                "value": v,
                "unit": "ms",
                "baseline": b,
                "baseline_unit": "ms (bare FastAPI)",
                "ratio": v / b if b else float("inf"),
            }
        )
    return rows


def run(quick: bool = False) -> list[dict]:
    sizes, entries_each, repeat, boards, rounds = ([10], 5, 1, 20, 3) if quick else ([10, 100], 20, 3, 200, 10)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        rows += _taps("SQLite", str(Path(tmp) / "taps.db"), sizes, entries_each, repeat)
        base = pg_server()
        if base:
            with pg_database(base) as url:
                rows += _taps("PostgreSQL", url, sizes, entries_each, repeat)
        rows += _fanout_rows(Path(tmp), boards, rounds)
    return rows
