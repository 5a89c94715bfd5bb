"""Serving the built web UI (web/dist), with a plain page when it is not built."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, HTMLResponse, Response
from starlette.staticfiles import StaticFiles

NOT_BUILT = """<!doctype html><html><head><meta charset="utf-8"><title>Relay</title></head>
<body style="font-family:system-ui;margin:3rem">
<h1>Relay is running</h1>
<p>The web UI is not built. Run <code>./relay up</code>, which builds it, or
<code>npm --prefix web ci && npm --prefix web run build</code>.</p>
<p>API docs: <a href="/api/docs">/api/docs</a></p></body></html>"""


def mount_web(app: FastAPI, dist: Path | None) -> None:
    index = dist / "index.html" if dist else None
    if dist is not None and index is not None and index.is_file():
        root = dist.resolve()
        files = {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()}
        if (dist / "assets").is_dir():
            app.mount("/assets", StaticFiles(directory=dist / "assets"), name="assets")

        @app.get("/{path:path}", include_in_schema=False)
        async def spa(path: str, request: Request) -> Response:
            if path.startswith("api/"):
                return Response(status_code=404)
            # Only files that were in the build at start: no path tricks, no disk look-ups.
            if path in files:
                return FileResponse(root / path)
            return FileResponse(index)
    else:

        @app.get("/", include_in_schema=False)
        async def plain() -> HTMLResponse:
            return HTMLResponse(NOT_BUILT)
