"""A load generator that is not the bottleneck: HTTP/1.1 over raw asyncio sockets, one keep-alive connection per
simulated terminal, requests encoded before the clock starts.

An HTTP client library (httpx) spends some 3.5 ms of CPU per request on this machine, more than a bare FastAPI
endpoint does to answer it, so a benchmark driven by it measures the client.  This one writes prepared bytes and
reads the status line, the headers and ``Content-Length`` bytes of body: some 0.1 ms of CPU a request.  Its own CPU
time per request is measured and reported beside the server's (``server_cpu_s`` reads the server process's CPU
time from /proc), so a reader can see which side limits a figure.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field


def post_request(host: str, port: int, path: str, body: dict, headers: dict[str, str] | None = None) -> bytes:
    """One HTTP/1.1 POST with a JSON body, ready to write to a socket."""
    data = json.dumps(body, separators=(",", ":")).encode()
    lines = [f"POST {path} HTTP/1.1", f"Host: {host}:{port}", "Content-Type: application/json",
             f"Content-Length: {len(data)}"]  # fmt: skip
    lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + data


@dataclass
class LoadResult:
    latencies_ms: list[float] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)
    wall_s: float = 0.0
    client_cpu_s: float = 0.0  # this process's CPU time over the run
    server_cpu_s: float | None = None  # the server process's CPU time over the run

    @property
    def requests(self) -> int:
        return len(self.latencies_ms)

    def pct(self, q: float) -> float:
        values = sorted(self.latencies_ms)
        return values[min(len(values) - 1, int(round(q * (len(values) - 1))))]

    @property
    def client_cpu_ms_per_request(self) -> float:
        return self.client_cpu_s / self.requests * 1000

    @property
    def server_cpu_ms_per_request(self) -> float | None:
        return None if self.server_cpu_s is None else self.server_cpu_s / self.requests * 1000


def server_cpu_s(pid: int) -> float:
    """User + system CPU seconds of process ``pid`` so far (Linux /proc)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.lower() == b"content-length":
            length = int(value)
            break
    return status, await reader.readexactly(length) if length else b""


async def _client(host: str, port: int, requests: list[bytes], result: LoadResult, check: Callable | None) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    try:
        for request in requests:
            t = time.perf_counter()
            writer.write(request)
            status, body = await _read_response(reader)
            result.latencies_ms.append((time.perf_counter() - t) * 1000)
            result.statuses[status] = result.statuses.get(status, 0) + 1
            if check is not None:
                check(status, body)
    finally:
        writer.close()


def run_load(
    host: str, port: int, per_client: list[list[bytes]], server_pid: int | None = None, check: Callable | None = None
) -> LoadResult:
    """Each list of ``per_client`` sent in order on its own connection, all clients at once; latencies of every
    request, and the CPU time of both sides over the run."""
    result = LoadResult()

    async def main() -> None:
        await asyncio.gather(*(_client(host, port, reqs, result, check) for reqs in per_client))

    s0 = server_cpu_s(server_pid) if server_pid else None
    c0, t0 = time.process_time(), time.perf_counter()
    asyncio.run(main())
    result.wall_s, result.client_cpu_s = time.perf_counter() - t0, time.process_time() - c0
    if server_pid:
        result.server_cpu_s = server_cpu_s(server_pid) - s0  # type: ignore[operator]
    return result
