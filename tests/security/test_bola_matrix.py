"""Object- and function-level authorisation over every protected route of the gateway.

- Someone else's object is 404, never 403 (http-api.md: never reveal existence): Bob against
  Alice's payment. Alice against her own payment's refund is 403 (refunds are for admins).
- A customer on an admin route is 403, and nothing changed.
- No token is 401 with `WWW-Authenticate: Bearer`, on every route that needs one, listed from
  the OpenAPI document so that a new protected route cannot be missed.
"""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from tests.security.conftest import Actor

PROBLEM = "application/problem+json"


def problem(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, (response.request.method, response.request.url,
                                            response.status_code, response.text)
    assert response.headers["content-type"].startswith(PROBLEM)
    body = response.json()
    assert body["status"] == status
    return dict(body)


def key() -> dict[str, str]:
    return {"Idempotency-Key": uuid.uuid4().hex}


def test_another_customers_payment_is_404(http, bob: Actor, alices_payment):
    pid = alices_payment["id"]
    missing = problem(http.get(f"/payments/{uuid.uuid4()}", headers=bob.headers), 404)
    theirs = problem(http.get(f"/payments/{pid}", headers=bob.headers), 404)
    # Indistinguishable from a payment that does not exist (beyond the request id).
    assert {k: v for k, v in theirs.items() if k not in ("request_id", "detail")} \
        == {k: v for k, v in missing.items() if k not in ("request_id", "detail")}
    assert pid not in theirs["detail"]
    problem(http.post(f"/payments/{pid}/refunds", headers={**bob.headers, **key()}, json={}),
            404)
    listed = http.get("/payments", headers=bob.headers).json()["items"]
    assert pid not in {p["id"] for p in listed}


def test_a_customer_cannot_list_someone_elses_payments(http, alice, bob, alices_payment):
    response = http.get("/payments", params={"user_id": alice.id}, headers=bob.headers)
    problem(response, 403)
    assert alices_payment["id"] not in response.text


def test_the_owner_cannot_refund_her_own_payment(http, alice, admin, alices_payment):
    pid = alices_payment["id"]
    problem(http.post(f"/payments/{pid}/refunds", headers={**alice.headers, **key()},
                      json={}), 403)
    assert http.get(f"/payments/{pid}", headers=alice.headers).json()["refunded_amount"] == 0
    # The owner and an admin read it; only those two.
    assert http.get(f"/payments/{pid}", headers=alice.headers).status_code == 200
    assert http.get(f"/payments/{pid}", headers=admin.headers).status_code == 200


def test_a_customer_on_admin_routes_is_403_and_nothing_changes(http, admin, alice, bob,
                                                                product):
    pid = product["id"]
    before = http.get(f"/products/{pid}").json()
    attempts = [
        ("PUT", f"/auth/users/{bob.id}/roles", {"roles": ["admin"]}),
        ("PUT", f"/auth/users/{alice.id}/roles", {"roles": ["admin", "customer"]}),
        ("POST", "/products", {"sku": f"EVIL-{uuid.uuid4().hex[:8]}", "name": "x", "price": 1}),
        ("PATCH", f"/products/{pid}", {"price": 1}),
        ("DELETE", f"/products/{pid}", None),
        ("POST", f"/products/{pid}/stock", {"delta": -50, "reason": "theft"}),
    ]
    for method, path, body in attempts:
        problem(http.request(method, path, headers=alice.headers, json=body), 403)
    assert http.get(f"/products/{pid}").json() == before
    for actor in (alice, bob):
        me = http.get("/auth/me", headers=actor.headers).json()
        assert me["roles"] == ["customer"]
    # A fresh token does not carry admin either (roles are read at login).
    fresh = http.post("/auth/refresh", json={"refresh_token": alice.refresh_token})
    assert fresh.status_code == 200
    alice.refresh_token = fresh.json()["refresh_token"]
    alice.token = fresh.json()["access_token"]
    problem(http.post("/products", headers=alice.headers,
                      json={"sku": "EVIL-2", "name": "x", "price": 1}), 403)


def _protected_operations(document: dict[str, Any]) -> list[tuple[str, str]]:
    found = []
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            if operation.get("security"):
                found.append((method.upper(), path))
    return found


def test_every_protected_route_without_a_token_is_401_with_www_authenticate(http, product):
    document = http.get("/openapi.json").json()
    operations = _protected_operations(document)
    assert set(operations) >= {
        ("GET", "/auth/me"), ("PUT", "/auth/users/{id}/roles"), ("POST", "/products"),
        ("PATCH", "/products/{product_id}"), ("DELETE", "/products/{product_id}"),
        ("POST", "/products/{product_id}/stock"), ("POST", "/payments"), ("GET", "/payments"),
        ("GET", "/payments/{payment_id}"), ("POST", "/payments/{payment_id}/refunds"),
        ("GET", "/me/overview")}, operations
    filler = {"id": str(uuid.uuid4()), "product_id": product["id"],
              "payment_id": str(uuid.uuid4())}
    for method, template in operations:
        path = template.format(**filler)
        for headers in ({}, {"Authorization": "Bearer"}, {"Authorization": "Token abc"}):
            response = http.request(method, path, headers={**headers, **key()}, json={})
            problem(response, 401)
            assert response.headers["www-authenticate"].startswith("Bearer"), (method, path)


@pytest.mark.parametrize("path", ["/products", "/auth/jwks.json", "/healthz"])
def test_public_reads_need_no_token(http, path):
    assert http.get(path).status_code == 200
