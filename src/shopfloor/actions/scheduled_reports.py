"""Scheduled reports: the production report of each finished shift or day, written to a folder or sent by e-mail.

A schedule delivers every period once, in order, however many workers run the scheduler on one store (each
schedule is claimed by one worker at a time, see ``store.schedules``): after a shift (or a local day) has ended,
its report is made and delivered; the schedule then remembers that period.  A failed delivery is retried with
growing pauses (1, 2, 4 ... up to 60 minutes) and the error and the number of attempts are kept, so the admin page
shows them; the periods after it wait, so nothing is skipped.  Periods that ended before the schedule was
created are not sent.

E-mail: the settings ``smtp_url`` (``SHOPFLOOR_SMTP_URL``: ``smtp://user:password@host:587`` with STARTTLS when
the server offers it, ``smtps://...:465`` for TLS from the start, ``smtp://host:25`` without login) and
``smtp_from`` (``SHOPFLOOR_SMTP_FROM``, the sender address).
"""

from __future__ import annotations

import asyncio
import logging
import os
import smtplib
import socket
import ssl
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from email.message import EmailMessage
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from sqlalchemy import Connection, Engine

from shopfloor.actions.core import change
from shopfloor.actions.production_report import production_report, report_pdf, report_window, report_xlsx
from shopfloor.errors import (
    DomainError,
    LineUnknown,
    MailNotConfigured,
    MailUrlInvalid,
    ReportLanguage,
    ScheduleAddresses,
    ScheduleDelivery,
    ScheduleExists,
    ScheduleFolder,
    ScheduleFolderOutside,
    ScheduleFormats,
    ScheduleNameMissing,
    ScheduleNoRoots,
    SchedulePeriod,
    ScheduleTargetMissing,
    refuse,
)
from shopfloor.i18n import LANGUAGES, Translator
from shopfloor.model.intervals import Interval
from shopfloor.model.plant import Plant
from shopfloor.settings import Settings
from shopfloor.store import schedules
from shopfloor.store.db import writing
from shopfloor.store.plant import current_plant

log = logging.getLogger(__name__)
PERIODS = ("shift", "day")
FORMATS = ("pdf", "xlsx", "pdf+xlsx")
DELIVERIES = ("folder", "email")
MAX_PAUSE_MIN = 60
MAX_BACKLOG = 31  # periods caught up in one run at most (a store that was off for a month)


@dataclass(frozen=True)
class Period:
    key: str  # 2026-03-02 or 2026-03-02/Day
    window: Interval


def add_schedule(engine: Engine, actor: str, **spec: Any) -> dict[str, Any]:
    """A new schedule (``name``, ``period`` shift or day, ``delivery`` folder or email, ``target``, ``line``,
    ``lang``, ``formats``; ``roots``: the folders reports may be written under); every problem of the spec is
    named.  Periods that ended before it are not sent."""
    with change(engine, actor) as c:
        plant = c.plant()
        name = (spec.get("name") or "").strip()
        c.duplicate_means(ScheduleExists(schedule=name))
        values = _checked(c.conn, plant, name, spec)
        now = spec.get("now") or datetime.now(timezone.utc)
        last = _finished(plant, values["period"], now)
        doc = schedules.add(c.conn, {**values, "last_period": last[-1].key if last else None})
        c.audit("report.schedule", f"schedule:{name}", doc)
        c.publish("schedule", name)
    return doc


def _folder_problems(target: str, roots: list[Path]) -> list[DomainError]:
    """A report folder lies under one of the configured roots (``SHOPFLOOR_REPORT_ROOTS``), named without ``..``
    and without leaving the root through a symbolic link."""
    if not roots:
        return [ScheduleNoRoots()]
    if ".." in Path(target).parts:
        return [ScheduleFolderOutside(target=target, roots=[str(r) for r in roots])]
    resolved = Path(target).resolve()
    if not any(resolved == r or r in resolved.parents for r in (Path(r).resolve() for r in roots)):
        return [ScheduleFolderOutside(target=target, roots=[str(r) for r in roots])]
    return []


