"""Denial of service against a real ``shopfloor serve`` process on loopback, with bounded loops: bodies are not read
before the sender is known, bodies over a route's limit are refused, slow headers and bodies are cut off, and open
connections are capped, while /healthz keeps answering.

The server runs with small limits (1 s timeouts, 40 connections, 64 KiB forms, 2 MiB uploads) so that each case
takes seconds; the same code runs with the defaults of the settings.
"""

from __future__ import annotations

import json
import os
import socket
import time
from pathlib import Path

import httpx
import pytest

from shopfloor.store import accounts
from shopfloor.store.db import open_store
from tests.serving import free_port, start_serving, wait_serving

LIMITS = {
    "SHOPFLOOR_HEADER_TIMEOUT_S": "1",
    "SHOPFLOOR_BODY_TIMEOUT_S": "1",
    "SHOPFLOOR_KEEP_ALIVE_S": "1",
    "SHOPFLOOR_MAX_CONNECTIONS": "40",
    "SHOPFLOOR_MAX_BODY_KB": "64",
    "SHOPFLOOR_MAX_UPLOAD_MB": "2",
}


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    folder = tmp_path_factory.mktemp("dos")
    db = str(folder / "store.db")
    engine = open_store(db)
    with engine.begin() as conn:
        admin = accounts.create_user(conn, "admin", "admin", password="admin-password-1")
        token = accounts.create_api_token(conn, admin, "test")
    engine.dispose()
    spool = folder / "tmp"
    spool.mkdir()
    port = free_port()
    proc = wait_serving(start_serving(db, port, {**LIMITS, "TMPDIR": str(spool)}), port, timeout_s=120)
    yield {"port": port, "token": token, "pid": proc.pid, "spool": spool}
    proc.terminate()
    proc.wait(10)


def _connect(port: int) -> socket.socket:
    return socket.create_connection(("127.0.0.1", port), timeout=5)


def _answer(sock: socket.socket) -> tuple[int, bytes]:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split()[1]), body


def _rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


def _fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def _healthz_s(port: int) -> float:
    started = time.monotonic()
    assert httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=5).status_code == 200
    return time.monotonic() - started


def test_an_anonymous_upload_is_refused_before_its_body_is_read(server):
    rss = _rss_kib(server["pid"])
    multipart = "multipart/form-data; boundary=x"
    for path, kind in (("/api/v1/master/import", multipart), ("/api/v1/events", "application/json"),
                       ("/master/import", multipart)):  # fmt: skip
        sock = _connect(server["port"])
        head = f"POST {path} HTTP/1.1\r\nHost: t\r\nContent-Type: {kind}\r\nContent-Length: {2**31}\r\n\r\n"
        sock.sendall(head.encode() + b"-" * 65536)  # 64 KiB of the 2 GiB announced
        started = time.monotonic()
        status, body = _answer(sock)
        assert time.monotonic() - started < 2
        if path.startswith("/api/"):
            assert (status, json.loads(body or b"{}").get("code")) in ((401, "auth.sign_in_required"), (401, None))
        else:
            assert status == 303  # a page: to the sign-in page
        with pytest.raises((ConnectionError, OSError)):  # the server closed: the rest is never read
            for _ in range(200):
                sock.sendall(b"-" * 65536)
        sock.close()
    assert list(server["spool"].iterdir()) == []  # nothing spooled to disk
    assert _rss_kib(server["pid"]) - rss < 20_000


def test_a_body_over_the_routes_limit_is_refused_with_a_typed_error(server):
    auth = {"Authorization": f"Bearer {server['token']}"}
    base = f"http://127.0.0.1:{server['port']}"
    r = httpx.post(f"{base}/api/v1/users", content=b"{" + b" " * 70_000 + b"}", timeout=5,
                   headers={**auth, "Content-Type": "application/json", "Accept-Language": "ko"})  # fmt: skip
    assert (r.status_code, r.json()["code"], r.json()["params"]) == (413, "request.too_large", {"limit": "64 KiB"})
    assert "64 KiB" in r.json()["detail"] and r.json()["detail"] != "the request is larger than 64 KiB"

    def chunks():  # a file of 2.5 MiB in a multipart form, sent in parts without a length
        yield b'--x\r\nContent-Disposition: form-data; name="file"; filename="items.csv"\r\n\r\n'
        for _ in range(40):
            yield b"a" * 65536

    r = httpx.post(f"{base}/api/v1/master/import", content=chunks(), timeout=10,
                   headers={**auth, "Content-Type": "multipart/form-data; boundary=x"})  # fmt: skip
    assert (r.status_code, r.json().get("code"), r.json().get("params")) == (
        413,
        "request.too_large",
        {"limit": "2 MiB"},
    ), r.text
    assert list(server["spool"].iterdir()) == []


def test_slow_headers_and_slow_bodies_are_cut_off(server):
    socks = [_connect(server["port"]) for _ in range(20)]
    for s in socks:
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: t\r\n")
    started = time.monotonic()
    for _ in range(5):  # a header byte every 0.4 s does not keep the connection
        for s in socks:
            try:
                s.sendall(b"X")
            except OSError:
                pass
        time.sleep(0.4)
    for s in socks:
        s.settimeout(3)
        assert s.recv(1024) == b""  # closed by the server
        s.close()
    assert time.monotonic() - started < 4

    sock = _connect(server["port"])
    head = (f"POST /api/v1/users HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer {server['token']}\r\n"
            "Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{")  # fmt: skip
    sock.sendall(head.encode())
    started = time.monotonic()
    sock.settimeout(5)
    try:
        while sock.recv(1024):
            pass
    except ConnectionResetError:
        pass
    assert time.monotonic() - started < 3
    sock.close()


def test_connections_are_capped_and_healthz_answers_once_the_idle_ones_are_cut(server):
    port, pid = server["port"], server["pid"]
    fds = _fds(pid)
    socks = [_connect(port) for _ in range(120)]  # three times the cap, none sending anything
    time.sleep(0.3)
    assert _fds(pid) <= fds + 40 + 2
    closed_at_once = 0
    for s in socks[40:]:
        s.settimeout(0.5)
        try:
            closed_at_once += s.recv(1) == b""
        except (TimeoutError, ConnectionResetError):
            closed_at_once += 1
    assert closed_at_once >= 75
    time.sleep(1.5)  # the header timeout cuts the idle ones
    assert _healthz_s(port) < 1
    for s in socks:
        s.close()
