"""``/docs``: Swagger UI for ``/openapi.json``, served from a pip package, never a CDN.

The ``swagger-ui-bundle`` package ships Swagger UI's built assets; they are
mounted at ``/docs/assets`` and the page below loads only those and the
document. Like ``/openapi.json`` it needs no key; "Authorize" takes a key for
the calls tried from the page (the document declares bearer auth).
"""

from __future__ import annotations

from pathlib import Path

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

PAGE = """<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>riskdrift API</title>
  <link rel="stylesheet" href="/docs/assets/swagger-ui.css">
</head>
<body>
  <div id="swagger-ui"></div>
  <script src="/docs/assets/swagger-ui-bundle.js"></script>
  <script src="/docs/assets/swagger-ui-standalone-preset.js"></script>
  <script src="/docs/init.js"></script>
</body>
</html>
"""

# In a file of its own rather than inline, so a strict Content-Security-Policy can apply.
INIT_JS = """window.ui = SwaggerUIBundle({
  url: "/openapi.json",
  dom_id: "#swagger-ui",
  presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset],
  layout: "StandaloneLayout",
  persistAuthorization: true,
});
"""


def assets_dir() -> Path:
    """Swagger UI's bundled assets, from the installed ``swagger-ui-bundle`` package."""
    import swagger_ui_bundle  # ships no py.typed: see the mypy overrides

    return Path(str(swagger_ui_bundle.swagger_ui_path))


async def docs_page(request: Request) -> HTMLResponse:
    """``GET /docs``: the Swagger UI page."""
    return HTMLResponse(PAGE)


async def init_js(request: Request) -> Response:
    """``GET /docs/init.js``: starts Swagger UI on ``/openapi.json``."""
    return Response(INIT_JS, media_type="text/javascript")


def docs_routes() -> list[BaseRoute]:
    """The routes to add to the app; the page is the document's viewer, not in it."""
    return [
        Route("/docs", docs_page, methods=["GET"], include_in_schema=False),
        Route("/docs/init.js", init_js, methods=["GET"], include_in_schema=False),
        Mount("/docs/assets", StaticFiles(directory=assets_dir()), name="docs-assets"),
    ]
