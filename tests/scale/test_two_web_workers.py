"""Running past one process: two web workers on one PostgreSQL store, each its own process.  A terminal entry
stored through worker A reaches a board open on worker B (LISTEN/NOTIFY), and the count is stored once; the
scheduled reports are mailed once however many workers run the scheduler; a report started on worker A is followed
and fetched on worker B."""

from __future__ import annotations

import io
import re
import threading
import time
import uuid
from datetime import datetime, timedelta, timezone
from email import message_from_bytes

import httpx
import pytest
from aiosmtpd.controller import Controller
from openpyxl import load_workbook
from sqlalchemy import func, select, text

from shopfloor.actions import scheduled_reports as sched
from shopfloor.actions.demo import sample_plant
from shopfloor.store import accounts
from shopfloor.store.plant import save_plant
from shopfloor.store.schema import audit_log, machine_events, report_schedules
from tests.conftest import _truncate_pg
from tests.serving import free_port, serve, start_serving, wait_serving
from tests.test_improvement_report import fill

pytestmark = pytest.mark.pg
PASSWORD = "worker-password-1"


def wait_until_listening(engine, timeout_s: float = 15.0) -> None:
    """Until a connection of this database listens on the live-update channel (as PostgreSQL itself reports)."""
    deadline = time.monotonic() + timeout_s
    query = text(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
        "AND query = 'LISTEN shopfloor_machines'"
    )
    while time.monotonic() < deadline:
        with engine.connect() as conn:
            if conn.execute(query).scalar():
                return
    raise AssertionError("no worker listens for live updates")


def test_a_board_on_one_worker_sees_an_entry_made_through_another(pg_engine, pg_url):
    _truncate_pg(pg_engine)
    with pg_engine.begin() as conn:
        save_plant(conn, sample_plant(), "test")
        accounts.create_user(conn, "sup", "supervisor", password=PASSWORD)
    ports = (free_port(), free_port())
    workers = [serve(pg_url, p) for p in ports]
    try:
        seen: list[str] = []
        connected = threading.Event()

        def watch() -> None:
            with httpx.Client(base_url=f"http://127.0.0.1:{ports[1]}", timeout=20) as board:
                board.post("/login", data={"username": "sup", "password": PASSWORD})
                with board.stream("GET", "/board/stream") as stream:
                    for line in stream.iter_lines():
                        connected.set()
                        seen.append(line)
                        if line.startswith("data:") and "tile-NC-01" in line:
                            return

        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()
        assert connected.wait(15)
        wait_until_listening(pg_engine)  # the board's worker listens once its first board has subscribed
        with httpx.Client(base_url=f"http://127.0.0.1:{ports[0]}", timeout=20) as terminal:
            r = terminal.post("/api/v1/auth/login", json={"username": "sup", "password": PASSWORD})
            terminal.headers["X-CSRF-Token"] = r.json()["csrf_token"]
            entry = {"key": uuid.uuid4().hex, "ts": datetime.now(timezone.utc).isoformat(), "machine": "NC-01",
                     "action": "good", "quantity": 3}  # fmt: skip
            sent = [terminal.post("/api/v1/pop/entries", json=entry) for _ in range(2)]  # sent twice: stored once
            assert [(r.status_code, r.json()["duplicate"]) for r in sent] == [(200, False), (200, True)]
        watcher.join(timeout=15)
        assert any("event: tile-NC-01" in line for line in seen), seen[-5:]
        with pg_engine.connect() as conn:
            stored = conn.execute(
                select(func.sum(machine_events.c.quantity)).where(machine_events.c.kind == "good")
            ).scalar()
        assert stored == 3
    finally:
        for w in workers:
            w.terminate()
            w.wait(10)


class Mailbox:
    """A real SMTP server that keeps the subject of every mail it accepts."""

    def __init__(self) -> None:
        self.subjects: list[str] = []
        self.port = free_port()
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port)

    async def handle_DATA(self, server, session, envelope) -> str:
        self.subjects.append(message_from_bytes(envelope.content)["Subject"])
        return "250 OK"


def test_two_workers_mail_each_scheduled_report_once(pg_engine, pg_url):
    _truncate_pg(pg_engine)
    fill(pg_engine)
    now = datetime.now(timezone.utc)
    days = 6
    sched.add_schedule(pg_engine, "test", name="daily", period="day", delivery="email", target="lead@plant.example",
                       formats="pdf", lang="ko", now=now - timedelta(days=days))  # fmt: skip
    mailbox = Mailbox()
    mailbox.controller.start()
    mail = {"SHOPFLOOR_SMTP_URL": f"smtp://127.0.0.1:{mailbox.port}", "SHOPFLOOR_SMTP_FROM": "mes@plant.example"}
    ports = (free_port(), free_port())
    workers = [start_serving(pg_url, p, mail) for p in ports]  # both schedulers start together
    try:
        for worker, port in zip(workers, ports):
            wait_serving(worker, port)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            with pg_engine.connect() as conn:
                last, claimed_by = conn.execute(
                    select(report_schedules.c.last_period, report_schedules.c.claimed_by)
                ).one()
            if last == (now.date() - timedelta(days=1)).isoformat() and claimed_by is None:
                break
            time.sleep(0.2)
    finally:
        for w in workers:
            w.terminate()
            w.wait(10)
        mailbox.controller.stop()
    periods = [(now.date() - timedelta(days=back)).isoformat() for back in range(days, 0, -1)]
    # Each day once, by whichever worker claimed the schedule.
    assert sorted(mailbox.subjects) == [f"Production report Test plant {p}" for p in periods]
    with pg_engine.connect() as conn:
        sent = conn.execute(
            select(audit_log.c.actor, audit_log.c.detail).where(audit_log.c.action == "report.sent")
        ).all()
    assert sorted((actor, detail["period"]) for actor, detail in sent) == [("system:scheduler", p) for p in periods]


def test_a_report_started_on_one_worker_is_followed_and_fetched_on_another(pg_engine, pg_url):
    _truncate_pg(pg_engine)
    fill(pg_engine)
    with pg_engine.begin() as conn:
        accounts.create_user(conn, "boss", "manager", password=PASSWORD)
    ports = (free_port(), free_port())
    workers = [serve(pg_url, p) for p in ports]
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{ports[0]}", timeout=20) as a:
            a.post("/login", data={"username": "boss", "password": PASSWORD, "next": "/"})
            token = re.search(r'name="csrf_token" value="([^"]+)"', a.get("/reports/improvement").text).group(1)
            started = a.post("/reports/improvement", data={"baseline": "2026-03-02..2026-03-04",
                             "after": "2026-03-09..2026-03-11", "csrf_token": token})  # fmt: skip
            job_url = started.headers["location"]
            cookies = a.cookies
        with httpx.Client(base_url=f"http://127.0.0.1:{ports[1]}", timeout=20, cookies=cookies) as b:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:  # as the page's poll does, on the worker that did not start it
                progress = b.get(job_url + "/progress")
                assert progress.status_code == 200, progress.text
                if progress.headers.get("HX-Redirect"):
                    break
                time.sleep(0.2)
            assert progress.headers["HX-Redirect"] == job_url
            assert "+12.5 %" in b.get(job_url).text
            workbook = load_workbook(io.BytesIO(b.get(job_url + "/file.xlsx").content))
            assert workbook.sheetnames == ["KPIs", "Daily values", "Periods"] and workbook["KPIs"].max_row == 1 + 10
    finally:
        for w in workers:
            w.terminate()
            w.wait(10)
