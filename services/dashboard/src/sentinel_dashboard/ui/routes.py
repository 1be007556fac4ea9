"""``GET /`` (the dashboard page) and ``GET /ui/{file}`` (its scripts, styles and icons).

The assets are plain files committed under ``static/`` (no build step); they are read once when the app is
built and served from memory, so only those exact names exist (no path ever reaches the file system). Every
answer carries a strict Content-Security-Policy (scripts and styles from this origin only, no inline code, no
framing) and the usual hardening headers. The page talks to the API with the dashboard token the user pastes,
kept in the tab's ``sessionStorage``; live updates use ``POST /api/sse-tokens`` and ``EventSource``.
"""

from __future__ import annotations

import hashlib
import mimetypes
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

from litestar import Request, Response, get
from litestar.params import Parameter
from litestar.types import ControllerRouterHandler

from sentinel_service import ApiError

STATIC_DIR = Path(__file__).parent / "static"

CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "font-src 'self'",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'none'",
    )
)

SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=(), usb=()",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
}

_TYPES = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8", ".svg": "image/svg+xml"}


@dataclass(frozen=True, slots=True)
class Asset:
    body: bytes
    media_type: str
    etag: str


def load_assets(directory: Path = STATIC_DIR) -> dict[str, Asset]:
    """Every file under ``directory`` by its relative POSIX path."""
    assets = {}
    for path in sorted(directory.rglob("*")):
        if not path.is_file():
            continue
        body = path.read_bytes()
        media_type = _TYPES.get(path.suffix) or mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        if media_type == "text/html":
            media_type = "text/html; charset=utf-8"
        etag = '"' + hashlib.sha256(body).hexdigest()[:20] + '"'
        assets[path.relative_to(directory).as_posix()] = Asset(body=body, media_type=media_type, etag=etag)
    return assets


def _answer(request: Request[Any, Any, Any], asset: Asset) -> Response[bytes]:
    headers = {**SECURITY_HEADERS, "ETag": asset.etag, "Cache-Control": "no-cache"}
    if request.headers.get("if-none-match") == asset.etag:
        return Response(b"", status_code=304, headers=headers)
    return Response(asset.body, media_type=asset.media_type, headers=headers)


def ui_handlers(directory: Path = STATIC_DIR) -> list[ControllerRouterHandler]:
    """The page and asset routes, serving the files of ``directory``."""
    assets = load_assets(directory)
    if "index.html" not in assets:
        raise RuntimeError(f"the dashboard page is missing: no index.html in {directory}")

    @get("/", include_in_schema=False, sync_to_thread=False)
    def dashboard_page(request: Request[Any, Any, Any]) -> Response[bytes]:
        """The dashboard page."""
        return _answer(request, assets["index.html"])

    @get("/ui/{name:path}", include_in_schema=False, sync_to_thread=False)
    def dashboard_asset(
        request: Request[Any, Any, Any], name: Annotated[str, Parameter(max_length=200)]
    ) -> Response[bytes]:
        """A script, stylesheet or icon of the dashboard page."""
        asset = assets.get(name.lstrip("/"))
        if asset is None or name.endswith(".html"):
            raise ApiError(404, f"no dashboard asset {name!r}", field="name")
        return _answer(request, asset)

    return [dashboard_page, dashboard_asset]
