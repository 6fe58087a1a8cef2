"""``shopfloor trace`` and ``shopfloor recall``: genealogy of a lot from the command line."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.table import Table

from shopfloor.actions.lots import hold_recalled_lots
from shopfloor.actions.recall import recall_labels, recall_pdf, recall_report, recall_xlsx
from shopfloor.cli.common import DbOption, JsonOption, LangOption, PdfOption, XlsxOption, console, err, fail, store
from shopfloor.errors import ReportLanguage
from shopfloor.i18n import LANGUAGES, Translator
from shopfloor.store import trace as trace_store
from shopfloor.store.audit import current_actor
from shopfloor.store.plant import current_plant

cli = typer.Typer()


@cli.command("trace")
def trace_command(
    lot: Annotated[str, typer.Argument(help="Lot code, e.g. F260302-0001.")],
    backward: Annotated[bool, typer.Option("--backward", help="What went into the lot, down to suppliers.")] = False,
    forward: Annotated[bool, typer.Option("--forward", help="Every lot and shipment made from the lot.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the graph as JSON: nodes, edges, orders.")] = False,
    db: DbOption = None,
) -> None:
    """Trace a lot's genealogy backward or forward through every level, splits and merges included."""
    if backward == forward:
        fail("give exactly one of --backward and --forward")
    direction = trace_store.BACKWARD if backward else trace_store.FORWARD
    with store(db).connect() as conn:
        result = trace_store.trace(conn, lot, direction)
    if as_json:
        print(json.dumps(result.to_dict(), ensure_ascii=False, indent=2))
        return
    found, shipped = len(result.lots()), len(result.shipments())
    table = Table(title=f"{direction} trace of {lot}: {found} lot(s), {shipped} shipment(s)")
    for col in ("level", "lot", "item", "qty", "status", "location", "supplier lot", "work order", "machine"):
        table.add_column(col)
    for n in result.lots():
        table.add_row(
            str(n["depth"]),
            n["code"],
            f"{n['item']} {n['item_name']}",
            f"{n['qty']} {n['unit']}",
            n["status"],
            n["location"] or "",
            " ".join(x for x in (n["supplier"], n["supplier_lot"]) if x),
            n["work_order"] or "",
            n["machine"] or "",
        )
    console.print(table)
    for s in result.shipments():
        note = s["shipment"] or "-"
        console.print(f"shipped: {s['lot']} {s['qty']} {s['unit']} to {s['customer']} ({note}) {s['ts']}")


@cli.command("recall")
def recall_command(
    lot: Annotated[str, typer.Argument(help="The suspect lot.")],
    pdf: PdfOption = None,
    xlsx: XlsxOption = None,
    hold: Annotated[
        str | None, typer.Option("--hold", help="Put every affected lot still active on hold, with this reason.")
    ] = None,
    as_json: JsonOption = False,
    lang: LangOption = "en",
    db: DbOption = None,
) -> None:
    """Recall report for a suspect lot: origin, every affected lot and where it is, shipments to customers.
    Also every order that consumed an affected lot; with --hold their future output is held."""
    engine = store(db)
    if lang not in LANGUAGES:
        raise ReportLanguage(languages=list(LANGUAGES), lang=lang)
    if hold:
        report = hold_recalled_lots(engine, current_actor(), lot, reason=hold)
        held = report.pop("held")
        err.print(f"put {len(held)} lot(s) on hold: {', '.join(held) or '-'}")
    else:
        with engine.connect() as conn:
            report = recall_report(conn, lot)
    if xlsx:
        xlsx.write_bytes(recall_xlsx(report))
        err.print(f"Excel report written to {xlsx}")
    if pdf:
        with engine.connect() as conn:
            t = Translator(lang, current_plant(conn).site.tz)
        pdf.write_bytes(recall_pdf(report, recall_labels(t.gettext), t.datetime_iso))
        err.print(f"PDF report written to {pdf}")
    if as_json:
        print(json.dumps(report, ensure_ascii=False, indent=2))
    elif not (pdf or xlsx):
        s = report["summary"]
        console.print(
            f"{lot}: {s['affected_lots']} affected lot(s), {s['in_stock_lots']} in stock ({s['on_hold_lots']} on "
            f"hold), {s['shipments']} shipment(s) to {', '.join(s['customers']) or 'no customer'}; "
            f"origin: {', '.join(s['supplier_lots']) or '-'}"
        )
