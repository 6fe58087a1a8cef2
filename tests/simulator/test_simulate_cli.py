"""`shopfloor simulate --port-base`: the virtual plant's servers at known ports, as its printed connectors say."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time

import httpx
import yaml

from shopfloor.simulator.modbus_server import free_port


def _free_run(width: int = 3) -> int:
    """A base port with the next ``width - 1`` ports free too."""
    for _ in range(50):
        base = free_port()
        if base + width > 65535:
            continue
        try:
            for p in range(base, base + width):
                with socket.socket() as s:
                    s.bind(("127.0.0.1", p))
            return base
        except OSError:
            continue
    raise RuntimeError("no run of free ports")


def _interruptible() -> None:
    """In the child before it starts: SIGINT delivered and handled by default, whatever the test process (or a
    thread of a library in it) left blocked or ignored; a child inherits both, and Python does not install its
    Ctrl+C handler where SIGINT is ignored at start."""
    signal.pthread_sigmask(signal.SIG_UNBLOCK, [signal.SIGINT])
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def test_simulate_serves_at_the_port_base_and_prints_those_ports(tmp_path):
    base = _free_run()
    cmd = [sys.executable, "-m", "shopfloor.cli", "simulate", "--port-base", str(base), "--mqtt", "mqtt://127.0.0.1:1"]
    out = tmp_path / "out.txt"
    with open(out, "w") as fh:
        proc = subprocess.Popen(cmd, stdout=fh, stderr=subprocess.STDOUT, preexec_fn=_interruptible)
    try:
        deadline = time.monotonic() + 60
        while "connectors:" not in out.read_text() or "machines:" not in out.read_text():
            assert proc.poll() is None and time.monotonic() < deadline, out.read_text()
            time.sleep(0.2)
        time.sleep(0.5)
        text = out.read_text()
        doc = yaml.safe_load(text[text.index("connectors:") :])
        by_name = {c["name"]: c for c in doc["connectors"]}
        assert by_name["mould-plc"]["port"] == base
        assert by_name["cnc-opcua"]["url"] == f"opc.tcp://127.0.0.1:{base + 1}/shopfloor/"
        assert by_name["cnc-mtconnect"]["url"] == f"http://127.0.0.1:{base + 2}"
        assert httpx.get(f"http://127.0.0.1:{base + 2}/probe", timeout=5).status_code == 200
        with socket.create_connection(("127.0.0.1", base), timeout=5):
            pass
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(30)
