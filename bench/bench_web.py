"""Web latency under load: the terminal's entry endpoint with 100 concurrent terminals, and the live board's
SSE fan-out to 200 open boards, each against a bare FastAPI app doing the same transport in the same run.

Servers run as separate uvicorn processes on loopback so that the load generator does not share their
interpreter.  Figures: p50/p99 of request latency (ms) and p50/p99 of the delay from a stored entry to its
tile arriving on each board (ms).
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
from datetime import datetime, timezone
from pathlib import Path

import httpx
from fastapi import FastAPI
from fastapi.responses import StreamingResponse

PASSWORD = "bench-password-1"


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
        env={**os.environ, **env, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)},
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
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


async def _terminals(base: str, path: str, cookies_list, csrf_list, entries_each: int) -> list[float]:
    latencies: list[float] = []

    async def terminal(i: int):
        async with httpx.AsyncClient(base_url=base, cookies=cookies_list[i], timeout=60) as client:
            for _ in range(entries_each):
                body = {
                    "key": uuid.uuid4().hex,
                    "ts": datetime.now(timezone.utc).isoformat(),
                    "machine": "CNC-01",
                    "action": "good",
                    "quantity": 1,
                }
                t = time.perf_counter()
                r = await client.post(path, json=body, headers={"X-CSRF-Token": csrf_list[i]})
                latencies.append((time.perf_counter() - t) * 1000)
                r.raise_for_status()

    await asyncio.gather(*(terminal(i) for i in range(len(cookies_list))))
    return latencies


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


def _prepare_store(path: Path, terminals: int) -> None:
    from shopfloor.actions.demo import sample_plant
    from shopfloor.store import accounts
    from shopfloor.store.db import open_store
    from shopfloor.store.plant import save_plant

    engine = open_store(str(path))
    with engine.begin() as conn:
        save_plant(conn, sample_plant(), "bench")
        accounts.create_user(conn, "boss", "supervisor", password=PASSWORD)
        for i in range(terminals):
            accounts.create_user(conn, f"op{i}", "operator", pin="1234", badge=f"B{i}")
    engine.dispose()


def run(quick: bool = False) -> list[dict]:
    terminals, entries_each, boards, rounds = (10, 5, 20, 3) if quick else (100, 20, 200, 10)
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "bench.db"
        _prepare_store(db, terminals)
        env = {"SHOPFLOOR_DB": str(db)}
        app_proc, app_base = _start("shopfloor.app:app_from_env", env)
        bare_proc, bare_base = _start("bench.bench_web:bare_app", {})
        try:
            sessions, csrfs = [], []
            for i in range(terminals):
                r = httpx.post(app_base + "/api/v1/auth/pin", json={"who": f"B{i}", "pin": "1234"})
                r.raise_for_status()
                sessions.append(dict(r.cookies))
                csrfs.append(r.json()["csrf_token"])
            boss = httpx.post(app_base + "/api/v1/auth/login", json={"username": "boss", "password": PASSWORD})
            boss.raise_for_status()
            pop = asyncio.run(_terminals(app_base, "/api/v1/pop/entries", sessions, csrfs, entries_each))
            bare = asyncio.run(_terminals(bare_base, "/entries", [{}] * terminals, [""] * terminals, entries_each))

            async def app_trigger():
                async with httpx.AsyncClient(base_url=app_base, cookies=sessions[0]) as c:
                    body = {
                        "key": uuid.uuid4().hex,
                        "ts": datetime.now(timezone.utc).isoformat(),
                        "machine": "WLD-01",
                        "action": "good",
                        "quantity": 1,
                    }
                    (
                        await c.post("/api/v1/pop/entries", json=body, headers={"X-CSRF-Token": csrfs[0]})
                    ).raise_for_status()

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
    for label, values, base_values in (
        (f"terminal entry latency, {terminals} concurrent terminals", pop, bare),
        (f"SSE fan-out delay to {boards} boards (entry stored -> tile received)", fan, fan_bare),
    ):
        for q, name in ((0.5, "p50"), (0.99, "p99")):
            v, b = _pct(values, q), _pct(base_values, q)
            rows.append(
                {
                    "name": f"{label} {name}",
                    "value": v,
                    "unit": "ms",
                    "baseline": b,
                    "baseline_unit": "ms (bare FastAPI)",
                    "ratio": v / b if b else float("inf"),
                }
            )
    rows.append(
        {
            "name": "terminal entries per second (all terminals)",
            "value": len(pop) / (sum(pop) / 1000 / terminals),
            "unit": "entries/s",
            "baseline": statistics.mean(bare),
            "baseline_unit": "ms mean (bare)",
            "ratio": 1.0,
        }
    )
    return rows
