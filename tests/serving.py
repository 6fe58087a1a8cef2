"""Starting ``shopfloor serve`` as a separate process for the tests that need real processes."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time

import httpx


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_serving(db: str, port: int, env: dict[str, str] | None = None) -> subprocess.Popen:
    """``shopfloor serve`` on ``db`` and ``port`` (with ``env`` added to the environment), still starting.  Its
    log goes to a file, not a pipe: a pipe nobody reads would stop a server that logs every request."""
    log = tempfile.TemporaryFile()
    proc = subprocess.Popen(
        [sys.executable, "-m", "shopfloor.cli", "serve", "--db", db, "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=log,
        env={**os.environ, **(env or {})},
    )
    proc.log = log  # type: ignore[attr-defined]
    return proc


def wait_serving(proc: subprocess.Popen, port: int, timeout_s: float = 30.0) -> subprocess.Popen:
    """``proc`` once its /healthz on ``port`` answers."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.1)
    proc.kill()
    proc.log.seek(0)  # type: ignore[attr-defined]
    raise RuntimeError(f"the server on {port} did not start: {proc.log.read().decode()[-2000:]}")  # type: ignore[attr-defined]


def serve(db: str, port: int, timeout_s: float = 30.0) -> subprocess.Popen:
    """``shopfloor serve`` on ``db`` and ``port``, once its /healthz answers."""
    return wait_serving(start_serving(db, port), port, timeout_s)
