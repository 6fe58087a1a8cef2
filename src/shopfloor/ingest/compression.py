"""Compression of process values (laser power, spindle load, ...) before they are stored, with a stated bound.

Two streaming filters, one instance per tag:

* ``Deadband(e)``: a value is kept when it differs from the last kept value by more than ``e``.  Bound: every
  dropped value lies within ``e`` of the last kept value before it (step interpolation).
* ``SwingingDoor(e)``: the swinging-door trending algorithm (E. H. Bristol, "Swinging Door Trending: Adaptive
  Trend Recording?", ISA National Conference Proceedings, 1990).  Bound: every dropped value lies
  within ``e`` of the straight line between the kept values around it (linear interpolation).

Both keep a value at least every ``max_gap_s`` seconds (so a flat signal still shows it is alive) and keep
every value whose quality is not good.  ``flush`` returns the held last value, so nothing received is lost at
the end of a stream.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class Point:
    ts: datetime
    value: float


class Deadband:
    def __init__(self, deviation: float, max_gap_s: float = 3600.0):
        if deviation < 0:
            raise ValueError("deadband deviation must be >= 0")
        self.deviation = deviation
        self.max_gap_s = max_gap_s
        self._last_kept: Point | None = None
        self._held: Point | None = None

    def add(self, point: Point) -> list[Point]:
        """Feed one value; returns the values to keep now (zero, one or two)."""
        last = self._last_kept
        if (
            last is None
            or abs(point.value - last.value) > self.deviation
            or (point.ts - last.ts).total_seconds() >= self.max_gap_s
        ):
            out = []
            # Keep the value held just before a change too, so the step's timing is exact.
            if self._held is not None and self._held != last:
                out.append(self._held)
            out.append(point)
            self._last_kept = point
            self._held = point
            return out
        self._held = point
        return []

    def flush(self) -> list[Point]:
        held, self._held = self._held, None
        if held is not None and held != self._last_kept:
            self._last_kept = held
            return [held]
        return []

    def state(self) -> dict:
        """The filter's memory, JSON-serialisable, so that a restart continues without losing a held value."""
        return {"kind": "deadband", "last_kept": _dump(self._last_kept), "held": _dump(self._held)}

    def restore(self, state: dict) -> None:
        self._last_kept, self._held = _load(state["last_kept"]), _load(state["held"])


class SwingingDoor:
    """Swinging door: keep the fewest values such that linear interpolation stays within ``deviation``.

    Each value Q received since the last kept value A opens two doors: the line from A must pass Q within
    +-deviation, so its slope must lie in [(Q - e - A)/dt, (Q + e - A)/dt].  ``_lower`` and ``_upper`` hold
    the intersection of these ranges.  A new value P is held (not yet kept) while the slope A->P lies in that
    range; when it does not, the previously held value is kept and becomes the new A.  So every dropped value
    is within the deviation of the line between the kept values around it, exactly, not approximately.
    """

    def __init__(self, deviation: float, max_gap_s: float = 3600.0):
        if deviation < 0:
            raise ValueError("swinging-door deviation must be >= 0")
        self.deviation = deviation
        self.max_gap_s = max_gap_s
        self._archived: Point | None = None
        self._held: Point | None = None
        self._upper = float("inf")
        self._lower = float("-inf")

    def add(self, point: Point) -> list[Point]:
        last = self._held or self._archived
        if last is not None and point.ts <= last.ts:
            raise ValueError(
                f"values must arrive in time order: {point.ts.isoformat()} is not after {last.ts.isoformat()}"
            )
        out: list[Point] = []
        if self._archived is None:
            self._archived = point
            return [point]
        a = self._archived
        dt = (point.ts - a.ts).total_seconds()
        slope = (point.value - a.value) / dt
        fits = self._lower <= slope <= self._upper and dt < self.max_gap_s
        if not fits and self._held is not None:
            out.append(self._held)
            self._archived = a = self._held
            self._upper, self._lower = float("inf"), float("-inf")
            dt = (point.ts - a.ts).total_seconds()
        if dt >= self.max_gap_s:
            out.append(point)
            self._archived = point
            self._held = None
            self._upper, self._lower = float("inf"), float("-inf")
            return out
        # The new value is held; later lines from A must pass it within the deviation.
        self._upper = min(self._upper, (point.value + self.deviation - a.value) / dt)
        self._lower = max(self._lower, (point.value - self.deviation - a.value) / dt)
        self._held = point
        return out

    def flush(self) -> list[Point]:
        held, self._held = self._held, None
        if held is None:
            return []
        self._archived = held
        self._upper, self._lower = float("inf"), float("-inf")
        return [held]

    def state(self) -> dict:
        """The filter's memory, JSON-serialisable (infinite slopes as null)."""
        return {
            "kind": "swinging_door",
            "archived": _dump(self._archived),
            "held": _dump(self._held),
            "upper": None if self._upper == float("inf") else self._upper,
            "lower": None if self._lower == float("-inf") else self._lower,
        }

    def restore(self, state: dict) -> None:
        self._archived, self._held = _load(state["archived"]), _load(state["held"])
        self._upper = float("inf") if state["upper"] is None else float(state["upper"])
        self._lower = float("-inf") if state["lower"] is None else float(state["lower"])


def _dump(p: Point | None) -> list | None:
    return None if p is None else [p.ts.isoformat(), p.value]


def _load(v: list | None) -> Point | None:
    return None if v is None else Point(datetime.fromisoformat(v[0]), float(v[1]))


def make_filter(kind: str, deviation: float, max_gap_s: float = 3600.0) -> Deadband | SwingingDoor | None:
    """A filter by name: ``deadband``, ``swinging_door`` or ``none`` (keep every value)."""
    if kind == "none":
        return None
    if kind == "deadband":
        return Deadband(deviation, max_gap_s)
    if kind == "swinging_door":
        return SwingingDoor(deviation, max_gap_s)
    raise ValueError(f"unknown compression {kind!r}: expected none, deadband or swinging_door")
