"""Quality pages: the quality overview (process alarms acknowledged with a comment, the charts of watched process
values, characteristics and NCRs), a characteristic's control charts with sample entry, and nonconformance reports
(open, decide).  Forms post here (session + CSRF token) with the same permissions as the API."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from markupsafe import Markup
from sqlalchemy import Engine, select

from shopfloor.actions.quality import (
    acknowledge_alarm,
    dispose_ncr,
    exclude_sample,
    open_ncr,
    record_sample,
    set_chart_settings,
    void_sample,
)
from shopfloor.analytics import spc
from shopfloor.analytics.run_rules import evaluate
from shopfloor.api.deps import Principal, allowed, ensure, get_engine
from shopfloor.errors import (
    AlarmAcknowledged,
    AlarmCommentMissing,
    CharacteristicNotFound,
    DomainError,
    SampleNotFound,
    SampleWholeNumber,
    SettingNotNumber,
)
from shopfloor.reports.charts import control_chart_svg
from shopfloor.store import inspections as insp
from shopfloor.store import ncr as ncr_store
from shopfloor.store import spc_monitor
from shopfloor.store.schema import alarms, machines, measurements, spc_limits
from shopfloor.web.pages import (
    new_form_key,
    page_context,
    page_user,
    plant_of,
    plant_or_none,
    render,
    require_csrf,
    show_refusal,
)

router = APIRouter(include_in_schema=False)


@router.get("/quality")
def quality_page(request: Request, principal: Principal = Depends(page_user), engine: Engine = Depends(get_engine)):
    """Open process alarms (acknowledged here with a comment), the individuals chart of each watched value, the
    inspection characteristics with their state, and nonconformance reports."""
    return _quality_page(request, principal, engine)


def _quality_page(
    request: Request, principal: Principal, engine: Engine, refusal: DomainError | None = None
) -> HTMLResponse:
    plant = plant_of(engine)
    a, m, ms, lim = alarms.c, machines.c, measurements.c, spc_limits.c
    charts = []
    with engine.connect() as conn:
        open_alarms = conn.execute(
            select(alarms, m.code.label("machine"))
            .join(machines, m.id == a.machine_id)
            .where(a.ack_at.is_(None))
            .order_by(a.id.desc())
            .limit(200)
        ).all()
        config = spc_monitor.watched(plant)
        ids = {row.code: row.id for row in conn.execute(select(m.code, m.id))}
        for (machine, name), (_, rules) in sorted(config.items()):
            limits = conn.execute(select(spc_limits).where(lim.machine_id == ids[machine], lim.name == name)).first()
            rows = conn.execute(
                select(ms.ts, ms.value)
                .where(ms.machine_id == ids[machine], ms.name == name)
                .order_by(ms.ts.desc())
                .limit(100)
            ).all()[::-1]
            if limits is None or len(rows) < 2:
                continue
            chart, _ = spc.imr([r.value for r in rows], centre=limits.centre, sigma=limits.sigma)
            t = page_context(request, principal, plant)["t"]
            doc = {"chart": "i", "values": [r.value for r in rows], "centre": limits.centre,
                   "ucl": float(chart.ucl[0]), "lcl": float(chart.lcl[0])}  # fmt: skip
            svg = control_chart_svg(
                doc,
                [v.to_dict() for v in evaluate(chart, rules)],
                labels=[t.time(r.ts) for r in rows],
                height=280,
                empty=t.gettext("No data to plot"),
            )
            charts.append({"machine": machine, "name": name, "svg": Markup(svg)})  # noqa: S704 - escaped SVG
        extras = quality_extras(conn, principal)
    ctx = page_context(
        request,
        principal,
        plant,
        open_alarms=open_alarms,
        charts=charts,
        can_ack=allowed(principal, "acknowledge_alarms"),
        **extras,
    )
    ctx["when"] = ctx["t"].datetime_iso
    status = show_refusal(ctx, refusal) if refusal is not None else 200
    return render(request, "quality.html", ctx, status)


@router.post("/quality/alarms/{alarm_id}/ack")
def quality_ack(
    alarm_id: int,
    request: Request,
    comment: str = Form(..., min_length=1, max_length=2000),
    csrf_token: str = Form(""),
    principal: Principal = Depends(page_user),
    engine: Engine = Depends(get_engine),
) -> Response:
    require_csrf(principal, csrf_token)
    ensure(principal, "acknowledge_alarms")
    try:
        acknowledge_alarm(engine, principal.actor, alarm_id, comment=comment)
    except (AlarmAcknowledged, AlarmCommentMissing) as exc:
        return _quality_page(request, principal, engine, exc)
    return RedirectResponse("/quality", status_code=303)


def quality_extras(conn, principal: Principal) -> dict[str, Any]:
    """What the quality page shows besides the process alarms: characteristics with their latest state, NCRs."""
    rows = []
    for char in insp.characteristics(conn):
        doc = insp.chart(conn, char, limit=30)
        first = doc["charts"][0] if doc.get("charts") else None
        last = len(first["values"]) - 1 if first else -1
        rows.append(
            {
                "char": char,
                "limits": doc.get("limits"),
                "violations": sum(len(c["violations"]) for c in doc.get("charts", [])),
                "last_bad": bool(first and any(v["index"] == last for v in first["violations"])),
                "cpk": (doc.get("capability") or {}).get("cpk"),
            }
        )
    return {
        "characteristics": rows,
        "ncrs": ncr_store.listing(conn, limit=50),
        "can_report": allowed(principal, "report_nonconformance"),
        "can_dispose": allowed(principal, "manage_quality"),
        "dispositions": ncr_store.DISPOSITIONS,
        "new_key": new_form_key,
    }


def _char_page(
    request: Request, principal: Principal, engine: Engine, cid: int, refusal: DomainError | None = None
) -> HTMLResponse:
    with engine.connect() as conn:
        char = insp.get(conn, cid)
        doc = insp.chart(conn, char, limit=100)
    ctx = page_context(request, principal, plant_or_none(engine), char=char, doc=doc, new_key=new_form_key)
    t = ctx["t"]
    ctx["labels"] = labels = [t.datetime(datetime.fromisoformat(ts)) for ts in doc.get("ts", [])]
    empty = t.gettext("No data to plot")
    svgs = [
        control_chart_svg(c, c["violations"], labels=labels[-len(c["values"]) :] if labels else None, empty=empty)
        for c in doc.get("charts", [])
    ]
    ctx["chart_svgs"] = [Markup(svg) for svg in svgs]  # noqa: S704 - SVG with its text escaped
    ctx["can_record"] = allowed(principal, "record_inspections")
    ctx["can_manage"] = allowed(principal, "manage_quality")
    with engine.connect() as conn:
        ctx["recent"] = list(reversed(insp.samples(conn, char, limit=30)))
    ctx["options"] = char.options or {}
    status = show_refusal(ctx, refusal) if refusal is not None else 200
    return render(request, "characteristic.html", ctx, status)


def _number(text: str, what: str) -> float | None:
    text = text.strip().replace(",", ".")
    if not text:
        return None
    try:
        return float(text)
    except ValueError:
        raise SettingNotNumber(field=what, value=text) from None


@router.post("/quality/characteristics/{cid}/settings")
def settings_form(
    cid: int,
    request: Request,
    rules: str = Form(""),
    nsigmas: str = Form(""),
    centre: str = Form(""),
    sigma: str = Form(""),
    lam: str = Form("", alias="lambda"),
    ewma_limits: str = Form(""),
    k: str = Form(""),
    h: str = Form(""),
    capability_on: str = Form(""),
    capability_method: str = Form(""),
    valid_min: str = Form(""),
    valid_max: str = Form(""),
    csrf_token: str = Form(""),
    principal: Principal = Depends(page_user),
    engine: Engine = Depends(get_engine),
) -> Response:
    """The chart options of the characteristic, as ``shopfloor spc`` takes them."""

    def save() -> None:
        options = {
            "nsigmas": _number(nsigmas, "nsigmas"),
            "centre": _number(centre, "centre"),
            "sigma": _number(sigma, "sigma"),
            "lambda": _number(lam, "lambda"),
            "ewma_limits": ewma_limits or None,
            "k": _number(k, "k"),
            "h": _number(h, "h"),
            "capability_on": capability_on or None,
            "capability_method": capability_method or None,
        }
        set_chart_settings(
            engine,
            principal.actor,
            cid,
            rules=rules.strip() or None,
            options={key: value for key, value in options.items() if value is not None} or None,
            valid_min=_number(valid_min, "valid_min"),
            valid_max=_number(valid_max, "valid_max"),
        )

    return _on_char_page(request, principal, engine, cid, "manage_quality", csrf_token, save)


def _on_char_page(
    request: Request, principal: Principal, engine: Engine, cid: int, permission: str, csrf_token: str, do: Callable
) -> Response:
    """Run ``do()`` for a user with ``permission``, then show the characteristic again; a refusal is shown on its
    page, a characteristic or sample that does not exist answers 404."""
    require_csrf(principal, csrf_token)
    ensure(principal, permission)
    try:
        do()
    except (CharacteristicNotFound, SampleNotFound):
        raise
    except DomainError as exc:
        return _char_page(request, principal, engine, cid, exc)
    return RedirectResponse(f"/quality/characteristics/{cid}", status_code=303)


@router.post("/quality/characteristics/{cid}/samples/{sid}/void")
def void_form(
    cid: int,
    sid: int,
    request: Request,
    reason: str = Form(""),
    csrf_token: str = Form(""),
    principal: Principal = Depends(page_user),
    engine: Engine = Depends(get_engine),
) -> Response:
    return _on_char_page(
        request, principal, engine, cid, "manage_quality", csrf_token,
        lambda: void_sample(engine, principal.actor, cid, sid, reason=reason),
    )  # fmt: skip


@router.post("/quality/characteristics/{cid}/samples/{sid}/exclude")
def exclude_form(
    cid: int,
    sid: int,
    request: Request,
    reason: str = Form(""),
    csrf_token: str = Form(""),
    principal: Principal = Depends(page_user),
    engine: Engine = Depends(get_engine),
) -> Response:
    """Exclude with a reason; an empty reason takes the sample back into the limits."""
    return _on_char_page(
        request, principal, engine, cid, "manage_quality", csrf_token,
        lambda: exclude_sample(engine, principal.actor, cid, sid, reason=reason.strip() or None),
    )  # fmt: skip


@router.get("/quality/characteristics/{cid}")
def characteristic_page(
    cid: int, request: Request, principal: Principal = Depends(page_user), engine: Engine = Depends(get_engine)
) -> HTMLResponse:
    return _char_page(request, principal, engine, cid)


@router.post("/quality/characteristics/{cid}/samples")
def sample_form(
    cid: int,
    request: Request,
    values: str = Form(""),
    inspected: str = Form(""),
    nonconforming: str = Form(""),
    lot: str = Form(""),
    key: str = Form(""),
    csrf_token: str = Form(""),
    principal: Principal = Depends(page_user),
    engine: Engine = Depends(get_engine),
) -> Response:
    def whole(text: str, what: str) -> int | None:
        text = text.strip()
        if not text:
            return None
        if not text.isdigit():
            raise SampleWholeNumber(field=what, value=text)
        return int(text)

    def record() -> None:
        with engine.connect() as conn:
            char = insp.get(conn, cid)
        record_sample(
            engine,
            principal.actor,
            cid,
            measurements=values.replace(";", " ").split() if char.kind == "variable" else None,
            inspected=whole(inspected, "inspected"),
            nonconforming=whole(nonconforming, "nonconforming"),
            lot=lot.strip() or None,
            source="terminal",
            key=key or None,
        )

    return _on_char_page(request, principal, engine, cid, "record_inspections", csrf_token, record)


@router.post("/quality/ncrs")
def ncr_form(
    request: Request,
    description: str = Form(...),
    lot: str = Form(""),
    qty: str = Form(""),
    defect: str = Form(""),
    key: str = Form(""),
    csrf_token: str = Form(""),
    principal: Principal = Depends(page_user),
    engine: Engine = Depends(get_engine),
) -> Response:
    require_csrf(principal, csrf_token)
    ensure(principal, "report_nonconformance", "report nonconformances")
    try:
        open_ncr(
            engine,
            principal.actor,
            description=description,
            lot=lot.strip() or None,
            qty=qty.strip() or None,
            defect=defect.strip() or None,
            key=key or None,
        )
    except DomainError as exc:
        return _quality_page(request, principal, engine, exc)
    return RedirectResponse("/quality#ncrs", status_code=303)


@router.post("/quality/ncrs/{code}/disposition")
def disposition_form(
    code: str,
    request: Request,
    disposition: str = Form(...),
    note: str = Form(""),
    csrf_token: str = Form(""),
    principal: Principal = Depends(page_user),
    engine: Engine = Depends(get_engine),
) -> Response:
    require_csrf(principal, csrf_token)
    ensure(principal, "manage_quality", "decide nonconformances")
    try:
        dispose_ncr(engine, principal.actor, code, disposition=disposition, note=note)
    except DomainError as exc:
        return _quality_page(request, principal, engine, exc)
    return RedirectResponse("/quality#ncrs", status_code=303)
