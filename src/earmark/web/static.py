"""The site's static files under content-hashed names: ``/static/site.<hash>.css``.

The name changes whenever the content does, so a file can be cached for a year
(``immutable``) and a new release is never served stale. The files ship in the package
(``earmark/web/static/``, read once per process); only the hashed names of those files are
served, any other name is the 404 page.
"""

from __future__ import annotations

import hashlib
import mimetypes
from dataclasses import dataclass
from importlib import resources
from pathlib import PurePosixPath

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

PREFIX = "/static/"
CACHE_CONTROL = "public, max-age=31536000, immutable"
_TYPES = {
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
}
_HASH_CHARS = 12


@dataclass(frozen=True)
class Asset:
    body: bytes
    media_type: str


class StaticFiles:
    """Every file of a package's ``static`` directory, by plain and by hashed name."""

    def __init__(self, package: str = "earmark.web") -> None:
        self._urls: dict[str, str] = {}
        self._assets: dict[str, Asset] = {}
        folder = resources.files(package) / "static"
        for entry in sorted(folder.iterdir(), key=lambda e: e.name):
            if not entry.is_file() or entry.name.startswith("."):
                continue
            body = entry.read_bytes()
            digest = hashlib.sha256(body).hexdigest()[:_HASH_CHARS]
            path = PurePosixPath(entry.name)
            hashed = f"{path.stem}.{digest}{path.suffix}"
            media_type = _TYPES.get(path.suffix) or (
                mimetypes.guess_type(entry.name)[0] or "application/octet-stream"
            )
            self._urls[entry.name] = PREFIX + hashed
            self._assets[hashed] = Asset(body, media_type)

    def url(self, name: str) -> str:
        """The hashed URL of the static file ``name`` (e.g. ``site.css``)."""
        try:
            return self._urls[name]
        except KeyError:
            raise KeyError(f"no static file {name!r} in earmark/web/static") from None

    def names(self) -> list[str]:
        return sorted(self._urls)

    async def serve(self, request: Request) -> Response:
        asset = self._assets.get(request.path_params["name"])
        if asset is None:
            raise HTTPException(404)
        return Response(
            asset.body, media_type=asset.media_type, headers={"Cache-Control": CACHE_CONTROL}
        )

    async def favicon(self, request: Request) -> Response:
        # Browsers ask for /favicon.ico whatever the page links: send them to the real icon.
        return RedirectResponse(self.url("favicon.svg"), status_code=301)

    def routes(self) -> list[BaseRoute]:
        return [
            Route(PREFIX + "{name}", self.serve, methods=["GET", "HEAD"], name="static"),
            Route("/favicon.ico", self.favicon, methods=["GET", "HEAD"], name="favicon"),
        ]
