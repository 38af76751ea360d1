"""Payments through the gateway of the whole running suite (`suite` fixture, like `make run`)."""

from __future__ import annotations

import concurrent.futures
import time
import uuid

import httpx
import pytest
from sqlalchemy import create_engine, text


@pytest.fixture(scope="module")
def http(suite):
    with httpx.Client(base_url=suite.url, timeout=15) as client:
        yield client


def login(http, email, password):
    response = http.post("/auth/login", json={"email": email, "password": password})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def register(http):
    email, password = f"buyer-{uuid.uuid4().hex[:10]}@example.com", "correct horse battery"
    assert http.post("/auth/register", json={"email": email, "password": password}
                     ).status_code == 201
    return login(http, email, password)


@pytest.fixture(scope="module")
def admin(http, suite_env):
    return login(http, suite_env["ADMIN_EMAIL"], suite_env["ADMIN_PASSWORD"])


def product(http, admin, stock=5, price=2599, currency="USD"):
    response = http.post("/products", headers=admin, json={
        "sku": f"SKU-{uuid.uuid4().hex[:12]}", "name": "Walnut desk organiser", "price": price,
        "currency": currency, "stock": stock})
    assert response.status_code == 201, response.text
    return response.json()["id"]


def available(http, product_id):
    return http.get(f"/products/{product_id}").json()["available"]


def eventually(check, timeout=20.0):
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.2)


def pay(http, who, product_id, quantity=1, key=None, method="tok_visa"):
    return http.post("/payments", headers={**who, "Idempotency-Key": key or uuid.uuid4().hex},
                     json={"items": [{"product_id": product_id, "quantity": quantity}],
                           "payment_method": method})


def test_checkout_takes_stock_once_and_replays(http, admin):
    buyer, item = register(http), product(http, admin, stock=5, price=1250)
    first = pay(http, buyer, item, quantity=2, key="order-1")
    assert first.status_code == 201, first.text
    payment = first.json()
    assert (payment["status"], payment["amount"], payment["currency"]) == ("succeeded", 2500,
                                                                           "USD")
    assert payment["items"][0]["unit_price"] == 1250 and payment["items"][0]["quantity"] == 2
    assert eventually(lambda: available(http, item) == 3)
    again = pay(http, buyer, item, quantity=2, key="order-1")
    assert (again.status_code, again.json()) == (201, payment)
    assert again.headers["idempotent-replayed"] == "true"
    other = pay(http, buyer, item, quantity=3, key="order-1")
    assert other.status_code == 422
    time.sleep(1.5)  # the reservation is committed by the event; stock moved exactly once
    assert available(http, item) == 3
    assert http.get(f"/payments/{payment['id']}", headers=buyer).json() == payment
    listed = http.get("/payments", headers=buyer).json()
    assert [p["id"] for p in listed["items"]] == [payment["id"]] and listed["next_cursor"] is None


def test_missing_key_unknown_method_and_declines(http, admin):
    buyer, item = register(http), product(http, admin, stock=2)
    body = {"items": [{"product_id": item, "quantity": 1}], "payment_method": "tok_visa"}
    assert http.post("/payments", headers=buyer, json=body).status_code == 400
    assert pay(http, buyer, item, method="tok_bitcoin").status_code == 422
    for method, code in (("tok_chargeDeclined", "card_declined"),
                         ("tok_chargeDeclinedInsufficientFunds", "insufficient_funds"),
                         ("tok_processingError", "processing_error")):
        declined = pay(http, buyer, item, method=method)
        assert declined.status_code == 402, declined.text
        assert declined.headers["content-type"] == "application/problem+json"
        assert declined.json()["decline_code"] == code
    assert eventually(lambda: available(http, item) == 2)
    statuses = {p["status"] for p in http.get("/payments", headers=buyer).json()["items"]}
    assert statuses == {"failed"}
    assert pay(http, buyer, item, quantity=3).status_code == 409  # out of stock


def test_other_users_cannot_see_or_refund_a_payment(http, admin):
    alice, bob, item = register(http), register(http), product(http, admin)
    payment = pay(http, alice, item).json()
    for who in (bob, {}):
        expected = 404 if who else 401
        assert http.get(f"/payments/{payment['id']}", headers=who).status_code == expected
    assert http.get(f"/payments/{uuid.uuid4()}", headers=bob).status_code == 404
    refund = http.post(f"/payments/{payment['id']}/refunds", json={},
                       headers={**bob, "Idempotency-Key": "r"})
    assert refund.status_code == 404
    own = http.post(f"/payments/{payment['id']}/refunds", json={},
                    headers={**alice, "Idempotency-Key": "r"})
    assert own.status_code == 403
    assert http.get("/payments", headers=bob).json()["items"] == []
    assert http.get(f"/payments/{payment['id']}", headers=admin).status_code == 200


