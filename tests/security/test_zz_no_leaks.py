"""No error answer carries a stack trace or exception text.

First the requests that used to end in a 500 (found by tests/fuzz and these tests): U+0000 in
text PostgreSQL stores or searches, stock pushed past a 32-bit integer, a checkout total past a
64-bit one. They are 4xx problems now. Then every error response any test of tests/security
received (conftest.SEEN; this module's name sorts it last) is scanned for tracebacks, exception
class names and driver messages. Every 5xx among them must be the bare problem document.
"""

from __future__ import annotations

import re
import uuid

from tests.security.conftest import SEEN, Actor
from tests.security.test_bola_matrix import problem

LEAKS = re.compile(
    r"Traceback|File \"|\b[A-Z][A-Za-z]*(Error|Exception)\b|psycopg|sqlalchemy|asyncpg|"
    r"nameko|kombu|pydantic_core|eventlet|NUL \(0x00\)|out of range|/work/|site-packages")
# Wording of our own problem titles that the pattern above would otherwise flag.
OWN_TITLES = {"Internal Server Error"}


def test_text_with_nul_is_a_422_not_a_500(http, admin: Actor, product):
    cases = [
        ("POST", "/auth/login", {"json": {"email": "a\u0000b@example.com", "password": "pw"}}),
        ("GET", "/products", {"params": {"q": "lamp\u0000"}}),
        ("GET", "/products", {"params": {"category": "x\u0000"}}),
        ("POST", "/products", {"json": {"sku": f"NUL-{uuid.uuid4().hex[:6]}", "name": "a\u0000",
                                        "price": 1}, "headers": admin.headers}),
        ("PATCH", f"/products/{product['id']}", {"json": {"description": "\u0000"},
                                                 "headers": admin.headers}),
        ("POST", f"/products/{product['id']}/stock", {"json": {"delta": 1, "reason": "\u0000"},
                                                       "headers": admin.headers}),
    ]
    for method, path, kwargs in cases:
        problem(http.request(method, path, **kwargs), 422)


def test_stock_beyond_the_maximum_is_a_409_not_a_500(http, admin: Actor):
    created = http.post("/products", headers=admin.headers, json={
        "sku": f"BIG-{uuid.uuid4().hex[:8]}", "name": "Warehouse", "price": 1,
        "stock": 900_000_000})
    assert created.status_code == 201, created.text
    path = f"/products/{created.json()['id']}/stock"
    body = {"delta": 1_000_000_000, "reason": "delivery"}
    for _ in range(3):  # on_hand is a 32-bit integer in PostgreSQL: 2.9e9 would overflow it
        conflict = problem(http.post(path, headers=admin.headers, json=body), 409)
        assert "maximum" in conflict["detail"]
    topped = http.post(path, headers=admin.headers, json={"delta": 100_000_000, "reason": "top"})
    assert topped.status_code == 200 and topped.json()["available"] == 1_000_000_000


def test_a_total_beyond_64_bits_is_a_422_not_a_500(http, admin: Actor, alice: Actor):
    created = http.post("/products", headers=admin.headers, json={
        "sku": f"DEAR-{uuid.uuid4().hex[:8]}", "name": "Island", "price": 10**15, "stock": 10**6})
    assert created.status_code == 201, created.text
    before = http.get("/payments", headers=alice.headers).json()["items"]
    for quantity in (2, 1000):  # 10^18 fits 64 bits; 10 such lines would not
        items = [{"product_id": created.json()["id"], "quantity": quantity}] * 10
        response = http.post("/payments", json={"items": items, "payment_method": "tok_visa"},
                             headers={**alice.headers, "Idempotency-Key": uuid.uuid4().hex})
        assert "items" in {e["field"] for e in problem(response, 422)["errors"]}
    assert http.get("/payments", headers=alice.headers).json()["items"] == before


def test_no_response_leaks_internals():
    assert len(SEEN) > 100, "runs after the other security tests"
    errors = [response for response in SEEN if response.status_code >= 400]
    assert len(errors) > 50
    for response in errors:
        text = response.text
        for title in OWN_TITLES:
            text = text.replace(title, "")
        found = LEAKS.search(text)
        assert found is None, (response.request.method, str(response.request.url),
                               response.status_code, found.group(0), response.text[:300])
        if response.status_code >= 500:
            body = response.json()
            assert set(body) <= {"type", "title", "status", "detail", "request_id"}, body
