"""HTML to PDF through headless Chromium (Playwright's sync API).

Why Chromium: labels and reports are written once as HTML and CSS, the same template the browser shows on screen
and prints on paper, so there is no second layout engine to keep in step.  Chromium shapes Korean (Hangul) and
Vietnamese (stacked diacritics) correctly with the system fonts from fonts-noto-cjk, embeds them as subsets with a
ToUnicode map (the text stays searchable and copyable), and honours CSS ``@page`` sizes such as a 100 mm x 60 mm
label.  Templates should use ``font-family: "Noto Sans CJK KR", "Noto Sans", sans-serif``.

The browser is Debian's ``/usr/bin/chromium`` unless the environment variable ``SHOPFLOOR_CHROMIUM`` names another
executable.  It runs without network extras (no background networking, component updates, sync or QUIC).

Page size: 1 mm = 72 / 25.4 pt, so 100 mm x 60 mm is 283.46 pt x 170.08 pt; Chromium rounds the paper down to
1/100 inch, giving 282.96 pt x 169.92 pt (3.93 in x 2.36 in).
"""

from __future__ import annotations

import asyncio
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

__all__ = [
    "CHROMIUM_ARGS",
    "CHROMIUM_ENV",
    "DEFAULT_CHROMIUM",
    "FONT_FAMILY",
    "PdfError",
    "chromium_path",
    "html_to_pdf",
]

CHROMIUM_ENV = "SHOPFLOOR_CHROMIUM"
DEFAULT_CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)
FONT_FAMILY = '"Noto Sans CJK KR", "Noto Sans", sans-serif'


class PdfError(RuntimeError):
    """The PDF could not be rendered (Chromium missing, failing to start, or failing to print)."""


def chromium_path() -> str:
    """The Chromium executable: ``$SHOPFLOOR_CHROMIUM`` when set and not empty, else ``/usr/bin/chromium``."""
    return os.environ.get(CHROMIUM_ENV) or DEFAULT_CHROMIUM


def _render(html: str, width_mm: float | None, height_mm: float | None, landscape: bool) -> bytes:
    from playwright.sync_api import Error as PlaywrightError
    from playwright.sync_api import sync_playwright

    executable = chromium_path()
    hint = f"set {CHROMIUM_ENV} to the Chromium executable (default {DEFAULT_CHROMIUM})"
    if not Path(executable).is_file():
        raise PdfError(f"Chromium not found at {executable!r}; {hint}")
    options: dict[str, object] = {"print_background": True, "prefer_css_page_size": True, "landscape": landscape}
    if width_mm is not None and height_mm is not None:
        options["width"] = f"{width_mm}mm"
        options["height"] = f"{height_mm}mm"
    else:
        options["format"] = "A4"
    with sync_playwright() as pw:
        try:
            browser = pw.chromium.launch(executable_path=executable, headless=True, args=list(CHROMIUM_ARGS))
        except PlaywrightError as exc:
            raise PdfError(
                f"Chromium at {executable!r} could not be started; {hint}. Playwright: {exc.message}"
            ) from exc
        try:
            page = browser.new_page()
            page.set_content(html, wait_until="load")
            return page.pdf(**options)
        except PlaywrightError as exc:
            raise PdfError(f"Chromium at {executable!r} failed to print the PDF: {exc.message}") from exc
        finally:
            browser.close()


def html_to_pdf(
    html: str, *, width_mm: float | None = None, height_mm: float | None = None, landscape: bool = False
) -> bytes:
    """Render ``html`` to PDF bytes with headless Chromium.

    The paper is ``width_mm`` x ``height_mm`` when both are given, else A4; a CSS ``@page { size: ... }`` in the
    HTML wins over both (``prefer_css_page_size``).  Backgrounds are printed.  Each call starts and stops its own
    browser.

    Playwright's sync API refuses to run on a thread with a running asyncio loop, so from such a thread the work
    runs in a fresh worker thread and this call blocks until it is done; async code should rather use
    ``await asyncio.to_thread(html_to_pdf, ...)`` to keep its loop responsive.
    """
    if (width_mm is None) != (height_mm is None):
        raise ValueError("give both width_mm and height_mm, or neither (A4)")
    if width_mm is not None and height_mm is not None and (width_mm <= 0 or height_mm <= 0):
        raise ValueError(f"page size must be positive, got {width_mm} x {height_mm} mm")
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return _render(html, width_mm, height_mm, landscape)
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="shopfloor-pdf") as pool:
        return pool.submit(_render, html, width_mm, height_mm, landscape).result()
