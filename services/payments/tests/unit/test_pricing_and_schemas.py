"""Pricing from the catalog's products, request validation and cursors."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest

from payments import schemas, views
from payments.pricing import price_from
from shared.errors import BadRequest, ValidationFailed


def wanted(*pairs):
    return [{"product_id": p, "quantity": q} for p, q in pairs]


def price(catalog, items):
    return price_from(catalog.get_products([i["product_id"] for i in items]), items)


def test_prices_come_from_the_catalog(catalog):
    a, b = catalog.add(price=1999), catalog.add(price=250)
    priced = price(catalog, wanted((a, 2), (b, 3)))
    assert (priced.amount, priced.currency) == (2 * 1999 + 3 * 250, "USD")
    assert priced.items[0] == {"product_id": a, "sku": catalog.products[a]["sku"],
                               "name": catalog.products[a]["name"], "unit_price": 1999,
                               "quantity": 2}


def test_unknown_and_deleted_products_are_422_naming_the_items(catalog):
    good, gone = catalog.add(), catalog.add(deleted=True)
    with pytest.raises(ValidationFailed) as caught:
        price(catalog, wanted((good, 1), (gone, 1), (str(uuid.uuid4()), 1)))
    assert [e["field"] for e in caught.value.errors] == ["items.1.product_id",
                                                          "items.2.product_id"]


def test_several_currencies_are_422(catalog):
    with pytest.raises(ValidationFailed):
        price(catalog, wanted((catalog.add(currency="USD"), 1), (catalog.add(currency="EUR"), 1)))


@pytest.mark.parametrize("body", [
    {"items": [], "payment_method": "tok_visa"},
    {"items": [{"product_id": "nope", "quantity": 1}], "payment_method": "tok_visa"},
    {"items": [{"product_id": str(uuid.uuid4()), "quantity": 0}], "payment_method": "tok_visa"},
    {"items": [{"product_id": str(uuid.uuid4()), "quantity": 1.5}], "payment_method": "tok_visa"},
    {"items": [{"product_id": str(uuid.uuid4()), "quantity": "2"}], "payment_method": "tok_visa"},
    {"items": [{"product_id": str(uuid.uuid4()), "quantity": 1, "unit_price": 1}],
     "payment_method": "tok_visa"},
    {"items": [{"product_id": str(uuid.uuid4()), "quantity": 1}]},
    "not an object",
])
def test_bad_checkout_bodies_are_422(body):
    with pytest.raises(ValidationFailed):
        schemas.parse(schemas.CheckoutIn, body)


@pytest.mark.parametrize("body", [{"amount": 0}, {"amount": 1.0}, {"amount": "5"},
                                  {"amount": 2**63}, {"amount": 2**64},  # past bigint
                                  {"restock": "yes"}, {"currency": "USD"}])
def test_bad_refund_bodies_are_422(body):
    with pytest.raises(ValidationFailed):
        schemas.parse(schemas.RefundIn, body)


@pytest.mark.parametrize("key", [None, "", "x" * 256, 42])
def test_bad_keys_are_400(key):
    with pytest.raises(BadRequest):
        schemas.check_key(key)


def test_longest_key_is_fine():
    assert schemas.check_key("k" * 255) == "k" * 255


def test_cursor_round_trips_and_rejects_garbage():
    when = dt.datetime(2026, 11, 22, 5, 45, 13, 123456, tzinfo=dt.UTC)
    pid = uuid.uuid4()
    assert schemas.decode_cursor(views.encode_cursor(when, pid)) == (when, pid)
    with pytest.raises(ValidationFailed):
        schemas.decode_cursor("!!garbage")
