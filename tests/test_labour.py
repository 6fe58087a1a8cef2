"""Labour productivity from the terminal's sign-in and sign-out, on a crafted day, on SQLite and PostgreSQL.

One machine M1 (product P, ideal cycle 60 s), a Day shift 06:00-14:00 Monday to Friday, site in UTC.
Monday 2 March 2026: running 06:00-14:00, 400 good and 20 scrap.  Alice (badge B-A) signs in at 05:45 and out at
14:15; Bob (badge B-B) from 06:00 to 10:00.  Monday 9 March: 450 good, Alice alone 06:00-14:00.

By hand:
- the day of 2 March (00:00-24:00): worker time 8.5 h + 4 h = 12.5 worker-hours; 400 / 12.5 = 32.0 good units
  per worker-hour;
- its Day shift (06:00-14:00): Alice clipped to 8 h, Bob 4 h: 12 worker-hours, 400 / 12 = 33.333...;
- the month of March pushed to the hub: the same two days: (400 + 450) / (12.5 + 8) = 850 / 20.5 = 41.4634...;
- the improvement report, 2 March against 9 March: 32.0 -> 450 / 8 = 56.25 (one day each: not enough data).
"""

from __future__ import annotations

from datetime import date, datetime, timezone

import pytest

from shopfloor.actions.attendance import sign_in, sign_out
from shopfloor.actions.hub_share import monthly_kpis
from shopfloor.actions.improvement_report import improvement_report, period
from shopfloor.actions.kpi_report import kpi_report
from shopfloor.actions.production_report import production_report, report_window
from shopfloor.model.events import CountEvent, CountKind, MachineState, StateChange
from shopfloor.model.intervals import Interval
from shopfloor.model.plant import Plant
from shopfloor.store import accounts
from shopfloor.store.events import append_events
from shopfloor.store.plant import load_plant, save_plant

pytestmark = pytest.mark.usefixtures("rollup_units")

PLANT = {
    "site": {"code": "S", "name": "Labour", "timezone": "UTC"},
    "areas": [{"code": "A", "lines": [{"code": "L", "machines": [{"code": "M1"}]}]}],
    "products": [{"code": "P", "ideal_cycle_s": 60}],
    "calendar": {"shifts": [{"name": "Day", "start": "06:00", "end": "14:00",
                             "days": ["mon", "tue", "wed", "thu", "fri"]}]},
}  # fmt: skip


def at(day: int, h: int, m: int = 0) -> datetime:
    return datetime(2026, 3, day, h, m, tzinfo=timezone.utc)


@pytest.fixture
def crafted(engine):
    S = MachineState
    with engine.begin() as conn:
        save_plant(conn, Plant.from_dict(PLANT), "t")
        accounts.create_user(conn, "alice", "operator", pin="1111", badge="B-A")
        accounts.create_user(conn, "bob", "operator", pin="2222", badge="B-B")
        events = []
        for day, good in ((2, 400), (9, 450)):
            events += [StateChange(at(day, 6), "M1", S.RUNNING),
                       CountEvent(at(day, 10), "M1", CountKind.GOOD, good, product="P"),
                       StateChange(at(day, 14), "M1", S.IDLE)]  # fmt: skip
        events.append(CountEvent(at(2, 10, 5), "M1", CountKind.SCRAP, 20, product="P", reason="BURR"))
        append_events(conn, events)
    for badge, start, end in (("B-A", at(2, 5, 45), at(2, 14, 15)), ("B-B", at(2, 6), at(2, 10)),
                              ("B-A", at(9, 6), at(9, 14))):  # fmt: skip
        sign_in(engine, "user:terminal", badge, machine="M1", at=start)
        sign_out(engine, "user:terminal", badge, at=end)
    with engine.connect() as conn:
        return engine, load_plant(conn)


def test_labour_productivity_of_a_crafted_day(crafted):
    engine, plant = crafted
    now = datetime(2026, 4, 2, tzinfo=timezone.utc)
    with engine.connect() as conn:
        day = kpi_report(conn, plant, Interval(at(2, 0), at(3, 0)), site=True, by="shift", now=now)
        doc = production_report(conn, plant, report_window(plant, date(2026, 3, 2)), now=now)
        month = monthly_kpis(conn, plant, "2026-03", ["labour_productivity", "output_per_hour"], now=now)
        improvement = improvement_report(
            conn, plant, period(plant, "2026-03-02..2026-03-02"), period(plant, "2026-03-09..2026-03-09"), now=now
        )
    assert (day["worker_h"], day["labour_productivity"]) == (12.5, 32.0)
    shift = [b for b in day["buckets"] if b["bucket"].endswith("Day")][0]
    assert shift["worker_h"] == 12.0 and shift["labour_productivity"] == pytest.approx(400 / 12, abs=1e-6)
    assert (doc["kpi"]["worker_h"], doc["kpi"]["labour_productivity"]) == (12.5, 32.0)
    assert month.kpis["labour_productivity"] == pytest.approx(850 / 20.5, abs=1e-6)
    row = {r["kpi"]: r for r in improvement["kpis"]}["labour_productivity"]
    assert (row["before"], row["after"]) == (32.0, 56.25) and row["verdict"] == "not enough data"
    assert [d["value"] for d in row["daily_before"]] == [32.0]


def test_nobody_signed_in_is_no_figure_not_zero(engine):
    with engine.begin() as conn:
        save_plant(conn, Plant.from_dict(PLANT), "t")
        append_events(conn, [StateChange(at(2, 6), "M1", MachineState.RUNNING),
                             CountEvent(at(2, 10), "M1", CountKind.GOOD, 10, product="P")])  # fmt: skip
        plant = load_plant(conn)
        day = kpi_report(conn, plant, Interval(at(2, 0), at(3, 0)), site=True, now=at(4, 0))
    assert (day["worker_h"], day["labour_productivity"]) == (0.0, None)


def test_clocking_in_and_out_on_the_terminal_page(app):
    """The operator B-1001 (op-pin, Vietnamese) clocks in at CNC-01 and is listed there; clocking in again is refused
    on the page in their language; clocking out empties the list."""
    import re

    from shopfloor.errors import AlreadySignedIn
    from tests.api.test_work_orders import _terminal
    from tests.web.test_pages import refusal_shown

    client, headers = _terminal(app)
    token = headers["X-CSRF-Token"]
    form = {"machine": "CNC-01", "badge": "B-1001", "csrf_token": token}
    done = client.post("/terminal/attendance", data={**form, "action": "in"}, follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"] == "/terminal?machine=CNC-01"
    page = client.get("/terminal?machine=CNC-01").text
    assert re.search(r'class="signed-in">[^<]*op-pin \(', page)
    again = client.post("/terminal/attendance", data={**form, "action": "in"})
    assert again.status_code == 409
    assert refusal_shown(AlreadySignedIn(who="op-pin", machine="CNC-01"), "vi") in again.text
    client.post("/terminal/attendance", data={**form, "action": "out"})
    assert "op-pin (" not in client.get("/terminal?machine=CNC-01").text
    assert client.post("/terminal/attendance", data={**form, "action": "in", "csrf_token": "x"}).status_code == 403
