"""Prometheus metrics in the text exposition format (version 0.0.4), without a client library.

Request latency per route template (a histogram), and, where this process runs the ingest, its writer's
counters and disk-buffer depth; connector states as the running ingest saved them.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from typing import Any

BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class LatencyHistogram:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0] * (len(BUCKETS) + 1))
        self._sums: dict[tuple[str, str], float] = defaultdict(float)

    def observe(self, method: str, route: str, seconds: float) -> None:
        with self._lock:
            counts = self._counts[(method, route)]
            for i, upper in enumerate(BUCKETS):
                if seconds <= upper:
                    counts[i] += 1
            counts[-1] += 1
            self._sums[(method, route)] += seconds

    def render(self) -> list[str]:
        name = "shopfloor_http_request_duration_seconds"
        lines = [f"# HELP {name} Time to answer an HTTP request, by method and route.", f"# TYPE {name} histogram"]
        with self._lock:
            for (method, route), counts in sorted(self._counts.items()):
                labels = f'method="{method}",route="{_escape(route)}"'
                for upper, n in zip(BUCKETS, counts):
                    lines.append(f'{name}_bucket{{{labels},le="{upper}"}} {n}')
                lines.append(f'{name}_bucket{{{labels},le="+Inf"}} {counts[-1]}')
                lines.append(f"{name}_sum{{{labels}}} {self._sums[(method, route)]:.6f}")
                lines.append(f"{name}_count{{{labels}}} {counts[-1]}")
        return lines


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def render(histogram: LatencyHistogram, writer: Any | None, status: dict | None) -> str:
    lines = histogram.render()
    if writer is not None:
        s = writer.stats
        for name, help_, value, kind in (
            ("shopfloor_ingest_signals_total", "Signals committed to the store.", s.committed_signals, "counter"),
            ("shopfloor_ingest_events_total", "Machine events stored.", s.committed_events, "counter"),
            ("shopfloor_ingest_measurements_total", "Process values stored.", s.committed_measurements, "counter"),
            ("shopfloor_ingest_anomalies_total", "Inputs quarantined with a reason.", s.anomalies, "counter"),
            ("shopfloor_ingest_buffered", "Signals waiting in the disk buffer.", writer.buffered, "gauge"),
            ("shopfloor_ingest_store_available", "1 while the store accepts writes.", int(s.store_available), "gauge"),
        ):
            lines += [f"# HELP {name} {help_}", f"# TYPE {name} {kind}", f"{name} {value}"]
    if status:
        lines += [
            "# HELP shopfloor_connector_connected 1 while the connector is connected.",
            "# TYPE shopfloor_connector_connected gauge",
        ]
        for c in status.get("connectors", []):
            labels = f'name="{_escape(c["name"])}",protocol="{_escape(c["protocol"])}"'
            lines.append(f"shopfloor_connector_connected{{{labels}}} {int(bool(c['connected']))}")
        lines += [
            "# HELP shopfloor_connector_messages_total Values received by the connector.",
            "# TYPE shopfloor_connector_messages_total counter",
        ]
        for c in status.get("connectors", []):
            labels = f'name="{_escape(c["name"])}",protocol="{_escape(c["protocol"])}"'
            lines.append(f"shopfloor_connector_messages_total{{{labels}}} {c['messages_total']}")
    return "\n".join(lines) + "\n"
