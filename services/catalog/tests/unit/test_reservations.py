"""Reservation and payment-event use cases against in-memory fakes of the ports."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from catalog_fake_products import NOW
from catalog_unit_steps import TTL, available, product, reserve

from catalog import reservations, use_cases
from catalog.schemas import Reservation, parse
from shared.errors import Conflict, NotFound, OutOfStock, ReservationLapsed, ValidationFailed


def test_reserve_holds_units_and_reports_stock_changed(tx, state):
    a, b = product(tx, "A", 5), product(tx, "B", 2)
    result = reserve(tx, "r1", [(a, 2), (b, 2), (a, 1)])
    assert result["status"] == "active"
    assert result["expires_at"] == NOW + dt.timedelta(seconds=TTL)
    assert {i["product_id"]: i["quantity"] for i in result["items"]} == {str(a): 3, str(b): 2}
    assert (available(state, a), available(state, b)) == (2, 0)
    changed = [f for t, f in state.events if t == "stock_changed"]
    assert {(f["product_id"], f["available"]) for f in changed} == {(str(a), 2), (str(b), 0)}


def test_same_reservation_id_twice_reserves_once(tx, state):
    a = product(tx, "A", 5)
    first = reserve(tx, "r1", [(a, 2)])
    assert reserve(tx, "r1", [(a, 2)]) == first
    assert available(state, a) == 3
    with pytest.raises(Conflict) as caught:
        reserve(tx, "r1", [(a, 1)])
    assert caught.value.extra["code"] == "reservation_mismatch"


def test_all_or_nothing_when_one_item_is_short(tx, state):
    a, b = product(tx, "A", 5), product(tx, "B", 1)
    with pytest.raises(OutOfStock) as caught:
        reserve(tx, "r1", [(a, 2), (b, 2)])
    assert caught.value.extra == {"code": "out_of_stock", "product_id": str(b),
                                  "available": 1, "requested": 2}
    assert "Out of stock" in caught.value.detail
    assert (available(state, a), available(state, b)) == (5, 1)
    assert state.reservations == {}


def test_unknown_or_deleted_product_is_not_found(tx, state):
    a = product(tx, "A", 5)
    with tx:
        use_cases.delete_product(tx, a)
    for pid in (a, uuid.uuid4()):
        with pytest.raises(NotFound):
            reserve(tx, "r1", [(pid, 1)])


@pytest.mark.parametrize("items", [[], [{"product_id": "nope", "quantity": 1}],
                                   [{"product_id": str(uuid.uuid4()), "quantity": 0}],
                                   [{"product_id": str(uuid.uuid4()), "quantity": 1.5}],
                                   "not a list"])
def test_bad_items_are_validation_errors(items):
    with pytest.raises(ValidationFailed):
        parse(Reservation, {"reservation_id": "r1", "items": items})


def test_commit_consumes_and_is_idempotent(tx, state):
    a = product(tx, "A", 5)
    reserve(tx, "r1", [(a, 2)])
    for _ in range(2):
        with tx:
            assert reservations.commit_reservation(tx, "r1")["status"] == "committed"
    with tx:
        assert reservations.get_reservation(tx, "r1")["status"] == "committed"
    with pytest.raises(NotFound), tx:
        reservations.get_reservation(tx, "nope")
    assert (state.products[a]["on_hand"], state.products[a]["reserved"]) == (3, 0)
    with pytest.raises(Conflict), tx:
        reservations.release_reservation(tx, "r1", NOW)


def test_release_gives_back_once_and_tombstones_unknown_ids(tx, state):
    a = product(tx, "A", 5)
    reserve(tx, "r1", [(a, 2)])
    for _ in range(2):
        with tx:
            assert reservations.release_reservation(tx, "r1", NOW)["status"] == "released"
    assert available(state, a) == 5
    with pytest.raises(Conflict), tx:
        reservations.commit_reservation(tx, "r1")
    with tx:
        reservations.release_reservation(tx, "late", NOW)
    with pytest.raises(ReservationLapsed) as caught:
        reserve(tx, "late", [(a, 1)])
    assert caught.value.extra["code"] == "reservation_released"
    assert caught.value.to_problem()["code"] == "reservation_released"
    assert available(state, a) == 5


def test_expiry_frees_only_due_reservations(tx, state):
    a = product(tx, "A", 5)
    reserve(tx, "old", [(a, 2)], now=NOW)
    reserve(tx, "new", [(a, 1)], now=NOW + dt.timedelta(seconds=600))
    with tx:
        assert reservations.expire_due(tx, NOW + dt.timedelta(seconds=TTL + 1)) == 1
    assert available(state, a) == 4
    assert state.reservations["old"].status == "expired"
    with pytest.raises(Conflict), tx:
        reservations.commit_reservation(tx, "old")


def test_one_product_past_the_integer_stock_columns_is_refused_before_the_database():
    pid = str(uuid.uuid4())
    lines = [{"product_id": pid, "quantity": 1_000_000_000}] * 3  # 3e9 > 2**31 - 1
    with pytest.raises(ValidationFailed):
        parse(Reservation, {"reservation_id": "r-big", "items": lines})
