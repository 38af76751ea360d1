"""Product use cases against in-memory fakes of the ports."""

from __future__ import annotations

import uuid

import pytest

from catalog import use_cases, views
from catalog.schemas import (
    Expected,
    ListQuery,
    NewProduct,
    ProductChanges,
    StockAdjustment,
    parse,
)
from shared.errors import Conflict, NotFound, PreconditionFailed, ValidationFailed


def new(sku="SKU-1", **extra):
    return parse(NewProduct, {"sku": sku, "name": "Oak chair", "price": 4999, **extra})


def create(tx, sku="SKU-1", **extra):
    with tx:
        return use_cases.create_product(tx, new(sku, **extra))


def test_create_defaults_and_event(tx, state):
    product = create(tx, stock=5, description="A sturdy chair")
    assert product["currency"] == "USD" and product["available"] == 5
    assert product["version"] == 1 and product["deleted"] is False
    assert state.events == [("product_created", {
        "product_id": product["id"], "sku": "SKU-1", "name": "Oak chair", "price": 4999,
        "currency": "USD"})]
    assert state.movements == [(uuid.UUID(product["id"]), 5, "initial stock")]


def test_duplicate_sku_conflicts_and_records_nothing(tx, state):
    create(tx)
    with pytest.raises(Conflict) as caught:
        create(tx)
    assert caught.value.errors == [{"field": "sku", "message": "already taken"}]
    assert len(state.products) == 1 and len(state.events) == 1


@pytest.mark.parametrize("body", [
    {"sku": "A", "name": "x", "price": 19.99},
    {"sku": "A", "name": "x", "price": "1999"},
    {"sku": "A", "name": "x", "price": -1},
    {"sku": "A", "name": "x", "price": 1, "currency": "usd"},
    {"sku": "A", "name": "x", "price": 1, "currency": "EURO"},
    {"sku": "A", "name": " ", "price": 1},
    {"sku": "", "name": "x", "price": 1},
    {"sku": "A", "name": "x", "price": 1, "owner": "me"},
    {"sku": "A", "name": "x", "price": 1, "stock": -3},
])
def test_bad_new_product_is_a_validation_error(body):
    with pytest.raises(ValidationFailed) as caught:
        parse(NewProduct, body)
    assert caught.value.errors and all("field" in e for e in caught.value.errors)


def test_update_bumps_version_and_checks_expected_version(tx, state):
    pid = uuid.UUID(create(tx)["id"])
    with tx:
        updated = use_cases.update_product(tx, pid, parse(ProductChanges, {"price": 5999}), 1)
    assert updated["version"] == 2 and updated["price"] == 5999
    assert state.events[-1] == ("product_updated",
                                {"product_id": str(pid), "version": 2, "price": 5999})
    with pytest.raises(PreconditionFailed) as caught, tx:
        use_cases.update_product(tx, pid, parse(ProductChanges, {"name": "New"}), 1)
    assert caught.value.extra["current_version"] == 2
    assert state.products[pid]["name"] == "Oak chair"


def test_update_refuses_null_for_required_fields(tx):
    pid = uuid.UUID(create(tx)["id"])
    with pytest.raises(ValidationFailed), tx:
        use_cases.update_product(tx, pid, parse(ProductChanges, {"name": None}))
    with tx:
        cleared = use_cases.update_product(tx, pid, parse(ProductChanges, {"category": None}))
    assert cleared["category"] is None


def test_delete_hides_from_listing_but_still_resolves(tx, reader, state):
    pid = uuid.UUID(create(tx)["id"])
    with tx:
        use_cases.delete_product(tx, pid)
    assert state.events[-1] == ("product_deleted", {"product_id": str(pid)})
    assert use_cases.get_product(reader, pid)["deleted"] is True
    assert use_cases.list_products(reader, ListQuery())["items"] == []
    with pytest.raises(NotFound), tx:
        use_cases.delete_product(tx, pid)
    with pytest.raises(NotFound), tx:
        use_cases.update_product(tx, pid, parse(ProductChanges, {"price": 1}))


def test_get_products_keeps_order_and_skips_unknown(tx, reader):
    a, b = create(tx, "A")["id"], create(tx, "B")["id"]
    found = use_cases.get_products(reader, [uuid.UUID(b), uuid.uuid4(), uuid.UUID(a)])
    assert [p["id"] for p in found] == [b, a]


def test_stock_adjustment_refuses_to_drop_below_reserved(tx, state):
    pid = uuid.UUID(create(tx, stock=3)["id"])
    state.products[pid]["reserved"] = 2
    with tx:
        product = use_cases.adjust_stock(tx, pid, parse(StockAdjustment,
                                                        {"delta": -1, "reason": "damaged"}))
    assert product["available"] == 0
    assert state.events[-1] == ("stock_changed", {"product_id": str(pid), "available": 0})
    with pytest.raises(Conflict), tx:
        use_cases.adjust_stock(tx, pid, StockAdjustment(delta=-1, reason="lost"))
    assert state.products[pid]["on_hand"] == 2


def test_listing_pages_newest_first_with_opaque_cursors(tx, reader):
    ids = [create(tx, f"S{i}", category="chairs" if i % 2 else "tables")["id"]
           for i in range(5)]
    seen, cursor = [], None
    while True:
        page = use_cases.list_products(reader, ListQuery(limit=2, cursor=cursor))
        seen += [p["id"] for p in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == ids[::-1]
    chairs = use_cases.list_products(reader, ListQuery(category="chairs"))["items"]
    assert [p["id"] for p in chairs] == [ids[3], ids[1]]


@pytest.mark.parametrize("cursor", ["garbage!", "bm90IGpzb24", views.encode_cursor(
    "r", (0.5, uuid.uuid4()))])
def test_bad_or_foreign_cursor_is_a_validation_error(reader, cursor):
    with pytest.raises(ValidationFailed):
        use_cases.list_products(reader, ListQuery(cursor=cursor))


@pytest.mark.parametrize("version", [0, 2**31, 2**64, "1", 1.0])
def test_an_expected_version_the_integer_column_cannot_hold_is_422(version):
    with pytest.raises(ValidationFailed):
        parse(Expected, {"version": version})
