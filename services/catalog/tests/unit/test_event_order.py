"""payment_refunded (with restock) may reach the catalog before the payment_succeeded it refunds:
each event type has its own queue, and retries and redeliveries reorder them. Found by
`make chaos` (docs/reliability.md): the restock used to be dropped for good."""

from __future__ import annotations

import datetime as dt

import pytest

from catalog import payments, reservations, use_cases
from catalog.schemas import NewProduct, Reservation, parse

NOW = dt.datetime(2026, 11, 22, 12, 0, tzinfo=dt.UTC)


def test_a_restock_that_arrives_before_the_sale_is_retried_not_dropped(tx, state):
    with tx:
        a = use_cases.create_product(tx, parse(NewProduct, {"sku": "A", "name": "A",
                                                            "price": 100, "stock": 5}))["id"]
    with tx:
        reservations.reserve_stock(tx, parse(Reservation, {"reservation_id": "pay-1", "items": [
            {"product_id": a, "quantity": 2}]}), NOW, 900.0)
    with pytest.raises(payments.SaleNotApplied), tx:  # the refund first: not applied yet
        payments.payment_refunded(tx, "refund-event", "pay-1", restock=True)
    with tx:
        assert payments.payment_succeeded(tx, "sale-event", "pay-1") == "committed"
    with tx:  # the retry of the same refund event, after the sale
        assert payments.payment_refunded(tx, "refund-event", "pay-1", restock=True) == \
            "restocked"
    row = next(iter(state.products.values()))
    assert (row["on_hand"], row["reserved"]) == (5, 0)
