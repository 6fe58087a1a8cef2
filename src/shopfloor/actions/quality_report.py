"""A characteristic's control chart as a printable report: each chart with its limits and rule violations, and
the capability histogram against the specification limits (SVG from ``shopfloor.reports.charts``, drawn with
matplotlib; PDF through WeasyPrint)."""

from __future__ import annotations

from typing import Any

from shopfloor.reports.charts import chart_report_html, chart_report_pdf, control_chart_svg, for_print, histogram_svg

CAPABILITY_FACTS = ("n", "mean", "sigma_within", "sigma_overall", "cp", "cpk", "pp", "ppk", "ppm_total_overall")
NAMES = {"xbar": "X-bar", "r": "R", "s": "S", "i": "Individuals", "mr": "Moving range", "ewma": "EWMA"}


def sections(doc: dict[str, Any]) -> list[dict[str, Any]]:
    char = doc["characteristic"]
    labels = [ts[5:16].replace("T", " ") for ts in doc.get("ts", [])]
    out = []
    for c in doc.get("charts", []):
        shown = labels[-len(c["values"]) :] if labels else None
        facts = [("CL", c["centre"]), ("UCL", c["ucl"]), ("LCL", c["lcl"])]
        facts = [(k, v) for k, v in facts if not isinstance(v, list)]
        facts += [("limits", doc.get("limits", "")), ("rules", char["rules"]), ("points", len(c["values"]))]
        name = NAMES.get(c["chart"], c["chart"].upper())
        out.append(
            {
                "heading": f"{char['code']} · {char['name']} — {name}",
                "svg": control_chart_svg(c, c["violations"], title=name, labels=shown),
                "facts": facts,
                "violations": c["violations"],
            }
        )
    cap = doc.get("capability")
    if cap:
        out.append(
            {
                "heading": f"{char['code']} · capability",
                "svg": histogram_svg(cap, usl=char["usl"], lsl=char["lsl"], target=char["nominal"]),
                "facts": [(k, cap.get(k)) for k in CAPABILITY_FACTS if cap.get(k) is not None]
                + [("normality p", cap.get("normality_p"))],
                "violations": None,
            }
        )
    return out


def _title(doc: dict[str, Any]) -> tuple[str, str]:
    char = doc["characteristic"]
    limits = " ".join(f"{k.upper()} {char[k]:g}" for k in ("lsl", "nominal", "usl") if char.get(k) is not None)
    return f"{char['product']} · {char['code']} {char['name']}", f"{char['chart']} · n={char['sample_size']} {limits}"


def characteristic_html(doc: dict[str, Any]) -> str:
    title, subtitle = _title(doc)
    return chart_report_html(sections(doc), title=title, subtitle=subtitle)


def characteristic_pdf(doc: dict[str, Any]) -> bytes:
    title, subtitle = _title(doc)
    with for_print():  # the charts as pictures: WeasyPrint lays out SVG charts slowly (reports/charts.py)
        printed = sections(doc)
    return chart_report_pdf(printed, title=title, subtitle=subtitle)
