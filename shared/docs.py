"""The OpenAPI documentation page (Swagger UI) served from the app itself: its scripts and
styles come from the swagger-ui-bundle-v2 package, so /api/docs works without internet and
under a Content-Security-Policy that allows scripts from the site only (no inline script)."""

from __future__ import annotations

from html import escape
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, HTMLResponse, Response
from swagger_ui_bundle import swagger_ui_path

from shared.problems import problem_response

ASSETS = {
    "swagger-ui.css": (Path(swagger_ui_path) / "swagger-ui.css", "text/css; charset=utf-8"),
    "swagger-ui-bundle.js": (
        Path(swagger_ui_path) / "swagger-ui-bundle.js",
        "text/javascript; charset=utf-8",
    ),
    "favicon-32x32.png": (Path(swagger_ui_path) / "favicon-32x32.png", "image/png"),
    # Starts Swagger UI on the schema the page names (an inline script would need the CSP's
    # 'unsafe-inline').
    "start.js": (Path(__file__).parent / "static" / "docs.js", "text/javascript; charset=utf-8"),
}
PAGE = """<!doctype html>
<html lang="sv">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} – API-dokumentation</title>
<link rel="stylesheet" href="{docs}/swagger-ui.css">
<link rel="icon" type="image/png" href="{docs}/favicon-32x32.png">
</head>
<body>
<div id="swagger-ui" data-openapi-url="{openapi}"></div>
<script src="{docs}/swagger-ui-bundle.js"></script>
<script src="{docs}/start.js"></script>
</body>
</html>
"""


def install(app: FastAPI, *, docs_url: str, openapi_url: str) -> None:
    """Serve the documentation of `app`'s schema at `docs_url` and its assets below it."""

    @app.get(docs_url, include_in_schema=False)
    def docs_page(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        return HTMLResponse(
            PAGE.format(
                title=escape(app.title),
                docs=escape(root + docs_url),
                openapi=escape(root + openapi_url),
            )
        )

    @app.get(docs_url + "/{name}", include_in_schema=False)
    def docs_asset(name: str) -> Response:
        if name not in ASSETS:
            return problem_response(404, "Filen finns inte.")
        path, media_type = ASSETS[name]
        # The package's files change only with its version: a day in caches is safe.
        return FileResponse(
            path, media_type=media_type, headers={"Cache-Control": "public, max-age=86400"}
        )