def _checked(conn: Connection, plant: Plant, name: str, spec: dict[str, Any]) -> dict[str, Any]:
    problems: list[DomainError] = []
    if not name:
        problems.append(ScheduleNameMissing())
    elif schedules.exists(conn, name):
        problems.append(ScheduleExists(schedule=name))
    if spec.get("period") not in PERIODS:
        problems.append(SchedulePeriod(period=str(spec.get("period"))))
    formats = spec.get("formats") or "pdf"
    if formats not in FORMATS:
        problems.append(ScheduleFormats(formats=FORMATS))
    if spec.get("delivery") not in DELIVERIES:
        problems.append(ScheduleDelivery(delivery=str(spec.get("delivery"))))
    target = (spec.get("target") or "").strip()
    if not target:
        problems.append(ScheduleTargetMissing())
    elif spec.get("delivery") == "email" and not all("@" in a for a in _addresses(target)):
        problems.append(ScheduleAddresses(target=target))
    elif spec.get("delivery") == "folder" and not Path(target).is_absolute():
        problems.append(ScheduleFolder(target=target))
    elif spec.get("delivery") == "folder":
        problems += _folder_problems(target, spec.get("roots") or [])
    line = spec.get("line") or None
    if line is not None and line not in {ln.code for ln in plant.lines}:
        problems.append(LineUnknown(line=line, lines=[ln.code for ln in plant.lines]))
    lang = spec.get("lang") or "en"
    if lang not in LANGUAGES:
        problems.append(ReportLanguage(languages=list(LANGUAGES), lang=lang))
    refuse(problems)
    return {"name": name, "period": spec["period"], "line": line, "lang": lang, "formats": formats,
            "delivery": spec["delivery"], "target": target}  # fmt: skip


def _addresses(target: str) -> list[str]:
    return [a.strip() for a in target.split(",") if a.strip()]


def _finished(plant: Plant, period: str, now: datetime, backlog: int = MAX_BACKLOG) -> list[Period]:
    """The periods that ended in the last ``backlog`` days before ``now``, oldest first."""
    tz = plant.site.tz
    out: list[Period] = []
    if period == "day":
        today = now.astimezone(tz).date()
        for back in range(backlog, 0, -1):
            day = today - timedelta(days=back)
            out.append(Period(day.isoformat(), report_window(plant, day)))
        return out
    window = Interval(now - timedelta(days=backlog), now)
    for occ in plant.calendar.occurrences(tz, window):
        if occ.span.end <= now and occ.span.start >= window.start:
            out.append(Period(occ.key, occ.span))
    return out


def _due(schedule: dict[str, Any], plant: Plant, now: datetime) -> list[Period]:
    periods = _finished(plant, schedule["period"], now)
    keys = [p.key for p in periods]
    last = schedule["last_period"]
    # In time order, after the last period delivered (shift names do not sort in time order).
    pending = periods[keys.index(last) + 1 :] if last in keys else periods
    if not pending:
        return []
    if schedule["attempts"] and schedule["last_attempt_at"]:
        pause = min(2 ** (schedule["attempts"] - 1), MAX_PAUSE_MIN)
        if now < datetime.fromisoformat(schedule["last_attempt_at"]) + timedelta(minutes=pause):
            return []
    return pending


def render(conn: Connection, plant: Plant, schedule: dict[str, Any], period: Period) -> list[tuple[str, bytes]]:
    """The files of one period's report: (file name, content)."""
    t = Translator(schedule["lang"], plant.site.tz)
    doc = production_report(conn, plant, period.window, line=schedule["line"], no_reason=t.gettext("(no reason)"))
    stem = f"production-{schedule['line'] or plant.site.code}-{period.key.replace('/', '-')}"
    files = []
    if "pdf" in schedule["formats"]:
        files.append(
            (f"{stem}.pdf", report_pdf(doc, t.gettext, t.datetime_iso, lambda c: plant.reason_name(c, t.lang)))
        )
    if "xlsx" in schedule["formats"]:
        files.append((f"{stem}.xlsx", report_xlsx(doc, t.gettext)))
    return files


def deliver(settings: Settings, schedule: dict[str, Any], subject: str, files: list[tuple[str, bytes]]) -> None:
    if schedule["delivery"] == "folder":
        # Checked again at each delivery: the roots may have changed since the schedule was saved, and a folder
        # on the way may have been replaced by a symbolic link that leaves them.
        problems = _folder_problems(schedule["target"], settings.report_folders)
        if problems:
            raise problems[0]
        folder = Path(schedule["target"])
        folder.mkdir(parents=True, exist_ok=True)
        for name, content in files:
            tmp = folder / f".{name}.part"
            tmp.write_bytes(content)
            os.replace(tmp, folder / name)  # a reader never sees half a file
        return
    send_mail(settings, _addresses(schedule["target"]), subject, files)