def test_refunds_partial_then_full_with_restock(http, admin):
    buyer, item = register(http), product(http, admin, stock=4, price=1000)
    payment = pay(http, buyer, item, quantity=3).json()
    assert eventually(lambda: available(http, item) == 1)
    url, key = f"/payments/{payment['id']}/refunds", {"Idempotency-Key": "refund-1"}
    too_much = http.post(url, json={"amount": 3001}, headers={**admin, **key})
    assert too_much.status_code == 422
    partial_restock = http.post(url, json={"amount": 1000, "restock": True},
                                headers={**admin, **key})
    assert partial_restock.status_code == 422
    partial = http.post(url, json={"amount": 1000}, headers={**admin, **key})
    assert partial.status_code == 201, partial.text
    assert http.post(url, json={"amount": 1000}, headers={**admin, **key}
                     ).headers["idempotent-replayed"] == "true"
    assert http.get(f"/payments/{payment['id']}", headers=buyer).json()["status"] == \
        "partially_refunded"
    rest = http.post(url, json={"restock": True}, headers={**admin, "Idempotency-Key": "r-2"})
    assert rest.status_code == 201 and rest.json()["amount"] == 2000 and rest.json()["restock"]
    done = http.get(f"/payments/{payment['id']}", headers=buyer).json()
    assert (done["status"], done["refunded_amount"]) == ("refunded", 3000)
    assert http.post(url, json={}, headers={**admin, "Idempotency-Key": "r-3"}
                     ).status_code == 409
    assert eventually(lambda: available(http, item) == 4)  # all three units back


def test_overview_shows_recent_payments_and_totals(http, admin):
    buyer = register(http)
    usd, eur = product(http, admin, price=500), product(http, admin, price=700, currency="EUR")
    ids = [pay(http, buyer, usd).json()["id"] for _ in range(5)]
    ids.append(pay(http, buyer, eur).json()["id"])
    refund = http.post(f"/payments/{ids[0]}/refunds", json={"amount": 200},
                       headers={**admin, "Idempotency-Key": "o-1"})
    assert refund.status_code == 201
    overview = http.get("/me/overview", headers=buyer)
    assert overview.status_code == 200, overview.text
    body = overview.json()
    assert body["degraded"] == [] and body["user"]["email"].startswith("buyer-")
    assert [p["id"] for p in body["recent_payments"]] == list(reversed(ids))[:5]
    assert body["recent_payments"][0]["items"][0]["name"] == "Walnut desk organiser"
    assert sorted(body["total_spent"], key=lambda m: m["currency"]) == [
        {"amount": 700, "currency": "EUR"}, {"amount": 5 * 500 - 200, "currency": "USD"}]
    assert http.get("/me/overview").status_code == 401


def test_twenty_identical_concurrent_checkouts_charge_once(http, admin, suite, suite_env):
    buyer, item = register(http), product(http, admin, stock=50)

    def attempt(_):
        with httpx.Client(base_url=suite.url, timeout=15) as client:
            return pay(client, buyer, item, key="burst")

    with concurrent.futures.ThreadPoolExecutor(20) as pool:
        answers = list(pool.map(attempt, range(20)))
    fresh = [a for a in answers if a.status_code == 201 and "idempotent-replayed" not in a.headers]
    assert len(fresh) == 1, [a.status_code for a in answers]
    assert all(a.status_code in (201, 409) for a in answers)
    assert all(a.json() == fresh[0].json() for a in answers if a.status_code == 201)
    [payment] = http.get("/payments", headers=buyer).json()["items"]
    engine = create_engine(suite_env["PAYMENTS_DATABASE_URL"])
    with engine.connect() as conn:
        charges = conn.execute(text("SELECT count(*) FROM simulator_charges WHERE "
                                    "idempotency_key = :k"), {"k": f"payment-{payment['id']}"})
        assert charges.scalar_one() == 1
    engine.dispose()
    assert eventually(lambda: available(http, item) == 49)
