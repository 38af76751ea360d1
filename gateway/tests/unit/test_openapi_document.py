"""The OpenAPI document is good enough to generate a client from (docs/api/README.md): valid,
named operations, every header and error the gateway sends, nothing it never sends."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from openapi_spec_validator import validate
from starlette.testclient import TestClient

METHODS = ("get", "post", "put", "patch", "delete")
Operation = tuple[str, str, dict[str, Any]]


@pytest.fixture
def document(app: FastAPI) -> dict[str, Any]:
    return TestClient(app).get("/openapi.json").json()


def operations(document: dict[str, Any]) -> Iterator[Operation]:
    for path, item in document["paths"].items():
        for method in METHODS:
            if method in item:
                yield path, method, item[method]


def find(document: dict[str, Any], operation_id: str) -> dict[str, Any]:
    return next(op for _, _, op in operations(document) if op["operationId"] == operation_id)


def headers_of(operation: dict[str, Any], status: str) -> set[str]:
    return set(operation["responses"][status].get("headers", {}))


def test_the_document_is_valid_openapi_3_1(document: dict[str, Any]):
    validate(document)
    assert document["openapi"].startswith("3.1")
    assert len(list(operations(document))) >= 20


def test_every_operation_is_named_tagged_and_described(document: dict[str, Any]):
    ids = [op["operationId"] for _, _, op in operations(document)]
    assert len(ids) == len(set(ids))
    for path, method, op in operations(document):
        # Chosen, not FastAPI's `list_products_products_get`: camelCase, no path in it.
        assert re.fullmatch(r"[a-z][A-Za-z]+", op["operationId"]), (method, path)
        assert op["tags"] and op["summary"] and op["description"], (method, path)
    described_tags = {tag["name"] for tag in document["tags"] if tag["description"]}
    assert {tag for _, _, op in operations(document) for tag in op["tags"]} <= described_tags


def test_every_request_body_has_an_example(document: dict[str, Any]):
    bodies = [(path, op["requestBody"]["content"]["application/json"])
              for path, _, op in operations(document) if "requestBody" in op]
    assert len(bodies) >= 10
    for path, media in bodies:
        assert isinstance(media.get("example"), dict), path


def test_errors_are_problems_on_problem_json_only(document: dict[str, Any]):
    seen = set()
    for path, method, op in operations(document):
        for status, response in op["responses"].items():
            if int(status) < 400:
                continue
            seen.add(int(status))
            assert list(response["content"]) == ["application/problem+json"], (method, path)
            ref = response["content"]["application/problem+json"]["schema"]["$ref"]
            assert ref.rsplit("/", 1)[1] in document["components"]["schemas"]
    assert seen >= {400, 401, 402, 403, 404, 409, 412, 413, 415, 422, 429, 503, 504}
    assert "HTTPValidationError" not in str(document)


def test_no_422_on_operations_that_never_validate_anything(document: dict[str, Any]):
    # Ids there are plain strings: a bad one is a 404 problem (tests/fuzz checks the answers).
    for operation_id in ("getProduct", "deleteProduct", "getPayment", "getOverview", "getMe"):
        assert "422" not in find(document, operation_id)["responses"], operation_id


def test_every_response_documents_the_headers_the_edge_sends(document: dict[str, Any]):
    for path, method, op in operations(document):
        for status, response in op["responses"].items():
            names = set(response["headers"])
            assert "X-Request-ID" in names, (method, path, status)
            limited = path not in ("/healthz", "/readyz", "/metrics")
            assert limited == ("RateLimit-Remaining" in names), (method, path, status)
            if status in ("429", "503", "504"):
                assert "Retry-After" in names, (method, path, status)
            if status == "401":
                assert "WWW-Authenticate" in names, (method, path, status)
    components = document["components"]["headers"]
    assert components["X-Request-ID"]["required"] is True


def test_route_specific_headers_and_the_catalog_rate_limit(document: dict[str, Any]):
    assert "ETag" in headers_of(find(document, "getProduct"), "200")
    assert "ETag" in headers_of(find(document, "getProduct"), "304")
    assert {"ETag", "Location"} <= headers_of(find(document, "createProduct"), "201")
    assert "ETag" in headers_of(find(document, "updateProduct"), "200")
    assert {"Location", "Idempotent-Replayed"} <= headers_of(find(document, "checkout"), "201")
    assert "Idempotent-Replayed" in headers_of(find(document, "refundPayment"), "201")
    for path, _, op in operations(document):
        if "catalog" in op["tags"]:
            assert "429" in op["responses"], path


def _patterns(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "pattern" and isinstance(value, str):
                yield value
            else:
                yield from _patterns(value)
    elif isinstance(node, list):
        for value in node:
            yield from _patterns(value)


def test_no_pattern_reaches_beyond_the_basic_multilingual_plane(document: dict[str, Any]):
    patterns = list(_patterns(document))
    assert any("\\u200b" in pattern for pattern in patterns)  # display_name's is among them
    for pattern in patterns:
        assert all(ord(ch) <= 0xFFFF for ch in pattern), pattern
        assert not re.search(r"\\U|\\u\{|\\x\{", pattern), pattern


@pytest.mark.parametrize("name", ["Ada\U000e0001", "\U000f0000", "x\U0001d173"])
def test_display_names_beyond_the_plane_are_still_refused(app: FastAPI, name: str):
    body = {"email": "ada@example.com", "password": "correct horse battery",
            "display_name": name}

    response = TestClient(app).post("/auth/register", json=body)

    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["errors"][0]["field"] == "display_name"
