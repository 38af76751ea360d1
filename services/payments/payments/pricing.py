"""Pricing a checkout from the catalog's products, never from the client."""

from __future__ import annotations

import uuid
from typing import NotRequired, TypedDict

from payments import errors
from payments.domain import Line, Priced

# The most one payment can be, in minor units: the catalog's highest price (amounts and the
# ledger's sums are 64-bit in PostgreSQL).
MAX_AMOUNT = 10**15


class Item(TypedDict):
    product_id: str  # canonical UUID text
    quantity: int


class Product(TypedDict):
    """The catalog's product document, as far as payments reads it."""

    id: str
    sku: str
    name: str
    price: int
    currency: str
    deleted: NotRequired[bool]


def price_from(found: list[Product], wanted: list[Item]) -> Priced:
    """Unknown or deleted products, several currencies and a total above MAX_AMOUNT are 422."""
    products = {str(uuid.UUID(str(p["id"]))): p for p in found if not p.get("deleted")}
    missing = [i for i, item in enumerate(wanted) if item["product_id"] not in products]
    if missing:
        raise errors.unknown_products(missing)
    currencies = {products[item["product_id"]]["currency"] for item in wanted}
    if len(currencies) > 1:
        raise errors.several_currencies()
    lines: list[Line] = []
    for item in wanted:
        product = products[item["product_id"]]
        lines.append({"product_id": item["product_id"], "sku": product["sku"],
                      "name": product["name"], "unit_price": int(product["price"]),
                      "quantity": item["quantity"]})
    amount = sum(line["unit_price"] * line["quantity"] for line in lines)
    if amount > MAX_AMOUNT:
        raise errors.too_large(MAX_AMOUNT)
    return Priced(amount=amount, currency=currencies.pop(), items=lines)
