"""Starting ``shopfloor serve`` as a separate process for the tests that need real processes."""

from __future__ import annotations

import socket
import subprocess
import sys
import time

import httpx


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve(db: str, port: int, timeout_s: float = 30.0) -> subprocess.Popen:
    """``shopfloor serve`` on ``db`` and ``port``, once its /healthz answers."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "shopfloor.cli", "serve", "--db", db, "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError(f"the server on {port} did not start: {proc.stderr.read().decode()[-2000:]}")
