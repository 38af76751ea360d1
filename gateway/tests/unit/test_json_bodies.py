"""JSON routes: 415 for other media types, 400 for broken JSON, 422 (with field errors) for
anything the schema refuses, unknown fields included."""

from __future__ import annotations

import pytest
from starlette.testclient import TestClient

PROBLEM_JSON = "application/problem+json"
VALID = b'{"sku": "abc", "quantity": 2}'



@pytest.fixture(params=["/test/orders", "/test/plain/orders"])
def post(request, client: TestClient):
    """POST to a JSON route on the app's router, then on a plainly included router."""

    def send(body: bytes, content_type: str | None = "application/json"):
        headers = {"Content-Type": content_type} if content_type else {}
        return client.post(request.param, content=body, headers=headers)

    return send


def problem(response, status: int) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM_JSON
    body = response.json()
    assert body["status"] == status
    assert body["request_id"] == response.headers["x-request-id"]
    return body


@pytest.mark.parametrize("content_type", ["application/json", "application/json; charset=utf-8",
                                          "Application/JSON", "application/merge-patch+json"])
def test_json_media_types_are_accepted(post, content_type: str):
    response = post(VALID, content_type)

    assert response.status_code == 201
    assert response.json() == {"sku": "abc", "quantity": 2}


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded",
                                          "multipart/form-data; boundary=x", "application/xml",
                                          "text/json-ish", None])
def test_a_non_json_body_is_415(post, content_type: str | None):
    body = problem(post(VALID, content_type), 415)

    assert body["title"] == "Unsupported Media Type"


@pytest.mark.parametrize("broken", [b"{", b'{"sku": "abc",}', b"not json", b'{"sku": \'abc\'}'])
def test_malformed_json_is_400(post, broken: bytes):
    body = problem(post(broken), 400)

    assert "errors" not in body


def test_an_unknown_field_is_422_naming_it(post):
    response = post(b'{"sku": "abc", "quantity": 2, "is_admin": true}')

    body = problem(response, 422)
    assert [error["field"] for error in body["errors"]] == ["is_admin"]
    assert all(set(error) == {"field", "message"} and error["message"]
               for error in body["errors"])


def test_schema_violations_are_422_with_one_error_per_field(post):
    body = problem(post(b'{"quantity": "many"}'), 422)

    assert sorted(error["field"] for error in body["errors"]) == ["quantity", "sku"]


def test_a_json_body_that_is_not_an_object_is_422(post):
    body = problem(post(b"[1, 2]"), 422)

    assert body["errors"]


def test_validation_problems_echo_no_input_back(post):
    response = post(b'{"sku": "abc", "quantity": 2, "password": "hunter2"}')

    problem(response, 422)
    assert "hunter2" not in response.text
