"""The factory side of sharing: a month's KPIs computed from the factory's own store, signed with its key and
sent to the hub over HTTPS with its token.  Only the chosen KPIs, as monthly figures, ever leave the factory.

The current month is computed up to now and sent marked ``partial`` with its ``coverage`` (which part of the
month had data); a month without any data is refused rather than signed: there is nothing to report, and a
zero would claim there was."""

from __future__ import annotations

import ssl
import uuid
from dataclasses import dataclass
from datetime import date, datetime, timezone
from typing import Any

import httpx
from sqlalchemy import Connection

from shopfloor.actions.improvement_report import completed_orders, kpi_value
from shopfloor.actions.kpi_report import scope
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
from shopfloor.model.signing import sign
from shopfloor.store import kpi as kpi_store
from shopfloor.store.hub import SHAREABLE


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
    on_time, due, _ = completed_orders(conn, machines, window)
    out: dict[str, float | None] = {}
    for name in kpis:
        value = kpi_value(name, elements, on_time, due)
        out[name] = None if value is None else round(float(value), 6)
    return MonthFigures(out, cover.to_dict(), cover.partial)


def signed_report(
    key_pem: bytes, factory: str, sponsor: str, month: str, figures: MonthFigures | dict[str, Any]
) -> dict[str, Any]:
    """The signed envelope of a month's report.  ``figures`` from ``monthly_kpis`` also carry ``partial`` and
    ``coverage``, signed with the rest so that the hub can tell a month so far from a whole one; a plain mapping
    is taken as the KPIs alone."""
    payload: dict[str, Any] = {
        "factory": factory,
        "sponsor": sponsor,
        "period": month,
        "kpis": figures.kpis if isinstance(figures, MonthFigures) else figures,
        "signed_at": datetime.now(timezone.utc).isoformat(),
        "nonce": uuid.uuid4().hex,
    }
    if isinstance(figures, MonthFigures):
        payload["partial"] = figures.partial
        payload["coverage"] = figures.coverage
    return sign(key_pem, payload)


def push(hub_url: str, token: str, envelope: dict[str, Any], timeout: float = 30.0, verify: bool | str = True) -> dict:
    """Send a signed report; raises ``HubRefusedReport`` with the hub's reason when it refuses it.  ``verify``:
    check the hub's certificate against the system's authorities (True), or those of a CA file (its path)."""
    url = hub_url.rstrip("/") + "/api/v1/hub/reports"
    if isinstance(verify, str):
        verify = ssl.create_default_context(cafile=verify)
    try:
        response = httpx.post(url, json=envelope, headers={"Authorization": f"Bearer {token}"}, timeout=timeout,
                              verify=verify)  # fmt: skip
    except httpx.HTTPError as exc:
        raise HubUnreachable(hub=hub_url, reason=str(exc)) from None
    if response.status_code != 201:
        try:
            answer = response.json()
            refusal, detail = answer.get("code", ""), answer.get("detail")
        except ValueError:
            refusal, detail = "", response.text[:300]
        raise HubRefusedReport(status=response.status_code, refusal=refusal, detail=detail)
    return response.json()
