"""The catalog's records and their rules, without any port."""

from __future__ import annotations

import dataclasses
import datetime as dt
import uuid

import pytest

from catalog.domain import Product, Reservation, totals
from catalog.model import PRODUCT_COLUMNS
from shared.errors import (
    ReservationCommitted,
    ReservationLapsed,
    ReservationMismatch,
)

NOW = dt.datetime(2026, 11, 22, 12, 0, tzinfo=dt.UTC)
A, B = uuid.UUID(int=1), uuid.UUID(int=2)


def test_a_product_has_the_columns_the_adapter_reads_in_their_order():
    # postgres/ builds Product(*row) from PRODUCT_COLUMNS rows: the orders must agree.
    assert [f.name for f in dataclasses.fields(Product)] == [c.name for c in PRODUCT_COLUMNS]


def test_available_never_goes_below_zero():
    product = Product(A, "S", "n", "", None, 100, "USD", 2, 3, 1, NOW, NOW, None)
    assert product.available == 0 and not product.deleted


def test_a_hold_expires_after_its_ttl_with_its_items_in_lock_order():
    held = Reservation.hold("r1", {B: 1, A: 2}, NOW, 60)
    assert held.status == "active" and held.expires_at == NOW + dt.timedelta(seconds=60)
    assert list(held.items) == [A, B]


def test_a_replay_with_other_items_or_of_a_lapsed_reservation_is_refused():
    held = Reservation.hold("r1", {A: 2}, NOW, 60)
    assert held.replayed({A: 2}) is held
    with pytest.raises(ReservationMismatch):
        held.replayed({A: 3})
    with pytest.raises(ReservationLapsed) as caught:
        dataclasses.replace(held, status="expired").replayed({A: 2})
    assert caught.value.to_problem()["code"] == "reservation_expired"


def test_commit_and_release_transitions():
    held = Reservation.hold("r1", {A: 2}, NOW, 60)
    assert held.committed().status == "committed"
    assert held.released().status == "released"
    assert held.released().released().status == "released"
    with pytest.raises(ReservationCommitted):
        held.committed().released()
    tombstone = Reservation.tombstone("r2", NOW)
    with pytest.raises(ReservationLapsed) as caught:
        tombstone.committed()
    assert caught.value.extra["code"] == "reservation_released"


def test_totals_sum_units_per_product():
    first, second = Reservation.hold("r1", {A: 2}, NOW, 1), Reservation.hold("r2", {A: 1, B: 4},
                                                                             NOW, 1)
    assert totals([first, second]) == {A: 3, B: 4}
