"""No mass assignment: a valid body plus one field the route does not take (`roles`, `id`,
`version`, `user_id`, `status`, `amount`, ...) is 422 naming the field, on every JSON route, and
changes nothing. The routes come from the OpenAPI document: a new JSON route fails
`test_every_json_route_is_covered` until it has a valid body here.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from tests.security.conftest import PASSWORD, Actor, checkout
from tests.security.test_bola_matrix import problem

EXTRAS = {"roles": ["admin"], "id": str(uuid.uuid4()), "version": 99,
          "user_id": str(uuid.uuid4()), "status": "refunded", "amount": 1, "is_admin": True,
          "price": 1, "available": 10**6, "on_hand": 10**6, "reserved": 0, "refunded_amount": 0,
          "created_at": "2020-01-01T00:00:00Z", "deleted": True, "currency": "EUR"}


def _json_bodies(document: dict[str, Any]) -> dict[tuple[str, str], set[str]]:
    """(method, path template) -> the fields its JSON body takes."""
    found = {}
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            content = operation.get("requestBody", {}).get("content", {})
            if "application/json" in content:
                schema = content["application/json"]["schema"]
                # An optional body is {anyOf: [{$ref}, {type: null}]}.
                for option in schema.get("anyOf", [schema]):
                    if "$ref" in option:
                        name = option["$ref"].rsplit("/", 1)[1]
                        found[(method.upper(), path)] = set(
                            document["components"]["schemas"][name]["properties"])
    return found


@pytest.fixture
def victim(fresh_customer) -> Actor:
    return fresh_customer()


@pytest.fixture
def new_email() -> str:
    return f"mass-{uuid.uuid4().hex[:10]}@example.com"


@pytest.fixture
def world(http, admin: Actor, alice: Actor, alices_payment, product, victim: Actor,
          new_email: str):
    """Valid bodies per route and how to read back the state each one could change."""
    pid, payment = product["id"], alices_payment["id"]
    roles = lambda: http.get("/auth/me", headers=victim.headers).json()  # noqa: E731
    item = lambda: http.get(f"/products/{pid}").json()  # noqa: E731
    paid = lambda: http.get(f"/payments/{payment}", headers=admin.headers).json()  # noqa: E731
    mine = lambda: http.get("/payments", headers=alice.headers).json()["items"]  # noqa: E731
    email = new_email
    return {
        # Checked once at the end (registering the email then still works): probing it here
        # with sign-ins would count as failed attempts and lock it.
        ("POST", "/auth/register"): (None, {"email": email, "password": PASSWORD},
                                     lambda: None),
        ("POST", "/auth/login"): (None, {"email": victim.email, "password": PASSWORD}, roles),
        ("POST", "/auth/refresh"): (None, {"refresh_token": victim.refresh_token}, roles),
        ("POST", "/auth/logout"): (None, {"refresh_token": victim.refresh_token}, roles),
        ("PUT", f"/auth/users/{victim.id}/roles"): (admin, {"roles": ["customer"]}, roles),
        ("POST", "/products"): (admin, {"sku": f"MASS-{uuid.uuid4().hex[:8]}", "name": "m",
                                        "price": 100}, lambda: None),
        ("PATCH", f"/products/{pid}"): (admin, {"name": "Renamed"}, item),
        ("POST", f"/products/{pid}/stock"): (admin, {"delta": 1, "reason": "count"}, item),
        ("POST", "/payments"): (alice, {"items": [{"product_id": pid, "quantity": 1}],
                                        "payment_method": "tok_visa"}, mine),
        ("POST", f"/payments/{payment}/refunds"): (admin, {"amount": 1}, paid),
    }


def _template(path: str) -> str:
    parts = path.split("/")
    names = {"users": "{id}", "products": "{product_id}", "payments": "{payment_id}"}
    return "/".join(names[parts[i - 1]] if i and parts[i - 1] in names and len(part) == 36
                    else part for i, part in enumerate(parts))


@pytest.fixture(scope="module")
def bodies(http) -> dict[tuple[str, str], set[str]]:
    return _json_bodies(http.get("/openapi.json").json())


def test_every_json_route_is_covered(world, bodies):
    assert {(method, _template(path)) for method, path in world} == set(bodies)


def test_extra_fields_are_422_and_change_nothing(http, world, bodies, victim, new_email,
                                                 database_urls):
    for (method, path), (actor, body, state) in world.items():
        headers = {**(actor.headers if actor else {}), "Idempotency-Key": uuid.uuid4().hex}
        takes = bodies[(method, _template(path))]
        extras = {name: value for name, value in EXTRAS.items() if name not in takes}
        assert len(extras) >= 8, (method, path)
        before = state()
        for name, value in extras.items():
            response = http.request(method, path, headers=headers, json={**body, name: value})
            errors = problem(response, 422)["errors"]
            assert name in {e["field"] for e in errors}, (method, path, name, errors)
            assert state() == before, (method, path, name)
    assert _count(database_urls["catalog"], "SELECT count(*) FROM products WHERE sku LIKE "
                                            "'MASS-%'") == 0
    # No account was made, and neither the refresh nor the logout with an extra field spent or
    # revoked the token.
    assert http.post("/auth/register", json={"email": new_email, "password": PASSWORD}
                     ).status_code == 201
    assert http.post("/auth/refresh", json={"refresh_token": victim.refresh_token}
                     ).status_code == 200


def test_nested_extra_fields_are_422(http, alice: Actor, product):
    body = {"items": [{"product_id": product["id"], "quantity": 1, "unit_price": 1}],
            "payment_method": "tok_visa"}
    response = http.post("/payments", json=body,
                         headers={**alice.headers, "Idempotency-Key": uuid.uuid4().hex})
    assert "items.0.unit_price" in {e["field"] for e in problem(response, 422)["errors"]}


def test_the_client_never_sets_the_price(http, alice: Actor, product):
    paid = checkout(http, alice, product["id"])
    assert paid.status_code == 201, paid.text
    assert paid.json()["amount"] == product["price"]


def _count(url: str, sql: str) -> int:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return int(conn.execute(text(sql)).scalar_one())
    finally:
        engine.dispose()
