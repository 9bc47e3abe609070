"""The OpenAPI document and the page that renders it."""

from __future__ import annotations

import hashlib
import json
import re

from chalice.test import Client

from chalicelib.api.docs import SWAGGER_UI_DIR
from tests.support.api import Api


def test_the_document_is_openapi_31_and_lists_every_route(client: Client, anonymous: Api) -> None:
    from app import app

    answer = anonymous.get("/v1/openapi.json")

    assert answer.status == 200
    document = answer.json
    assert document["openapi"] == "3.1.0"
    listed = {(m.upper(), p) for p, ops in document["paths"].items() for m in ops}
    routes = {(m, p) for p, methods in app.routes.items() for m in methods}
    assert listed == routes
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            assert operation.get("operationId"), (method, path)
            assert operation.get("responses"), (method, path)


def test_the_document_references_only_defined_schemas(anonymous: Api) -> None:
    document = anonymous.get("/v1/openapi.json").json
    text = anonymous.get("/v1/openapi.json").text

    refs = set(re.findall(r'"#/components/schemas/([^"]+)"', text))
    assert refs <= set(document["components"]["schemas"])
    create = document["paths"]["/v1/customers"]["post"]
    assert create["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith(
        "/CustomerCreate"
    )
    assert "409" in create["responses"] and "422" in create["responses"]
    email = document["components"]["schemas"]["CustomerCreate"]["properties"]["email"]
    assert "unique" in str(email).lower()
    parameters = {p["name"] for p in document["paths"]["/v1/customers"]["get"]["parameters"]}
    assert {"limit", "cursor", "email", "phone", "external_id", "tag"} <= parameters


def test_the_docs_page_loads_its_assets_from_the_service(anonymous: Api) -> None:
    page = anonymous.get("/docs")

    assert page.status == 200 and page.content_type.startswith("text/html")
    sources = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert sources and all(not s.startswith(("http:", "https:", "//")) for s in sources)
    for source in sources:
        asset = anonymous.get("/" + source)
        assert asset.status == 200, source
        assert len(asset.text) > 100
    anonymous.get("/docs/nope.js").problem(404)


def test_every_operation_documents_the_problems_it_can_answer(anonymous: Api) -> None:
    from chalicelib.api.access import ACCESS

    # Given the served document
    document = anonymous.get("/v1/openapi.json").json

    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            documented = set(operation["responses"])
            where = (method, path)
            # Then a keyed call may be refused, limited or find the store unavailable
            if ACCESS[(method.upper(), path)].public:
                assert not documented & {"401", "403", "429"}, where
            else:
                assert documented >= {"401", "403", "429", "503"}, where
            # and a body may be too large or not JSON, an id in the path not found
            if "requestBody" in operation:
                assert documented >= {"413", "415"}, where
            if "{" in path:
                assert "404" in documented, where
            assert documented >= {"400", "422"} and "500" not in documented, where
            for status in {s for s in documented if s >= "400"}:
                content = operation["responses"][status]["content"]
                assert list(content) == ["application/problem+json"], (*where, status)


def test_the_docs_page_serves_the_vendored_pinned_swagger_ui(anonymous: Api) -> None:
    # Given the vendored Swagger UI files and their manifest (version and sha256 of each)
    manifest = json.loads((SWAGGER_UI_DIR / "manifest.json").read_text())

    # When the service serves each of them
    served = {name: anonymous.get(f"/docs/{name}") for name in manifest["sha256"]}

    # Then each is the pinned file, byte for byte, and the files on disk match the manifest
    assert manifest["package"] == "swagger-ui-dist" and manifest["version"]
    for name, digest in manifest["sha256"].items():
        assert hashlib.sha256((SWAGGER_UI_DIR / name).read_bytes()).hexdigest() == digest, name
        assert served[name].status == 200, name
        assert hashlib.sha256(served[name].text.encode()).hexdigest() == digest, name
