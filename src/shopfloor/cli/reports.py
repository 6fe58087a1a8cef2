"""``shopfloor report``: the production and improvement reports, and the schedules that send them."""

from __future__ import annotations

import json
import sys
from datetime import date
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import Progress
from rich.table import Table

from shopfloor.actions.improvement_report import (
    effect,
    fmt,
    improvement_pdf,
    improvement_report,
    improvement_xlsx,
    period,
)
from shopfloor.actions.production_report import (
    production_report,
    report_pdf,
    report_window,
    report_xlsx,
)
from shopfloor.actions.scheduled_reports import add_schedule, run_due
from shopfloor.cli.common import (
    DbOption,
    JsonOption,
    LangOption,
    LineOption,
    PdfOption,
    XlsxOption,
    console,
    err,
    settings,
    store,
)
from shopfloor.errors import DayInvalid, ReportLanguage, ScheduleDeliveryTarget, TargetInvalid
from shopfloor.i18n import LANGUAGES, Translator
from shopfloor.store.audit import current_actor
from shopfloor.store.plant import current_plant
from shopfloor.store.schedules import listing

report_cli = typer.Typer(help="Production and improvement reports (page, PDF, Excel, JSON).", no_args_is_help=True)


def _plant_and_t(engine, lang: str):
    if lang not in LANGUAGES:
        raise ReportLanguage(languages=list(LANGUAGES), lang=lang)
    with engine.connect() as conn:
        plant = current_plant(conn)
    t = Translator(lang, plant.site.tz)
    return plant, t.gettext, t.datetime_iso


@report_cli.command("production")
def production_cmd(
    day: Annotated[str, typer.Option("--day", help="Local day of the site, YYYY-MM-DD.")],
    shift: Annotated[str | None, typer.Option("--shift", help="One shift by name; the whole day by default.")] = None,
    line: LineOption = None,
    pdf: PdfOption = None,
    xlsx: XlsxOption = None,
    as_json: JsonOption = False,
    lang: LangOption = "en",
    db: DbOption = None,
) -> None:
    """Shift or daily production report: output against plan, OEE with A/P/Q, downtime and defects, orders."""
    engine = store(db)
    plant, gettext, when = _plant_and_t(engine, lang)
    try:
        chosen = date.fromisoformat(day)
    except ValueError:
        raise DayInvalid(value=day) from None
    with engine.connect() as conn:
        doc = production_report(conn, plant, report_window(plant, chosen, shift), line=line,
                                no_reason=gettext("(no reason)"))  # fmt: skip
    if pdf:
        pdf.write_bytes(report_pdf(doc, gettext, when, lambda code: plant.reason_name(code, lang)))
        err.print(f"PDF written to {pdf}")
    if xlsx:
        xlsx.write_bytes(report_xlsx(doc, gettext))
        err.print(f"Excel written to {xlsx}")
    if as_json:
        print(json.dumps(doc, ensure_ascii=False, indent=2))
    elif not (pdf or xlsx):
        k = doc["kpi"]
        oee = "–" if k["oee"] is None else f"{k['oee'] * 100:.1f} %"
        plan = doc["plan"]
        console.print(
            f"{doc['scope']['line'] or doc['site_name']} {day}{' ' + shift if shift else ''}: output "
            f"{plan['output_qty']} (planned {plan['planned_qty']}, capacity {plan['capacity_qty']}),"
            f" OEE {oee}, scrap {doc['scrap']['qty']}, {len(doc['orders_finished'])} order(s) finished"
        )


