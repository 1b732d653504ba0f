"""`/static/{file}`: the CSS, htmx and the copy-button script shipped inside the package."""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

STATIC_DIR = Path(__file__).parent / "static"
_CONTENT_TYPES = {".css": "text/css", ".js": "text/javascript", ".txt": "text/plain"}


def static_routes(app: web.Application) -> None:
    files = {path.name: path for path in STATIC_DIR.iterdir() if path.suffix in _CONTENT_TYPES}

    async def serve(request: web.Request) -> web.StreamResponse:
        path = files.get(request.match_info["name"])  # only files that ship: no path from input
        if path is None:
            raise web.HTTPNotFound(text="not found")
        return web.FileResponse(
            path,
            headers={
                "Content-Type": _CONTENT_TYPES[path.suffix],
                "Cache-Control": "public, max-age=86400",
                "X-Content-Type-Options": "nosniff",
            },
        )

    app.router.add_get("/static/{name}", serve)
