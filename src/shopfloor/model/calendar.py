"""Shift calendars: shifts with breaks on chosen weekdays, overnight shifts, holidays, in the plant's time zone.

A shift is defined in local wall-clock time ("06:00" to "14:00" on mon..fri).  Each occurrence of a shift is
turned into UTC instants through the site's IANA time zone, so a shift that spans a daylight-saving change
lasts its real elapsed time (an overnight 22:00-06:00 shift is 7 h on the spring-forward night and 9 h on the
fall-back night).  A local time that does not exist (inside the spring-forward gap) is read with the offset
in force before the change (PEP 495, fold=0); an ambiguous local time is read as its first occurrence.

Planned time of a shift occurrence = the shift minus its breaks.  ISO 22400-2 calls the remainder, less
planned downtime, the planned busy time (PBT).  A shift belongs to the local date on which it starts, and a
holiday cancels the shifts that start on it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

from shopfloor.model.intervals import Interval, merge, subtract

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class CalendarError(ValueError):
    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("invalid calendar:\n" + "\n".join(f"  - calendar{p}" for p in problems))


@dataclass(frozen=True)
class Break:
    start: time
    end: time


@dataclass(frozen=True)
class Shift:
    name: str
    start: time
    end: time
    days: frozenset[int]  # 0 = Monday, as datetime.weekday()
    breaks: tuple[Break, ...] = ()

    @property
    def overnight(self) -> bool:
        """True when the shift ends on the next day (its end is not after its start, e.g. 22:00-06:00)."""
        return self.end <= self.start

    def _local_span(self, day: date) -> tuple[datetime, datetime]:
        start = datetime.combine(day, self.start)
        end = datetime.combine(day + timedelta(days=1) if self.overnight else day, self.end)
        return start, end

    def _local_break(self, day: date, brk: Break) -> tuple[datetime, datetime]:
        shift_start, _ = self._local_span(day)
        # A break earlier in the clock than the shift start lies after midnight of an overnight shift.
        bday = day + timedelta(days=1) if brk.start < self.start else day
        start = datetime.combine(bday, brk.start)
        end = datetime.combine(bday if brk.end > brk.start else bday + timedelta(days=1), brk.end)
        return start, end


@dataclass(frozen=True)
class ShiftOccurrence:
    """One shift on one day, in UTC."""

    name: str
    day: date
    span: Interval
    breaks: tuple[Interval, ...]

    @property
    def key(self) -> str:
        """A stable label such as ``2026-03-02/Day``."""
        return f"{self.day.isoformat()}/{self.name}"

    def planned(self) -> list[Interval]:
        return subtract([self.span], self.breaks)


def _to_utc(local: datetime, tz: ZoneInfo) -> datetime:
    return local.replace(tzinfo=tz, fold=0).astimezone(timezone.utc)


def local_midnight(day: date, tz: ZoneInfo) -> datetime:
    """The instant (UTC) at which the local date ``day`` begins in ``tz``."""
    return _to_utc(datetime.combine(day, time(0)), tz)


def local_days(first: date, stop: date, tz: ZoneInfo) -> Interval:
    """The local dates ``first`` up to but not including ``stop``, midnight to midnight in ``tz``, in UTC."""
    return Interval(local_midnight(first, tz), local_midnight(stop, tz))


PERIOD_UNITS = ("day", "month")


def _next_first(day: date, unit: str) -> date:
    if unit == "day":
        return day + timedelta(days=1)
    return date(day.year + (day.month == 12), day.month % 12 + 1, 1)


def local_period(ts: datetime, tz: ZoneInfo, unit: str) -> Interval:
    """The local day or month (``unit``) of ``tz`` holding the instant ``ts``, midnight to midnight, in UTC.

    Local days across a daylight-saving change last 23 or 25 hours, and months their real elapsed time.
    """
    if unit not in PERIOD_UNITS:
        raise ValueError(f"unknown period unit {unit!r}: expected day or month")
    local = ts.astimezone(tz).date()
    first = local if unit == "day" else local.replace(day=1)
    span = Interval(local_midnight(first, tz), local_midnight(_next_first(first, unit), tz))
    if ts < span.start:  # an instant in a day whose midnight lies in a daylight-saving gap
        return local_period(span.start - timedelta(microseconds=1), tz, unit)
    return span


def local_periods(tz: ZoneInfo, window: Interval, unit: str) -> list[Interval]:
    """The local days or months of ``tz`` that lie wholly inside ``window``, in time order."""
    out: list[Interval] = []
    span = local_period(window.start, tz, unit)
    if span.start < window.start:
        span = local_period(span.end, tz, unit)
    while span.end <= window.end:
        out.append(span)
        span = local_period(span.end, tz, unit)
    return out


@dataclass(frozen=True)
class Calendar:
    shifts: tuple[Shift, ...]
    holidays: frozenset[date] = frozenset()
    # Exceptions: a shift worked on one date only (a Saturday this week), in addition to the regular ones.
    extra_shifts: tuple[tuple[date, Shift], ...] = ()

    def occurrences(self, tz: ZoneInfo, window: Interval) -> list[ShiftOccurrence]:
        """Every shift occurrence that overlaps ``window``, in start order."""
        local_first = window.start.astimezone(tz).date() - timedelta(days=1)
        local_last = window.end.astimezone(tz).date()
        out: list[ShiftOccurrence] = []
        day = local_first
        while day <= local_last:
            extras = [shift for on, shift in self.extra_shifts if on == day]
            if day not in self.holidays or extras:
                regular = [] if day in self.holidays else [s for s in self.shifts if day.weekday() in s.days]
                for shift in regular + extras:
                    ls, le = shift._local_span(day)
                    span = Interval(_to_utc(ls, tz), _to_utc(le, tz))
                    if span.end <= window.start or span.start >= window.end:
                        continue
                    breaks = []
                    for brk in shift.breaks:
                        bs, be = shift._local_break(day, brk)
                        piece = Interval(_to_utc(bs, tz), _to_utc(be, tz)).intersect(span)
                        if piece is not None:
                            breaks.append(piece)
                    out.append(ShiftOccurrence(shift.name, day, span, tuple(merge(breaks))))
            day += timedelta(days=1)
        out.sort(key=lambda o: o.span.start)
        return out

    def planned(self, tz: ZoneInfo, window: Interval) -> list[Interval]:
        """Planned time (shifts minus breaks) inside ``window``, as disjoint UTC intervals."""
        pieces = []
        for occ in self.occurrences(tz, window):
            for iv in occ.planned():
                part = iv.intersect(window)
                if part is not None:
                    pieces.append(part)
        return merge(pieces)

    def to_dict(self) -> dict[str, Any]:
        return {
            "shifts": [
                {
                    "name": s.name,
                    "start": s.start.strftime("%H:%M"),
                    "end": s.end.strftime("%H:%M"),
                    "days": [WEEKDAYS[d] for d in sorted(s.days)],
                    "breaks": [{"start": b.start.strftime("%H:%M"), "end": b.end.strftime("%H:%M")} for b in s.breaks],
                }
                for s in self.shifts
            ],
            "holidays": [d.isoformat() for d in sorted(self.holidays)],
            **(
                {
                    "extra_shifts": [
                        {
                            "date": on.isoformat(),
                            "name": s.name,
                            "start": s.start.strftime("%H:%M"),
                            "end": s.end.strftime("%H:%M"),
                            "breaks": [
                                {"start": b.start.strftime("%H:%M"), "end": b.end.strftime("%H:%M")} for b in s.breaks
                            ],
                        }
                        for on, s in sorted(self.extra_shifts, key=lambda e: (e[0], e[1].start))
                    ]
                }
                if self.extra_shifts
                else {}
            ),
        }


def _parse_time(value: Any, path: str, problems: list[str]) -> time | None:
    text = str(value)
    if isinstance(value, int) and not isinstance(value, bool):
        # YAML 1.1 reads an unquoted 06:00 as the base-60 integer 360.
        text = f"{value // 60:02d}:{value % 60:02d}"
    try:
        hh, mm = text.split(":")
        if len(hh) not in (1, 2) or len(mm) != 2:
            raise ValueError
        return time(int(hh), int(mm))
    except ValueError:
        problems.append(f"{path}: {value!r} is not a time of day HH:MM (00:00 to 23:59)")
        return None


def calendar_from_dict(doc: Any) -> Calendar:
    """Read the ``calendar`` section of a plant document; raises CalendarError listing every problem."""
    problems: list[str] = []
    if doc is None:
        doc = {}
    if not isinstance(doc, dict):
        raise CalendarError([": expected a mapping with keys shifts, holidays and extra_shifts"])
    for key in sorted(set(doc) - {"shifts", "holidays", "extra_shifts"}):
        problems.append(f".{key}: unknown key (expected shifts, holidays, extra_shifts)")
    shifts: list[Shift] = []
    raw_shifts = doc.get("shifts") or []
    if not isinstance(raw_shifts, list):
        raise CalendarError([".shifts: expected a list"])
    names: set[str] = set()
    for i, s in enumerate(raw_shifts):
        path = f".shifts[{i}]"
        shift = _shift(s, path, i, problems, with_days=True)
        if shift is None:
            continue
        if shift.name in names:
            problems.append(f"{path}.name: shift {shift.name!r} defined twice")
        names.add(shift.name)
        shifts.append(shift)
    extra: list[tuple[date, Shift]] = []
    raw_extra = doc.get("extra_shifts") or []
    if not isinstance(raw_extra, list):
        problems.append(".extra_shifts: expected a list")
        raw_extra = []
    for i, s in enumerate(raw_extra):
        path = f".extra_shifts[{i}]"
        if not isinstance(s, dict) or "date" not in s:
            problems.append(f"{path}.date: missing")
            continue
        try:
            on = s["date"] if isinstance(s["date"], date) else date.fromisoformat(str(s["date"]))
        except ValueError:
            problems.append(f"{path}.date: {s['date']!r} is not a date YYYY-MM-DD")
            continue
        shift = _shift({k: v for k, v in s.items() if k != "date"}, path, i, problems, with_days=False)
        if shift is not None:
            extra.append((on, shift))
    holidays: set[date] = set()
    for j, h in enumerate(doc.get("holidays") or []):
        try:
            holidays.add(h if isinstance(h, date) else date.fromisoformat(str(h)))
        except ValueError:
            problems.append(f".holidays[{j}]: {h!r} is not a date YYYY-MM-DD")
    calendar = Calendar(shifts=tuple(shifts), holidays=frozenset(holidays), extra_shifts=tuple(extra))
    if not problems:
        problems.extend(_overlaps(calendar))
    if problems:
        raise CalendarError(problems)
    return calendar


def _shift(s: Any, path: str, i: int, problems: list[str], *, with_days: bool) -> Shift | None:
    """One shift of the calendar (``with_days``: a regular shift on weekdays; else an extra shift of one date)."""
    if not isinstance(s, dict):
        problems.append(f"{path}: expected a mapping with name, start, end, days, breaks")
        return None
    for key in ("name", "start", "end"):
        if key not in s:
            problems.append(f"{path}.{key}: missing")
    name = str(s.get("name", f"shift{i + 1}"))
    start = _parse_time(s.get("start"), f"{path}.start", problems) if "start" in s else None
    end = _parse_time(s.get("end"), f"{path}.end", problems) if "end" in s else None
    days: set[int] = set()
    if with_days:
        raw_days = s.get("days", list(WEEKDAYS[:5]))
        if not isinstance(raw_days, list) or not raw_days:
            problems.append(f"{path}.days: expected a non-empty list of mon, tue, wed, thu, fri, sat, sun")
        else:
            for d in raw_days:
                key = str(d).strip().lower()[:3]
                if key not in WEEKDAYS:
                    problems.append(f"{path}.days: {d!r} is not a weekday (mon..sun)")
                else:
                    days.add(WEEKDAYS.index(key))
    breaks: list[Break] = []
    raw_breaks = s.get("breaks") or []
    if not isinstance(raw_breaks, list):
        problems.append(f"{path}.breaks: expected a list of start and end")
        raw_breaks = []
    for j, b in enumerate(raw_breaks):
        bpath = f"{path}.breaks[{j}]"
        if not isinstance(b, dict) or "start" not in b or "end" not in b:
            problems.append(f"{bpath}: expected a mapping with start and end")
            continue
        bs = _parse_time(b["start"], f"{bpath}.start", problems)
        be = _parse_time(b["end"], f"{bpath}.end", problems)
        if bs is None or be is None or start is None or end is None:
            continue
        if not _break_inside(start, end, bs, be):
            problems.append(f"{bpath}: break {bs:%H:%M}-{be:%H:%M} is not inside the shift {start:%H:%M}-{end:%H:%M}")
            continue
        breaks.append(Break(bs, be))
    if start is None or end is None:
        return None
    if start == end:
        problems.append(f"{path}: start and end are equal; split a 24-hour shift into two shifts")
    return Shift(name=name, start=start, end=end, days=frozenset(days), breaks=tuple(breaks))


def _minutes(t: time) -> int:
    return t.hour * 60 + t.minute


def _break_inside(start: time, end: time, bs: time, be: time) -> bool:
    """Whether break [bs, be) lies inside shift [start, end), on a 48-hour clock for overnight shifts."""
    s, e = _minutes(start), _minutes(end)
    if e <= s:
        e += 24 * 60
    b0, b1 = _minutes(bs), _minutes(be)
    if b0 < s:
        b0 += 24 * 60
    while b1 <= b0:
        b1 += 24 * 60
    return s <= b0 and b1 <= e


def _overlaps(calendar: Calendar) -> list[str]:
    """Shifts that overlap each other in a reference fortnight (UTC, no DST): their time would count twice."""
    tz = ZoneInfo("UTC")
    monday = datetime(2024, 1, 1, tzinfo=timezone.utc)  # a Monday
    occ = calendar.occurrences(tz, Interval(monday, monday + timedelta(days=14)))
    for on, _ in calendar.extra_shifts:  # an extra shift must not overlap the shifts of its own days either
        start = datetime(on.year, on.month, on.day, tzinfo=timezone.utc)
        occ += calendar.occurrences(tz, Interval(start - timedelta(days=1), start + timedelta(days=2)))
    occ = sorted(set(occ), key=lambda o: (o.span.start, o.span.end, o.name))
    problems = []
    reported: set[tuple[str, str]] = set()
    for a, b in zip(occ, occ[1:]):
        if b.span.start < a.span.end and (a.name, b.name) not in reported:
            reported.add((a.name, b.name))
            problems.append(f".shifts: shift {a.name!r} overlaps shift {b.name!r} (their time would be counted twice)")
    return problems


def local_boundaries(tz: ZoneInfo, window: Interval, unit: str) -> list[datetime]:
    """UTC instants inside ``window`` at which a local hour (``unit='hour'``) or day (``'day'``) begins.

    Local hours and days are counted on the wall clock of ``tz``: a day across a daylight-saving change lasts
    23 or 25 hours, and zones with half-hour offsets get hours that start at :30 UTC.
    """
    if unit not in ("hour", "day"):
        raise ValueError(f"unknown bucket unit {unit!r}")
    out: list[datetime] = []
    # Every offset in use is a whole number of quarter hours, so local hour starts lie on a UTC quarter hour.
    step = timedelta(minutes=15)
    t = window.start.replace(minute=window.start.minute - window.start.minute % 15, second=0, microsecond=0)
    if t < window.start:
        t += step
    while t < window.end:
        local = t.astimezone(tz)
        if local.minute == 0 and local.second == 0 and (unit == "hour" or local.hour == 0):
            out.append(t)
            if unit == "hour":
                t += timedelta(minutes=45)
            else:
                t += timedelta(hours=22)
        t += step
    return out


def buckets(calendar: Calendar, tz: ZoneInfo, window: Interval, by: str) -> list[tuple[str, Interval]]:
    """``window`` cut into labelled consecutive buckets by local ``hour``, local ``day`` or ``shift``.

    Shift buckets are the shift occurrences (their whole span, breaks included); the time between shifts
    forms buckets labelled ``<date>/(no shift)`` so that the buckets always cover the window exactly.
    """
    if by in ("hour", "day"):
        cuts = [window.start, *[b for b in local_boundaries(tz, window, by) if b > window.start], window.end]
        out = []
        for a, b in zip(cuts, cuts[1:]):
            if b <= a:
                continue
            local = a.astimezone(tz)
            label = local.strftime("%Y-%m-%dT%H:%M%z") if by == "hour" else local.date().isoformat()
            out.append((label, Interval(a, b)))
        return out
    if by != "shift":
        raise ValueError(f"unknown bucket {by!r}: expected hour, day or shift")
    out = []
    cursor = window.start
    for occ in calendar.occurrences(tz, window):
        part = occ.span.intersect(window)
        if part is None or part.end <= cursor:
            continue
        if part.start > cursor:
            out.append((f"{cursor.astimezone(tz).date().isoformat()}/(no shift)", Interval(cursor, part.start)))
        start = max(part.start, cursor)
        out.append((occ.key, Interval(start, part.end)))
        cursor = part.end
    if cursor < window.end:
        out.append((f"{cursor.astimezone(tz).date().isoformat()}/(no shift)", Interval(cursor, window.end)))
    return out