@report_cli.command("improvement")
def improvement_cmd(
    baseline: Annotated[str, typer.Option("--baseline", help="Baseline period FROM..TO (local days, included).")],
    after: Annotated[str, typer.Option("--after", help="Comparison period FROM..TO.")],
    line: LineOption = None,
    target: Annotated[
        list[str] | None, typer.Option("--target", help="A KPI's target, e.g. ppm=1500 (repeatable).")
    ] = None,
    confidence: Annotated[float, typer.Option("--confidence", help="Confidence level of the tests.")] = 0.95,
    pdf: PdfOption = None,
    xlsx: XlsxOption = None,
    as_json: JsonOption = False,
    lang: LangOption = "en",
    db: DbOption = None,
) -> None:
    """Before/after improvement report: output per hour, OEE, operating rate, PPM, first pass yield, scrap ratio,
    on-time completion, order lead time and on-time shipments in both periods, the change, its effect with a
    confidence interval, and whether it is statistically meaningful."""
    engine = store(db)
    plant, gettext, when = _plant_and_t(engine, lang)
    targets: dict[str, float] = {}
    for item in target or []:
        name, _, value = item.partition("=")
        try:
            targets[name.strip()] = float(value)
        except ValueError:
            raise TargetInvalid(target=item) from None
    with Progress(console=err, transient=True, disable=as_json or not sys.stderr.isatty()) as bar:
        task = bar.add_task("computing the report", total=None)
        with engine.connect() as conn:
            doc = improvement_report(
                conn,
                plant,
                period(plant, baseline),
                period(plant, after),
                line=line,
                targets=targets,
                confidence=confidence,
                progress=lambda done, total: bar.update(task, completed=done, total=total),
            )
    if pdf:
        pdf.write_bytes(improvement_pdf(doc, gettext, when))
        err.print(f"PDF written to {pdf}")
    if xlsx:
        xlsx.write_bytes(improvement_xlsx(doc, gettext))
        err.print(f"Excel written to {xlsx}")
    if as_json:
        print(json.dumps(doc, ensure_ascii=False, indent=2, default=str))
    elif not (pdf or xlsx):
        table = Table(title=f"{doc['scope']['line'] or doc['site_name']}: {baseline} -> {after}")
        for col in ("KPI", "baseline", "after", "change", "effect (CI)", "verdict"):
            table.add_column(col)
        for r in doc["kpis"]:
            change = "–" if r["change_pct"] is None else f"{r['change_pct']:+.1f} %"
            table.add_row(
                r["label"],
                fmt(r["kpi"], r["before"]),
                fmt(r["kpi"], r["after"]),
                change,
                effect(r),
                r["verdict"],
            )
        console.print(table)


schedule_cli = typer.Typer(help="Reports sent after each shift or day, to a folder or by e-mail.", no_args_is_help=True)
report_cli.add_typer(schedule_cli, name="schedule")


@schedule_cli.command("add")
def schedule_add(
    name: Annotated[str, typer.Argument(help="A name for the schedule.")],
    period: Annotated[str, typer.Option("--period", help="shift or day.")] = "day",
    folder: Annotated[Path | None, typer.Option("--folder", help="Write the files into this folder.")] = None,
    email: Annotated[str | None, typer.Option("--email", help="Send to these addresses (comma separated).")] = None,
    line: LineOption = None,
    formats: Annotated[str, typer.Option("--formats", help="pdf, xlsx or pdf+xlsx.")] = "pdf",
    lang: LangOption = "en",
    db: DbOption = None,
) -> None:
    """Add a scheduled production report (e-mail uses SHOPFLOOR_SMTP_URL and SHOPFLOOR_SMTP_FROM)."""
    if (folder is None) == (email is None):
        raise ScheduleDeliveryTarget()
    doc = add_schedule(
        store(db),
        current_actor(),
        name=name,
        period=period,
        line=line,
        lang=lang,
        formats=formats,
        delivery="folder" if folder else "email",
        target=str(folder.resolve()) if folder else email,
        # the command runs with the rights of whoever runs it on this machine: the folder it names is allowed
        roots=settings(db=db).report_folders or ([folder.resolve()] if folder else []),
    )
    console.print(f"schedule {doc['name']}: {doc['period']} report to {doc['target']}")


@schedule_cli.command("list")
def schedule_list(db: DbOption = None) -> None:
    """Schedules with their last delivery, failed attempts and last error."""
    with store(db).connect() as conn:
        rows = listing(conn)
    table = Table(title="scheduled reports")
    for col in ("name", "period", "to", "last period", "last success", "attempts", "last error"):
        table.add_column(col)
    for r in rows:
        table.add_row(
            r["name"],
            r["period"],
            r["target"],
            r["last_period"] or "",
            r["last_success_at"] or "",
            str(r["attempts"]),
            r["last_error"] or "",
        )
    console.print(table)


@schedule_cli.command("run")
def schedule_run(db: DbOption = None) -> None:
    """Make and deliver the reports that are due now (``shopfloor serve`` does this every minute)."""
    scheduling = settings(db=db)
    results = run_due(store(db), scheduling)
    for r in results:
        console.print(f"{r['schedule']} {r['period']}: {'sent' if r['ok'] else 'failed: ' + r['error']}")
    if any(not r["ok"] for r in results):
        raise typer.Exit(1)
