"""PLC part counters: successive readings -> counted increments, without negative or phantom counts.

A PLC counter is a register of fixed width (16, 32 or 64 bits) that rolls over to 0 after its maximum and may
be reset to 0 (shift start, power cycle, program change).  Each reading is classified:

* ``baseline``   first reading after start: only sets the baseline (the tracker's state is saved with the
                 counts it produced, so a restart continues from the stored baseline instead of recounting);
* ``increment``  value >= previous: the difference is counted, unless it is implausible (below);
* ``rollover``   value < previous, explained by wrap-around: (value + 2^bits - previous) is counted.  It is
                 taken as a wrap when the implied increment is plausible at the machine's rate, or, with no
                 rate known, when the previous value was in the top quarter of the range and the new one is
                 in the bottom quarter;
* ``reset``      value < previous and not a wrap: the PLC was reset.  The units since the reset (the new
                 value) are counted when that many are plausible in the elapsed time; otherwise none are and
                 the reading is flagged;
* ``jump``       an increase larger than the machine could have made in the elapsed time: not counted,
                 flagged for review (a forced register write, a swapped word order), baseline moved on;
* ``out_of_order`` a reading stamped before the previous one with a value not above it, or stamped at the
                 same instant with a lower value: an older reading delivered again (a reconnect, a replay, a source
                 that stamps whole seconds): nothing is counted (a reset is never taken from a reading that is not
                 later than the last one);
* ``clock_back`` a reading stamped before the previous one whose value went up: the machine's clock was set
                 back.  The increase is counted, stamped a microsecond after the previous reading so the timeline
                 stays in order, and flagged; the tracker keeps that time until the machine's clock passes it.

"Plausible" uses ``max_rate_per_s`` (e.g. 1.5 / ideal cycle time); with no rate, increments are trusted and
resets count nothing (a reset of unknown age could hide any number of units: never invent them).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True, slots=True)
class CounterResult:
    increment: int
    kind: str
    reason: str | None = None
    at: datetime | None = None  # when to stamp the increment, if not at the reading's own time

    @property
    def anomaly(self) -> bool:
        return self.reason is not None


class CounterTracker:
    def __init__(self, bits: int | None = None, max_rate_per_s: float | None = None, slack: int = 2):
        if bits not in (None, 16, 32, 64):
            raise ValueError(f"counter width {bits!r} must be 16, 32 or 64 bits (or None for unbounded)")
        self.bits = bits
        self.max_rate_per_s = max_rate_per_s
        self.slack = slack
        self.last: int | None = None
        self.last_ts: datetime | None = None

    @property
    def modulus(self) -> int | None:
        return None if self.bits is None else 1 << self.bits

    def _plausible(self, amount: int, seconds: float) -> bool:
        if self.max_rate_per_s is None:
            return True
        return amount <= self.max_rate_per_s * max(seconds, 0.0) + self.slack

    def update(self, value: int, ts: datetime) -> CounterResult:
        if value < 0 or (self.modulus is not None and value >= self.modulus):
            return CounterResult(0, "invalid", f"reading {value} is outside a {self.bits}-bit counter")
        last, last_ts = self.last, self.last_ts
        if last is not None and last_ts is not None and ts == last_ts and value < last:
            return CounterResult(0, "out_of_order", f"reading {value} at {ts.isoformat()} is below the last one there")
        if last_ts is not None and ts < last_ts:
            if last is None or value <= last:
                return CounterResult(0, "out_of_order", f"reading at {ts.isoformat()} is older than the last one")
            # Stamped a microsecond after the previous reading: the timeline stays in order and two such
            # increments never look like the same event.
            at = last_ts + timedelta(microseconds=1)
            self.last, self.last_ts = value, at
            return CounterResult(
                value - last,
                "clock_back",
                f"reading stamped {ts.isoformat()}, before the previous one at {last_ts.isoformat()}: the machine's "
                f"clock went back; the {value - last} unit(s) are counted just after {last_ts.isoformat()}",
                at=at,
            )
        self.last, self.last_ts = value, ts
        if last is None:
            return CounterResult(0, "baseline")
        seconds = (ts - last_ts).total_seconds() if last_ts else 0.0
        if value >= last:
            delta = value - last
            if not self._plausible(delta, seconds):
                return CounterResult(0, "jump", f"counter jumped by {delta} in {seconds:.0f} s: not counted")
            return CounterResult(delta, "increment")
        mod = self.modulus
        if mod is not None:
            wrapped = value + mod - last
            near_edges = last >= mod - mod // 4 and value < mod // 4
            if (self.max_rate_per_s is not None and self._plausible(wrapped, seconds)) or (
                self.max_rate_per_s is None and near_edges
            ):
                return CounterResult(wrapped, "rollover")
        if self.max_rate_per_s is not None and self._plausible(value, seconds):
            return CounterResult(value, "reset")
        return CounterResult(
            0, "reset", f"counter went back from {last} to {value} (reset?): units since the reset not counted"
        )

    def to_dict(self) -> dict:
        return {
            "bits": self.bits,
            "max_rate_per_s": self.max_rate_per_s,
            "last": self.last,
            "last_ts": self.last_ts.isoformat() if self.last_ts else None,
        }

    @classmethod
    def from_dict(cls, d: dict) -> CounterTracker:
        t = cls(bits=d.get("bits"), max_rate_per_s=d.get("max_rate_per_s"))
        t.last = d.get("last")
        t.last_ts = datetime.fromisoformat(d["last_ts"]) if d.get("last_ts") else None
        return t
