"""payment_refunded (with restock) may reach the catalog before the payment_succeeded it refunds:
each event type has its own queue, and retries and redeliveries reorder them
(docs/reliability.md tells how `make chaos` found it)."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from catalog_unit_fakes import refunded, succeeded

from catalog import payment_events, reservations, use_cases
from catalog.schemas import NewProduct, Reservation, parse

NOW = dt.datetime(2026, 11, 22, 12, 0, tzinfo=dt.UTC)


def test_a_restock_that_arrives_before_the_sale_is_retried_not_dropped(tx, state):
    with tx:
        a = use_cases.create_product(tx, parse(NewProduct, {"sku": "A", "name": "A",
                                                            "price": 100, "stock": 5}))["id"]
    pay, refund_event = uuid.uuid4(), uuid.uuid4()
    with tx:
        reservations.reserve_stock(tx, parse(Reservation, {"reservation_id": str(pay), "items": [
            {"product_id": a, "quantity": 2}]}), NOW, 900.0)
    with pytest.raises(payment_events.SaleNotApplied), tx:  # the refund first: not applied yet
        payment_events.payment_refunded(tx, refunded(pay, refund_event))
    with tx:
        assert payment_events.payment_succeeded(tx, succeeded(pay)) == "committed"
    with tx:  # the retry of the same refund event, after the sale
        assert payment_events.payment_refunded(tx, refunded(pay, refund_event)) == "restocked"
    row = next(iter(state.products.values()))
    assert (row["on_hand"], row["reserved"]) == (5, 0)
