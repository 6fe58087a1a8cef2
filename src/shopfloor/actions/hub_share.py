"""The factory side of sharing: a month's KPIs computed from the factory's own store, signed with its key and
sent to the hub over HTTPS with its token.  Only the chosen KPIs, as monthly figures, ever leave the factory.

The current month is computed up to now and sent marked ``partial`` with its ``coverage`` (which part of the
month had data); a month without any data is refused rather than signed: there is nothing to report, and a
zero would claim there was.

Lead time (``lead_time_h``): the mean hours from an order's release to its completion, over the orders completed
in the month on the machines in scope (the manufacturing lead time of the orders, release to finish); None in a
month that completed no released order.

Labour productivity (``labour_productivity``): good units per worker-hour, the hours people were signed in at the
machines in scope (the terminal's sign-in and sign-out by badge); None in a month nobody signed in."""

from __future__ import annotations

import base64
import ssl
import uuid
from dataclasses import dataclass
from datetime import date, datetime, timezone
from typing import Any

import httpx
from sqlalchemy import Connection, func, select

from shopfloor.actions.improvement_report import due_orders
from shopfloor.actions.kpi_report import scope
from shopfloor.analytics.kpi import kpis as kpis_of
from shopfloor.analytics.kpi import labour_productivity
from shopfloor.errors import (
    ChooseKpis,
    HubRefusedReport,
    HubUnreachable,
    MonthInvalid,
    MonthWithoutData,
    SharedKpiUnknown,
)
from shopfloor.model.calendar import local_days
from shopfloor.model.intervals import Interval
from shopfloor.model.plant import Plant
from shopfloor.model.signing import generate_key, load_private, public_bytes, sign
from shopfloor.store import attendance
from shopfloor.store import kpi as kpi_store
from shopfloor.store.hub import SHAREABLE, fingerprint
from shopfloor.store.schema import work_order_events, work_orders


def month_window(plant: Plant, month: str) -> Interval:
    try:
        first = date.fromisoformat(f"{month}-01")
    except ValueError:
        raise MonthInvalid(period=month) from None
    nxt = date(first.year + (first.month == 12), first.month % 12 + 1, 1)
    return local_days(first, nxt, plant.site.tz)


@dataclass(frozen=True)
class MonthFigures:
    """A month's shared KPIs (None where undefined), and which part of the month had data: ``coverage`` is
    ``{"from", "to", "fraction"}`` as every KPI result gives it, ``partial`` whether some of the month had none."""

    kpis: dict[str, float | None]
    coverage: dict[str, Any]
    partial: bool


def monthly_kpis(
    conn: Connection,
    plant: Plant,
    month: str,
    kpis: list[str],
    line: str | None = None,
    now: datetime | None = None,
) -> MonthFigures:
    """The month's figures of the plant (or a line) up to ``now``, computed as every report computes them."""
    unknown = sorted(set(kpis) - set(SHAREABLE))
    if unknown or not kpis:
        raise SharedKpiUnknown(kpis=unknown, known=SHAREABLE) if unknown else ChooseKpis(known=SHAREABLE)
    window = month_window(plant, month)
    machines = scope(plant, line=line, site=line is None)
    elements, cover = kpi_store.measure(conn, plant, machines, window, now)
    if cover.empty:
        raise MonthWithoutData(period=month)
    # on-time delivery: orders due in the month so far, an order due and still open being late
    on_time, due, _ = due_orders(conn, machines, window, now or datetime.now(timezone.utc))
    figures = kpis_of(elements)
    out: dict[str, float | None] = {}
    for name in kpis:
        if name == "lead_time_h":
            value = lead_time_h(conn, machines, window)
        elif name == "labour_productivity":
            clock = now or datetime.now(timezone.utc)
            value = labour_productivity(elements.gq, attendance.worker_s(conn, machines, window, clock))
        elif name == "on_time_delivery":
            value = on_time / due if due else None
        else:
            value = figures[name]
        out[name] = None if value is None else round(float(value), 6)
    # a month still running is partial however fully its days so far are covered
    running = (now or datetime.now(timezone.utc)) < window.end
    return MonthFigures(out, cover.to_dict(), cover.partial or running)


