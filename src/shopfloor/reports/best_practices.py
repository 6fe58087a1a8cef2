"""The best practices collection: projects ranked by verified improvement since their baseline (PDF)."""

from __future__ import annotations

from datetime import datetime
from html import escape
from typing import Any

from shopfloor.reports.pdf import FONT_FAMILY, html_to_pdf


def best_practices_html(ranked: list[dict[str, Any]], kpi: str, when: datetime) -> str:
    e = escape
    blocks = []
    for rank, item in enumerate(ranked, start=1):
        latest = item["latest"] or {}
        rows = "".join(
            f"<tr><td>{e(k)}</td><td>{e(str(item['baseline'].get(k)))}</td>"
            f"<td>{e(str((latest.get('kpis') or {}).get(k, '–')))}</td>"
            f"<td>{e(str(item['target'].get(k, '–')))}</td><td>{v:+.1f} %</td></tr>"
            for k, v in sorted(item["improvement_pct"].items())
        )
        blocks.append(
            f"<section><h2>{rank}. {e(item['project'])} · {e(item['factory'])} ({e(item['sponsor'])})</h2>"
            f"<p>{e(kpi)}: <b>{item['improvement_pct'][kpi]:+.1f} %</b> · {e('latest month')} "
            f"{e(latest.get('period', '–'))}, {e('signed and received')} {e(latest.get('received_at', '–')[:16])}</p>"
            f"<table><thead><tr><th>KPI</th><th>baseline</th><th>latest</th><th>target</th><th>improvement</th>"
            f"</tr></thead><tbody>{rows}</tbody></table></section>"
        )
    body = "".join(blocks) or "<p>No project has shared figures for this KPI yet.</p>"
    return f"""<!doctype html><html><head><meta charset="utf-8"><style>
@page {{ size: A4; margin: 14mm; }}
body {{ font-family: {FONT_FAMILY}; font-size: 9.5pt; }}
h1 {{ font-size: 16pt; margin: 0 0 2mm; }} h2 {{ font-size: 11pt; margin: 5mm 0 1mm; }}
table {{ border-collapse: collapse; }} th, td {{ border: 0.3pt solid #999; padding: 0.8mm 2mm; text-align: left; }}
thead th {{ background: #eee; }} section {{ break-inside: avoid; }}
</style></head><body>
<h1>Best practices: largest verified improvements in {e(kpi)}</h1>
<p>{e(when.strftime("%Y-%m-%d %H:%M %Z"))} · figures signed by each factory and shared by its consent</p>
{body}</body></html>"""


def best_practices_pdf(ranked: list[dict[str, Any]], kpi: str, when: datetime) -> bytes:
    return html_to_pdf(best_practices_html(ranked, kpi, when))
