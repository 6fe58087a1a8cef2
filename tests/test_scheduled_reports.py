"""Scheduled reports: each finished day or shift delivered once, to a folder or by e-mail through a real SMTP
server on loopback; a failure is retried with growing pauses and shown, and later periods wait for it."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from shopfloor.actions import scheduled_reports as sched
from shopfloor.errors import (
    LineUnknown,
    ReportLanguage,
    ScheduleAddresses,
    ScheduleDelivery,
    ScheduleFolder,
    ScheduleFolderOutside,
    ScheduleNoRoots,
    SchedulePeriod,
)
from shopfloor.settings import Settings
from shopfloor.store import schedules
from tests.test_production_report import PLANT, report_store  # noqa: F401 - the store fixture

NOW = datetime(2026, 3, 3, 0, 30, tzinfo=timezone.utc)  # half past midnight after Monday 2 March (site in UTC)
SETTINGS = Settings(smtp_url=None, smtp_from=None)  # no mail server


def _rooted(root) -> Settings:
    """No mail server; reports may be written under ``root``."""
    return Settings(smtp_url=None, smtp_from=None, report_roots=str(root))


def test_a_schedule_that_cannot_work_is_refused(report_store, tmp_path):  # noqa: F811
    engine, plant = report_store
    for spec, refusal in [
        ({"period": "week"}, SchedulePeriod(period="week")),
        ({"delivery": "fax"}, ScheduleDelivery(delivery="fax")),
        ({"target": "relative/dir"}, ScheduleFolder(target="relative/dir")),
        ({"delivery": "email", "target": "nobody"}, ScheduleAddresses(target="nobody")),
        ({"line": "NOPE"}, LineUnknown(line="NOPE", lines=["L"])),
        ({"lang": "fr"}, ReportLanguage(languages=["ko", "en", "vi"], lang="fr")),
        ({"roots": []}, ScheduleNoRoots()),
        (
            {"target": str(tmp_path / ".." / "etc")},
            ScheduleFolderOutside(target=str(tmp_path / ".." / "etc"), roots=[str(tmp_path)]),
        ),
        ({"target": "/etc/cron.d"}, ScheduleFolderOutside(target="/etc/cron.d", roots=[str(tmp_path)])),
    ]:
        base = {"name": "d", "period": "day", "delivery": "folder", "target": str(tmp_path), "roots": [tmp_path]}
        with pytest.raises(type(refusal)) as refused:
            sched.add_schedule(engine, "test", **(base | spec))
        assert refused.value == refusal


def test_each_finished_day_is_written_once_and_older_days_are_not_sent(report_store, tmp_path):  # noqa: F811
    engine, plant = report_store
    out = tmp_path / "reports"
    sched.add_schedule(engine, "test", name="daily", period="day", delivery="folder", target=str(out),
                       formats="pdf+xlsx", lang="ko", now=NOW - timedelta(days=1), roots=[tmp_path])  # fmt: skip
    first = sched.run_due(engine, _rooted(tmp_path), NOW)
    assert [(r["period"], r["ok"]) for r in first] == [("2026-03-02", True)]
    assert sorted(p.name for p in out.iterdir()) == ["production-S-2026-03-02.pdf", "production-S-2026-03-02.xlsx"]
    assert sched.run_due(engine, _rooted(tmp_path), NOW + timedelta(hours=1)) == []  # nothing new
    two_days_later = sched.run_due(engine, _rooted(tmp_path), NOW + timedelta(days=2))
    assert [r["period"] for r in two_days_later] == ["2026-03-03", "2026-03-04"]


def test_shifts_by_e_mail_through_a_real_smtp_server(report_store):  # noqa: F811
    from aiosmtpd.controller import Controller

    received = []

    class Handler:
        async def handle_DATA(self, server, session, envelope):
            received.append(envelope)
            return "250 OK"

    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    controller = Controller(Handler(), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        mail = Settings(smtp_url=f"smtp://127.0.0.1:{port}", smtp_from="shopfloor@plant.example")
        engine, plant = report_store
        sched.add_schedule(
            engine, "test", name="shift", period="shift", line="L", delivery="email",
            target="lead@plant.example, qa@plant.example", now=datetime(2026, 3, 2, 5, 0, tzinfo=timezone.utc),
        )  # fmt: skip
        results = sched.run_due(engine, mail, datetime(2026, 3, 2, 15, 0, tzinfo=timezone.utc))
    finally:
        controller.stop()
    assert [(r["period"], r["ok"]) for r in results] == [("2026-03-02/Day", True)]
    (mail,) = received
    assert sorted(mail.rcpt_tos) == ["lead@plant.example", "qa@plant.example"]
    body = mail.content.decode(errors="replace")
    assert "Production report L 2026-03-02/Day" in body and "production-L-2026-03-02-Day.pdf" in body


def test_a_failure_is_kept_retried_with_pauses_and_later_periods_wait(report_store, tmp_path):  # noqa: F811
    engine, plant = report_store
    sched.add_schedule(engine, "test", name="mail", period="day", delivery="email", target="a@b.example",
                       now=NOW - timedelta(days=1))  # fmt: skip
    failed = sched.run_due(engine, _rooted(tmp_path), NOW)
    assert failed[0]["ok"] is False and "SHOPFLOOR_SMTP_URL" in failed[0]["error"]
    assert (
        sched.run_due(engine, _rooted(tmp_path), NOW + timedelta(seconds=30)) == []
    )  # a pause of 1 minute after the first failure
    sched.run_due(engine, _rooted(tmp_path), NOW + timedelta(minutes=2))
    with engine.connect() as conn:
        status = schedules.get(conn, "mail")
    assert status["attempts"] == 2 and status["last_period"] == "2026-03-01" and "SMTP" in status["last_error"]
    assert sched.run_due(engine, _rooted(tmp_path), NOW + timedelta(minutes=2, seconds=30)) == []  # now 2 minutes
    # Delivery fixed (a folder instead): the waiting periods go out in order.
    from sqlalchemy import update

    from shopfloor.store.schema import report_schedules

    with engine.begin() as conn:
        conn.execute(update(report_schedules).values(delivery="folder", target=str(tmp_path)))
    done = sched.run_due(engine, _rooted(tmp_path), NOW + timedelta(days=1, minutes=10))
    assert [(r["period"], r["ok"]) for r in done] == [("2026-03-02", True), ("2026-03-03", True)]
    with engine.connect() as conn:
        assert schedules.get(conn, "mail")["attempts"] == 0 and schedules.get(conn, "mail")["last_error"] is None


def test_the_admin_page_adds_schedules_and_shows_failures(report_store, tmp_path):  # noqa: F811
    import re

    from fastapi.testclient import TestClient

    from shopfloor.app import create_app
    from shopfloor.store import accounts

    engine, _ = report_store
    with engine.begin() as conn:
        accounts.create_user(conn, "boss", "manager", password="boss-password-1")
        accounts.create_user(conn, "op", "operator", password="op-password-12")
    app = create_app(Settings(), engine=engine)
    op = TestClient(app)
    op.post("/login", data={"username": "op", "password": "op-password-12", "next": "/"})
    assert op.get("/admin/reports").status_code == 403
    boss = TestClient(app)
    boss.post("/login", data={"username": "boss", "password": "boss-password-1", "next": "/"})
    page = boss.get("/admin/reports")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    form = {"name": "daily-mail", "period": "day", "delivery": "email", "target": "lead@plant.example",
            "csrf_token": token}  # fmt: skip
    assert boss.post("/admin/reports", data=form, follow_redirects=False).status_code == 303
    again = boss.post("/admin/reports", data=form)
    assert again.status_code == 409 and "a schedule daily-mail exists already" in again.text
    sched.run_due(engine, SETTINGS, datetime.now(timezone.utc) + timedelta(days=1))  # no SMTP settings: it fails
    page = boss.get("/admin/reports")
    assert "daily-mail" in page.text and "SHOPFLOOR_SMTP_URL" in page.text
