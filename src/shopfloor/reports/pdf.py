"""HTML to PDF with WeasyPrint, and a check that every character of a PDF has a real glyph.

Labels and reports are written once as HTML and CSS (with inline SVG for barcodes and charts); WeasyPrint lays
them out with Pango and HarfBuzz, which shape Korean (Hangul) and Vietnamese (stacked diacritics) with the system
fonts from Debian's fonts-noto-cjk, embeds the fonts as subsets with a ToUnicode map (the text stays searchable and
copyable), and honours CSS ``@page`` sizes such as a 100 mm x 60 mm label.  Templates should use
``font-family: "Noto Sans CJK KR", "Noto Sans", sans-serif`` (``FONT_FAMILY``).  No browser is started: a label
renders in well under a second on a small machine.

A character that no installed font covers is drawn as an empty box ("tofu") or a replacement glyph.
``missing_glyphs`` reads the PDF's ToUnicode maps (every character drawn, by font) and returns the characters
written with the missing-glyph code (CID 0 or 0xFFFF) or that no installed font covers (fontconfig's charsets), so
tests (and a report run) can tell that every Korean and Vietnamese letter really has a glyph.
"""

from __future__ import annotations

import bisect
import functools
import io
import re
import subprocess

__all__ = ["FONT_FAMILY", "PdfError", "html_to_pdf", "missing_glyphs"]

FONT_FAMILY = '"Noto Sans CJK KR", "Noto Sans", sans-serif'
MISSING_CIDS = (0x0000, 0xFFFF)


class PdfError(RuntimeError):
    """The PDF could not be rendered; the message says why."""


def html_to_pdf(
    html: str, *, width_mm: float | None = None, height_mm: float | None = None, landscape: bool = False
) -> bytes:
    """Render ``html`` to PDF bytes.

    The paper is ``width_mm`` x ``height_mm`` when both are given, else A4 (landscape when asked); a CSS
    ``@page { size: ... }`` in the HTML wins over both.  Backgrounds are printed.  Nothing is fetched from the
    network: the HTML must carry its images and styles inline.
    """
    if (width_mm is None) != (height_mm is None):
        raise ValueError("give both width_mm and height_mm, or neither (A4)")
    if width_mm is not None and height_mm is not None and (width_mm <= 0 or height_mm <= 0):
        raise ValueError(f"page size must be positive, got {width_mm} x {height_mm} mm")
    try:
        # Imported here: WeasyPrint takes about a second to load and needs Pango; only PDFs need it.
        from weasyprint import CSS, HTML
    except (ImportError, OSError) as exc:  # OSError: the Pango libraries are missing
        raise PdfError(f"WeasyPrint cannot run here ({exc}); run ./run setup to install it and Pango") from exc
    size = f"{width_mm:g}mm {height_mm:g}mm" if width_mm is not None else "A4 landscape" if landscape else "A4"
    default_page = CSS(string=f"@page {{ size: {size}; }}")

    from weasyprint.urls import FatalURLFetchingError, URLFetcher  # with WeasyPrint, above

    offline = URLFetcher(allowed_protocols={"data"}, fail_on_errors=True)  # only what the HTML carries inline
    try:
        return HTML(string=html, url_fetcher=offline).write_pdf(stylesheets=[default_page])
    except FatalURLFetchingError as exc:
        raise PdfError(f"a PDF may not load anything from outside ({exc}): inline it") from None
    except Exception as exc:  # noqa: BLE001 - WeasyPrint raises many kinds; the caller gets one
        raise PdfError(f"the PDF could not be rendered: {exc}") from exc


_BFCHAR = re.compile(rb"beginbfchar(.*?)endbfchar", re.S)
_PAIR = re.compile(rb"<([0-9A-Fa-f]+)>\s*<([0-9A-Fa-f]+)>")


def _utf16(hexstr: bytes) -> str:
    return bytes.fromhex(hexstr.decode()).decode("utf-16-be", errors="replace")


@functools.cache
def installed_coverage() -> tuple[tuple[int, int], ...]:
    """Code point ranges that some installed font covers, from fontconfig (``fc-list``), merged."""
    try:
        out = subprocess.run(
            ["fc-list", "--format", "%{charset}\n"], capture_output=True, text=True, check=True, timeout=30
        ).stdout
    except (OSError, subprocess.SubprocessError) as exc:
        raise PdfError(f"fontconfig's fc-list is needed to check glyphs: {exc}") from exc
    ranges = []
    for token in out.split():
        lo, _, hi = token.partition("-")
        ranges.append((int(lo, 16), int(hi or lo, 16)))
    merged: list[tuple[int, int]] = []
    for lo, hi in sorted(ranges):
        if merged and lo <= merged[-1][1] + 1:
            merged[-1] = (merged[-1][0], max(merged[-1][1], hi))
        else:
            merged.append((lo, hi))
    return tuple(merged)


def _covered(ch: str) -> bool:
    ranges = installed_coverage()
    i = bisect.bisect_right(ranges, (ord(ch), 0x10FFFF)) - 1
    return i >= 0 and ranges[i][0] <= ord(ch) <= ranges[i][1]


def missing_glyphs(pdf: bytes) -> list[str]:
    """The characters of ``pdf`` drawn without a real glyph, in the order found: written with the missing-glyph
    code, or not covered by any installed font (then only a replacement glyph can have been drawn)."""
    # Imported here: pypdf reads PDFs only to check them (the tests, the glyph check of a report).
    from pypdf import PdfReader

    out: list[str] = []
    reader = PdfReader(io.BytesIO(pdf))
    seen: set[int] = set()
    for page in reader.pages:
        fonts = (page.get("/Resources") or {}).get("/Font") or {}
        for ref in fonts.values():
            font = ref.get_object()
            if id(font) in seen or "/ToUnicode" not in font:
                continue
            seen.add(id(font))
            cmap = font["/ToUnicode"].get_object().get_data()
            for block in _BFCHAR.findall(cmap):
                for cid, uni in _PAIR.findall(block):
                    text = _utf16(uni)
                    if int(cid, 16) in MISSING_CIDS or any(not ch.isspace() and not _covered(ch) for ch in text):
                        out.append(text)
    return out
