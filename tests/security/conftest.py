"""Actors and objects for the security tests, all made through the session `suite` over HTTP.

Every response any test of this package receives is kept (`seen`), so that
test_zz_no_leaks.py can check that none of them carries a stack trace or exception text.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

PASSWORD = "security tests password"
SEEN: list[httpx.Response] = []


def _keep(response: httpx.Response) -> None:
    response.read()
    SEEN.append(response)


@pytest.fixture(scope="session")
def http(suite: Any) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=suite.url, timeout=30,
                      event_hooks={"response": [_keep]}) as client:
        yield client


@dataclass
class Actor:
    id: str
    email: str
    token: str
    refresh_token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


def login(http: httpx.Client, email: str, password: str) -> dict[str, Any]:
    response = http.post("/auth/login", json={"email": email, "password": password})
    assert response.status_code == 200, response.text
    return dict(response.json())


def new_customer(http: httpx.Client, prefix: str = "sec") -> Actor:
    email = f"{prefix}-{uuid.uuid4().hex[:12]}@example.com"
    registered = http.post("/auth/register", json={"email": email, "password": PASSWORD})
    assert registered.status_code == 201, registered.text
    pair = login(http, email, PASSWORD)
    return Actor(registered.json()["id"], email, pair["access_token"], pair["refresh_token"])


@pytest.fixture(scope="session")
def admin(http: httpx.Client, suite_env: dict[str, str]) -> Actor:
    # The admin the suite bootstraps from ADMIN_EMAIL / ADMIN_PASSWORD (root conftest).
    pair = login(http, suite_env["ADMIN_EMAIL"], suite_env["ADMIN_PASSWORD"])
    me = http.get("/auth/me", headers={"Authorization": f"Bearer {pair['access_token']}"})
    return Actor(me.json()["id"], suite_env["ADMIN_EMAIL"], pair["access_token"],
                 pair["refresh_token"])


@pytest.fixture(scope="session")
def alice(http: httpx.Client) -> Actor:
    return new_customer(http, "alice")


@pytest.fixture(scope="session")
def bob(http: httpx.Client) -> Actor:
    return new_customer(http, "bob")


@pytest.fixture(scope="session")
def product(http: httpx.Client, admin: Actor) -> dict[str, Any]:
    response = http.post("/products", headers=admin.headers, json={
        "sku": f"SEC-{uuid.uuid4().hex[:10]}", "name": "Security test lamp", "price": 2500,
        "stock": 100})
    assert response.status_code == 201, response.text
    return dict(response.json())


def checkout(http: httpx.Client, actor: Actor, product_id: str,
             quantity: int = 1) -> httpx.Response:
    return http.post("/payments", headers={**actor.headers, "Idempotency-Key": uuid.uuid4().hex},
                     json={"items": [{"product_id": product_id, "quantity": quantity}],
                           "payment_method": "tok_visa"})


@pytest.fixture(scope="session")
def alices_payment(http: httpx.Client, alice: Actor, product: dict[str, Any]) -> dict[str, Any]:
    response = checkout(http, alice, product["id"], 2)
    assert response.status_code == 201, response.text
    return dict(response.json())


@pytest.fixture
def fresh_customer(http: httpx.Client) -> Callable[[], Actor]:
    return lambda: new_customer(http)