def lead_time_h(conn: Connection, machines: list[str], window: Interval) -> float | None:
    """Mean hours from release to completion of the orders completed in ``window`` on ``machines``."""
    wo, ev = work_orders.c, work_order_events.c
    released = (
        select(ev.work_order_id, func.min(ev.ts).label("released"))
        .where(ev.to_status == "released")
        .group_by(ev.work_order_id)
        .subquery()
    )
    rows = conn.execute(
        select(released.c.released, ev.ts)
        .join(released, released.c.work_order_id == ev.work_order_id)
        .join(work_orders, wo.id == ev.work_order_id)
        .where(wo.machine.in_(machines), ev.to_status == "completed", ev.ts >= window.start, ev.ts < window.end)
    ).all()
    if not rows:
        return None
    return sum((done - start).total_seconds() for start, done in rows) / len(rows) / 3600


def signed_report(
    key_pem: bytes,
    factory: str,
    sponsor: str | None,
    month: str,
    figures: MonthFigures | dict[str, Any],
    partial: bool | None = None,
) -> dict[str, Any]:
    """The signed envelope of a month's report, naming the key that signs it.  ``figures`` from ``monthly_kpis``
    also carry ``partial`` and ``coverage``, signed with the rest so that the hub can tell a month so far from a
    whole one; a plain mapping is taken as the KPIs alone (``partial`` then says whether the month is running).
    Without ``sponsor`` the month goes to the program office only."""
    payload: dict[str, Any] = {
        "factory": factory,
        "period": month,
        "kpis": figures.kpis if isinstance(figures, MonthFigures) else figures,
        "signed_at": datetime.now(timezone.utc).isoformat(),
        "nonce": uuid.uuid4().hex,
        "key": fingerprint(public_bytes(load_private(key_pem))),
    }
    if sponsor is not None:
        payload["sponsor"] = sponsor
    if isinstance(figures, MonthFigures):
        payload["partial"] = figures.partial
        payload["coverage"] = figures.coverage
    elif partial is not None:
        payload["partial"] = partial
    return sign(key_pem, payload)


def key_rotation(old_pem: bytes, factory: str) -> tuple[bytes, dict[str, Any]]:
    """A new key pair and the request that registers its public key at the hub, signed with the old key: the new
    private key (PEM) and the envelope to send."""
    new_pem, new_public = generate_key()
    payload = {
        "factory": factory,
        "new_key": base64.b64encode(new_public).decode(),
        "signed_at": datetime.now(timezone.utc).isoformat(),
        "nonce": uuid.uuid4().hex,
    }
    return new_pem, sign(old_pem, payload)


def push(
    hub_url: str,
    token: str,
    envelope: dict[str, Any],
    timeout: float = 30.0,
    verify: bool | str = True,
    path: str = "/api/v1/hub/reports",
) -> dict:
    """Send a signed report (or key rotation, ``path``); raises ``HubRefusedReport`` with the hub's reason when it
    refuses it.  ``verify``: check the hub's certificate against the system's authorities (True), or those of a
    CA file (its path)."""
    url = hub_url.rstrip("/") + path
    if isinstance(verify, str):
        verify = ssl.create_default_context(cafile=verify)
    try:
        response = httpx.post(url, json=envelope, headers={"Authorization": f"Bearer {token}"}, timeout=timeout,
                              verify=verify)  # fmt: skip
    except httpx.HTTPError as exc:
        raise HubUnreachable(hub=hub_url, reason=str(exc)) from None
    if response.status_code not in (200, 201):
        try:
            answer = response.json()
            refusal, detail = answer.get("code", ""), answer.get("detail")
        except ValueError:
            refusal, detail = "", response.text[:300]
        raise HubRefusedReport(status=response.status_code, refusal=refusal, detail=detail)
    return response.json()
