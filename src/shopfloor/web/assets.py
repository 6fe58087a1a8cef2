"""The browser libraries (htmx, its SSE extension, ZXing for the terminal's camera scanning), installed from the
npm registry by ``./run`` and served by the application itself: pages load nothing from another origin.  Charts are
not drawn in the browser: the pages carry them as SVG made on the server (``shopfloor.reports.charts``)."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse

from shopfloor.errors import AssetsNotInstalled, AssetUnknown

STATIC = Path(__file__).resolve().parent / "static"
# Pinned by web-assets/package-lock.json.
VENDOR_FILES = {
    "htmx.min.js": "htmx.org/dist/htmx.min.js",
    "sse.js": "htmx-ext-sse/dist/sse.min.js",
    "zxing.min.js": "@zxing/library/umd/index.min.js",
}
CHECKOUT_ASSETS = Path(__file__).resolve().parents[3] / "web-assets" / "node_modules"

router = APIRouter(include_in_schema=False)


@router.get("/static/vendor/{name}")
def vendor(name: str, request: Request) -> FileResponse:
    if name not in VENDOR_FILES:
        raise AssetUnknown(name=name)
    path = (request.app.state.settings.assets or CHECKOUT_ASSETS) / VENDOR_FILES[name]
    if not path.is_file():
        raise AssetsNotInstalled()
    return FileResponse(path, media_type="text/javascript", headers={"Cache-Control": "public, max-age=86400"})
