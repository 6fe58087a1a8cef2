"""The best practices collection: projects ranked by verified improvement since their baseline, on their latest
whole month (PDF, in the reader's language, times in the reader's zone)."""

from __future__ import annotations

from datetime import datetime
from html import escape
from typing import Any

from shopfloor.model.outcomes import kpi_label, spec_of
from shopfloor.reports.pdf import FONT_FAMILY, html_to_pdf


def kpi_text(t: Any, kpi: str, value: float | None) -> str:
    """A KPI's figure with its unit: a ratio in percent, PPM and hours with their units."""
    if value is None:
        return "–"
    spec = spec_of(kpi)
    if spec.ratio:
        return t.percent(value)
    return f"{t.number(value, spec.digits)} {t.gettext(spec.unit)}".rstrip()


def signed_pct(value: float | None) -> str:
    return "–" if value is None else f"{value:+.1f} %"


def best_practices_html(ranked: list[dict[str, Any]], kpi: str, when: datetime, t: Any) -> str:
    e, _ = escape, t.gettext
    blocks = []
    for rank, item in enumerate(ranked, start=1):
        rows = "".join(
            f"<tr><td>{e(_(kpi_label(k)))}</td><td>{e(kpi_text(t, k, f['baseline']))}</td>"
            f"<td>{e(kpi_text(t, k, f['value']))}</td><td>{e(kpi_text(t, k, f['target']))}</td>"
            f"<td>{signed_pct(f['improvement_pct'])}</td>"
            f"<td>{'–' if f['attainment'] is None else e(t.percent(f['attainment']))}</td></tr>"
            for k, f in item["kpis"].items()
        )
        received = t.datetime_iso(item["received_at"])
        blocks.append(
            f"<section><h2>{rank}. {e(item['name'] or item['project'])} · {e(item['factory_name'])} "
            f"({e(item['sponsor_name'])})</h2>"
            f"<p>{e(_(kpi_label(kpi)))}: <b>{item['improvement_pct']:+.1f} %</b> · {e(_('Month'))} "
            f"{e(item['period'])} · {e(_('signed and received'))} {e(received)}</p>"
            f"<table><thead><tr><th>KPI</th><th>{e(_('baseline'))}</th><th>{e(_('value'))}</th>"
            f"<th>{e(_('target'))}</th><th>{e(_('Improvement'))}</th><th>{e(_('attainment'))}</th></tr></thead>"
            f"<tbody>{rows}</tbody></table></section>"
        )
    body = "".join(blocks) or f"<p>{e(_('No project has shared a whole month of this KPI yet.'))}</p>"
    title = _("Best practices: largest verified improvements in {kpi}", kpi=_(kpi_label(kpi)))
    return f"""<!doctype html><html lang="{t.lang}"><head><meta charset="utf-8"><style>
@page {{ size: A4; margin: 14mm; }}
body {{ font-family: {FONT_FAMILY}; font-size: 9.5pt; }}
h1 {{ font-size: 16pt; margin: 0 0 2mm; }} h2 {{ font-size: 11pt; margin: 5mm 0 1mm; }}
table {{ border-collapse: collapse; }} th, td {{ border: 0.3pt solid #999; padding: 0.8mm 2mm; text-align: left; }}
thead th {{ background: #eee; }} section {{ break-inside: avoid; }}
</style></head><body>
<h1>{e(title)}</h1>
<p>{e(t.datetime(when))} · {e(_("figures signed by each factory, whole months only"))}</p>
{body}</body></html>"""


def best_practices_pdf(ranked: list[dict[str, Any]], kpi: str, when: datetime, t: Any) -> bytes:
    return html_to_pdf(best_practices_html(ranked, kpi, when, t))
