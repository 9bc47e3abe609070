"""The API's own description: the OpenAPI document and a Swagger UI page to read it.

Swagger UI's files are vendored in chalicelib/api/swagger_ui/ (a pinned `swagger-ui-dist`,
see its manifest.json and devtools/vendor_swagger_ui.py) and served from here, so the page
loads nothing from the internet.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

from chalicelib.api.routing import Call, Operations, Reply
from chalicelib.domain.errors import NotFound

docs_api = Operations(__name__)

_ASSETS = {
    "swagger-ui.css": "text/css; charset=utf-8",
    "swagger-ui-bundle.js": "application/javascript; charset=utf-8",
    "swagger-ui-standalone-preset.js": "application/javascript; charset=utf-8",
}

_PAGE = """<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>Customer operations API</title>
  <link rel="stylesheet" href="docs/swagger-ui.css">
</head>
<body>
  <div id="swagger-ui"></div>
  <script src="docs/swagger-ui-bundle.js"></script>
  <script src="docs/swagger-ui-standalone-preset.js"></script>
  <script src="docs/init.js"></script>
</body>
</html>
"""

_INIT = """window.ui = SwaggerUIBundle({
  url: "v1/openapi.json",
  dom_id: "#swagger-ui",
  deepLinking: true,
  presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset],
  layout: "StandaloneLayout"
});
"""


SWAGGER_UI_DIR = Path(__file__).resolve().parent / "swagger_ui"


@lru_cache(maxsize=len(_ASSETS))
def _asset(name: str) -> str:
    return (SWAGGER_UI_DIR / name).read_text(encoding="utf-8")


@lru_cache(maxsize=1)
def _openapi_json() -> str:
    from chalicelib.api.openapi import build_openapi

    return json.dumps(build_openapi())


@docs_api.operation("GET", "/v1/openapi.json", summary="OpenAPI document", tag="docs")
def openapi_document(call: Call[None, None]) -> Reply:
    """This API's OpenAPI 3.1 description, generated from its routes and schemas."""
    return Reply(_openapi_json())


@docs_api.operation(
    "GET", "/docs", summary="API reference page", tag="docs", media_type="text/html"
)
def docs_page(call: Call[None, None]) -> Reply:
    """A Swagger UI page rendering the OpenAPI document."""
    return Reply(_PAGE, content_type="text/html; charset=utf-8")


@docs_api.operation(
    "GET", "/docs/{asset}", summary="API reference page assets", tag="docs", extra_responses=(404,)
)
def docs_asset(call: Call[None, None], asset: str) -> Reply:
    if asset == "init.js":
        return Reply(_INIT, content_type="application/javascript; charset=utf-8")
    if asset not in _ASSETS:
        raise NotFound(f"no such asset: {asset}")
    headers = {"Cache-Control": "public, max-age=86400"}
    return Reply(_asset(asset), headers=headers, content_type=_ASSETS[asset])
