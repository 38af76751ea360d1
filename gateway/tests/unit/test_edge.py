"""What every request gets at the edge: an X-Request-ID, problem+json errors, a body limit."""

from __future__ import annotations

import json
import logging
import re

import pytest
from starlette.testclient import TestClient

from shared import logs

PROBLEM_JSON = "application/problem+json"
GENERATED_ID = re.compile(r"^[0-9a-f]{32}$")
LIMIT = 64 * 1024


def assert_problem(response, status: int) -> dict:
    assert response.status_code == status
    assert response.headers["content-type"] == PROBLEM_JSON
    body = response.json()
    assert set(body) >= {"type", "title", "status", "detail", "request_id"}
    assert body["status"] == status
    assert body["type"].startswith("https://")
    assert body["request_id"] == response.headers["x-request-id"]
    return body


@pytest.mark.parametrize("path", ["/healthz", "/openapi.json", "/docs", "/no/such/path"])
def test_every_response_has_a_generated_request_id(client: TestClient, path: str):
    response = client.get(path)

    assert GENERATED_ID.match(response.headers["x-request-id"])


def test_each_request_gets_its_own_id(client: TestClient):
    first, second = client.get("/healthz"), client.get("/healthz")

    assert first.headers["x-request-id"] != second.headers["x-request-id"]


@pytest.mark.parametrize("sane", ["abc-123", "7f3c2a1e-0d4b-4f8e-9a51-3c6d2b1e0f99",
                                  "req.1:2_3", "x" * 128])
def test_a_sane_client_request_id_is_kept(client: TestClient, sane: str):
    response = client.get("/healthz", headers={"X-Request-ID": sane})

    assert response.headers["x-request-id"] == sane


@pytest.mark.parametrize("insane", ["", "has space", "x" * 129, "<script>", "a\tb",
                                    "new\\nline", "caf\u00e9"])
def test_an_insane_client_request_id_is_replaced(client: TestClient, insane: str):
    response = client.get("/healthz", headers={"X-Request-ID": insane.encode("latin-1")})

    assert GENERATED_ID.match(response.headers["x-request-id"])


def test_the_client_request_id_is_the_problems_request_id(client: TestClient):
    response = client.get("/no/such/path", headers={"X-Request-ID": "trace-me-42"})

    assert assert_problem(response, 404)["request_id"] == "trace-me-42"


def test_unknown_path_is_a_404_problem(client: TestClient):
    body = assert_problem(client.get("/no/such/path"), 404)

    assert body["title"] == "Not Found"


def test_wrong_method_is_a_405_problem_naming_the_allowed_methods(client: TestClient):
    response = client.post("/healthz")

    assert_problem(response, 405)
    assert response.headers["allow"] == "GET"


def test_an_unexpected_error_is_a_bare_500_with_a_request_id(client: TestClient):
    response = client.get("/test/crash", headers={"X-Request-ID": "crash-1"})

    body = assert_problem(response, 500)
    assert body["request_id"] == "crash-1"
    assert "hunter2" not in response.text
    assert "RuntimeError" not in response.text
    assert "Traceback" not in response.text


def test_a_declared_length_over_64_kib_is_refused_before_the_route_runs(client: TestClient):
    response = client.post("/test/orders", content=b"x" * (LIMIT + 1),
                           headers={"Content-Type": "application/json"})

    assert_problem(response, 413)


def test_the_limit_applies_to_every_path(client: TestClient):
    assert_problem(client.post("/no/such/path", content=b"x" * (LIMIT + 1)), 413)


def test_a_body_of_exactly_64_kib_is_accepted(client: TestClient):
    prefix, suffix = b'{"sku": "', b'", "quantity": 1}'
    body = prefix + b"s" * (LIMIT - len(prefix) - len(suffix)) + suffix
    assert len(body) == LIMIT

    response = client.post("/test/orders", content=body,
                           headers={"Content-Type": "application/json"})

    assert response.status_code == 201


def chunks(total: int, size: int = 8 * 1024):
    sent = 0
    while sent < total:
        part = min(size, total - sent)
        sent += part
        yield b" " * part


def test_a_chunked_body_over_64_kib_is_refused(client: TestClient):
    # A generator body goes out chunked, without Content-Length.
    response = client.post("/test/orders", content=chunks(LIMIT + 1),
                           headers={"Content-Type": "application/json"})

    assert "content-length" not in response.request.headers
    assert_problem(response, 413)


def test_a_chunked_body_within_the_limit_is_read(client: TestClient):
    def body():
        yield b'{"sku": "abc", '
        yield b'"quantity": 2}'

    response = client.post("/test/orders", content=body(),
                           headers={"Content-Type": "application/json"})

    assert response.status_code == 201
    assert response.json() == {"sku": "abc", "quantity": 2}


class JsonLines(logging.Handler):
    """Formats at emit time, while the request's log context is still bound."""

    def __init__(self) -> None:
        super().__init__()
        self.setFormatter(logs.JsonFormatter())
        self.lines: list[dict] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(json.loads(self.format(record)))


def test_an_unexpected_error_is_logged_with_its_request_id(client: TestClient):
    handler = JsonLines()
    logging.getLogger().addHandler(handler)
    try:
        client.get("/test/crash", headers={"X-Request-ID": "crash-2"})
    finally:
        logging.getLogger().removeHandler(handler)

    errors = [line for line in handler.lines if line["level"] == "ERROR"]
    assert len(errors) == 1
    assert errors[0]["request_id"] == "crash-2"
    assert "RuntimeError" in errors[0]["exc"]
