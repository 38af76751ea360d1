"""Reading payments: ownership (404 for anyone else), keyset pages newest first."""

from __future__ import annotations

import uuid

import pytest

from payments import reads, use_cases
from payments.domain import Actor
from shared.errors import Forbidden, NotFound, ValidationFailed


def buy(deps, actor, product, key, method="tok_visa"):
    return use_cases.checkout(deps, actor, key, {
        "items": [{"product_id": product, "quantity": 1}], "payment_method": method}).body


def test_only_the_owner_or_an_admin_sees_a_payment(deps, catalog, customer, admin):
    payment = buy(deps, customer, catalog.add(), "k")
    assert reads.get_payment(deps.store, customer, payment["id"]) == payment
    assert reads.get_payment(deps.store, admin, payment["id"]) == payment
    stranger = Actor(uuid.uuid4())
    for wanted in (payment["id"], str(uuid.uuid4()), "nope"):
        with pytest.raises(NotFound) as caught:
            reads.get_payment(deps.store, stranger, wanted)
        assert caught.value.detail == "No such payment."


def test_pages_are_newest_first_and_stable_under_inserts(deps, catalog, customer):
    product = catalog.add(stock=100)
    made = [buy(deps, customer, product, f"k{i}") for i in range(5)]
    declined = buy(deps, customer, product, "declined", "tok_chargeDeclined")
    made.append(reads.get_payment(deps.store, customer, declined["payment_id"]))
    first = reads.list_payments(deps.store, customer, {"limit": 4})
    assert len(first["items"]) == 4 and first["next_cursor"]
    buy(deps, customer, product, "later")  # a new payment does not shift the next page
    second = reads.list_payments(deps.store, customer, {"limit": 4,
                                                        "cursor": first["next_cursor"]})
    assert second["next_cursor"] is None
    ids = [p["id"] for p in first["items"] + second["items"]]
    expected = sorted(made, key=lambda p: (p["created_at"], p["id"]), reverse=True)
    assert ids == [p["id"] for p in expected]
    assert first["items"][0]["status"] == "failed"  # declined checkouts are listed too


def test_admin_may_list_another_user_and_customers_may_not(deps, catalog, customer, admin):
    payment = buy(deps, customer, catalog.add(), "k")
    page = reads.list_payments(deps.store, admin, {"user_id": str(customer.user_id)})
    assert [p["id"] for p in page["items"]] == [payment["id"]]
    assert reads.list_payments(deps.store, admin, {})["items"] == []
    with pytest.raises(Forbidden):
        reads.list_payments(deps.store, Actor(uuid.uuid4()), {"user_id": str(customer.user_id)})
    with pytest.raises(ValidationFailed):
        reads.list_payments(deps.store, customer, {"limit": 0})
    with pytest.raises(ValidationFailed):
        reads.list_payments(deps.store, customer, {"cursor": "garbage!"})