def send_mail(settings: Settings, to: list[str], subject: str, files: list[tuple[str, bytes]]) -> None:
    url = settings.smtp_url.get_secret_value() if settings.smtp_url else None
    sender = settings.smtp_from
    if not url or not sender:
        raise MailNotConfigured()
    parts = urlsplit(url)
    if parts.scheme not in ("smtp", "smtps"):
        raise MailUrlInvalid(scheme=parts.scheme)
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = sender, ", ".join(to), subject
    msg.set_content(f"{subject}\n\nshopfloor")
    for name, content in files:
        maintype, subtype = ("application", "pdf") if name.endswith(".pdf") else (
            "application", "vnd.openxmlformats-officedocument.spreadsheetml.sheet"
        )  # fmt: skip
        msg.add_attachment(content, maintype=maintype, subtype=subtype, filename=name)
    host, port = parts.hostname or "localhost", parts.port or (465 if parts.scheme == "smtps" else 25)
    if parts.scheme == "smtps":
        smtp: smtplib.SMTP = smtplib.SMTP_SSL(host, port, timeout=30, context=ssl.create_default_context())
    else:
        smtp = smtplib.SMTP(host, port, timeout=30)
    with smtp:
        if parts.scheme == "smtp":
            smtp.ehlo()
            if smtp.has_extn("starttls"):
                smtp.starttls(context=ssl.create_default_context())
                smtp.ehlo()
        if parts.username:
            smtp.login(unquote(parts.username), unquote(parts.password or ""))
        smtp.send_message(msg)


WORKER = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
SCHEDULER = "system:scheduler"


def run_due(engine: Engine, settings: Settings, now: datetime | None = None) -> list[dict[str, Any]]:
    """Make and deliver every report that is due; returns what happened per schedule and period.  A schedule
    is handled by the one worker that claims it (see ``store.schedules``)."""
    now = now or datetime.now(timezone.utc)
    with engine.connect() as conn:
        names = [s["name"] for s in schedules.listing(conn) if s["active"]]
        if not names:
            return []
        plant = current_plant(conn)
    results: list[dict[str, Any]] = []
    for name in names:
        with writing(engine) as conn:
            if not schedules.claim(conn, name, WORKER, now):
                continue  # another worker is sending this schedule's reports
        try:
            results += _send_due(engine, settings, plant, name, now)
        finally:
            with writing(engine) as conn:
                schedules.release(conn, name, WORKER)
    return results


def _send_due(engine: Engine, settings: Settings, plant: Plant, name: str, now: datetime) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        schedule = schedules.get(conn, name)  # read after the claim: what another worker sent is seen
    results: list[dict[str, Any]] = []
    for period in _due(schedule, plant, now):
        try:
            with engine.connect() as conn:
                files = render(conn, plant, schedule, period)
            scope = schedule["line"] or plant.site.name
            deliver(settings, schedule, f"Production report {scope} {period.key}", files)
        except Exception as exc:  # noqa: BLE001 - kept on the schedule and retried
            message = f"{type(exc).__name__}: {exc}"[:2000]
            log.warning("scheduled report %s for %s failed: %s", name, period.key, message)
            with change(engine, SCHEDULER) as c:
                schedules.record_failure(c.conn, name, message, now)
                c.audit("report.failed", f"schedule:{name}", {"period": period.key}, message)
                c.publish("schedule", name)
            results.append({"schedule": name, "period": period.key, "ok": False, "error": message})
            break  # later periods wait for this one
        with change(engine, SCHEDULER) as c:
            schedules.record_sent(c.conn, name, period.key, now)
            c.audit("report.sent", f"schedule:{name}", {"period": period.key, "files": [n for n, _ in files]})
            c.publish("schedule", name)
        results.append({"schedule": name, "period": period.key, "ok": True, "files": [n for n, _ in files]})
    return results


async def scheduler(engine: Engine, settings: Settings, every_s: float = 60.0) -> None:
    """Run the due reports every minute (inside ``shopfloor serve`` and the demo)."""
    while True:
        try:
            await asyncio.to_thread(run_due, engine, settings)
        except Exception:  # noqa: BLE001 - a store without plant yet, or a store away: try again later
            log.exception("scheduled reports could not run")
        await asyncio.sleep(every_s)
