"""Reservations on real PostgreSQL: concurrency, idempotency, expiry, all-or-nothing."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from sqlalchemy import select

from catalog import reservations
from catalog.model import outbox
from catalog.schemas import Reservation
from shared.errors import Conflict, NotFound
from shared.wire import utcnow

TTL = 900.0


def available(reader, pid):
    return reader.get(uuid.UUID(str(pid))).available


def test_concurrent_reservations_on_the_last_units_never_oversell(new_tx, reader, make_product,
                                                                  reserve, hammer):
    pid = uuid.UUID(make_product(stock=5)["id"])
    outcomes = hammer(16, lambda i: reserve(f"last-{pid}-{i}", [(pid, 1)]))
    assert outcomes == {"ok": 5, "out_of_stock": 11}
    row = reader.get(pid)
    assert (row.on_hand, row.reserved) == (5, 5)


def test_multi_item_reservations_in_any_order_never_deadlock_or_oversell(new_tx, reader,
                                                                         make_product, reserve,
                                                                         hammer):
    a, b = (uuid.UUID(make_product(stock=6)["id"]) for _ in range(2))
    orders = ([(a, 1), (b, 1)], [(b, 1), (a, 1)])
    outcomes = hammer(12, lambda i: reserve(f"ab-{a}-{i}", orders[i % 2]))
    assert outcomes == {"ok": 6, "out_of_stock": 6}
    assert available(reader, a) == available(reader, b) == 0


def test_the_same_reservation_id_concurrently_reserves_once(reader, make_product, reserve,
                                                           hammer):
    pid = uuid.UUID(make_product(stock=10)["id"])
    rid = f"same-{pid}"
    outcomes = hammer(8, lambda i: reserve(rid, [(pid, 3)]))
    assert outcomes == {"ok": 8}
    assert available(reader, pid) == 7


def test_a_short_item_rolls_back_the_whole_reservation(new_tx, reader, engine, make_product,
                                                       reserve):
    plenty, short = make_product(stock=5)["id"], make_product(stock=1)["id"]
    rid = f"aon-{plenty}"
    with pytest.raises(Conflict) as caught:
        reserve(rid, [(plenty, 2), (short, 2)])
    assert caught.value.extra["product_id"] == short
    assert (available(reader, plenty), available(reader, short)) == (5, 1)
    with engine.connect() as conn:
        events = conn.execute(select(outbox.c.payload).where(
            outbox.c.event_type == "stock_changed")).scalars().all()
    assert not [e for e in events if e["product_id"] == plenty and e["available"] == 3]
    with new_tx() as tx:  # nothing was kept under that id
        assert tx.reservations.get(rid) is None


def test_an_unknown_product_is_not_found_and_nothing_is_kept(new_tx, reader, make_product, reserve):
    # The items' foreign key must not turn an unknown product into a bare 500.
    known, unknown = make_product(stock=5)["id"], uuid.uuid4()
    rid = f"unknown-{known}"
    with pytest.raises(NotFound) as caught:
        reserve(rid, [(known, 1), (unknown, 1)])
    assert caught.value.extra["product_id"] == str(unknown)
    assert available(reader, known) == 5
    with new_tx() as tx:
        assert tx.reservations.get(rid) is None


def test_expiry_frees_stock_and_commit_keeps_it_sold(new_tx, reader, make_product, reserve):
    pid = uuid.UUID(make_product(stock=4)["id"])
    past = utcnow() - dt.timedelta(seconds=TTL + 60)
    reserve(f"exp-{pid}", [(pid, 3)], now=past)
    reserve(f"keep-{pid}", [(pid, 1)], now=past)
    with new_tx() as tx:
        reservations.commit_reservation(tx, f"keep-{pid}")
    assert available(reader, pid) == 0
    while True:  # other tests' due reservations may be swept in the same batches
        with new_tx() as tx:
            if reservations.expire_due(tx, utcnow(), 50) < 50:
                break
    row = reader.get(pid)
    assert (row.on_hand, row.reserved) == (3, 0)
    with new_tx() as tx:
        assert tx.reservations.get(f"exp-{pid}").status == "expired"
    with pytest.raises(Conflict):
        reserve(f"exp-{pid}", [(pid, 3)])


def test_with_products_the_answer_lists_them_as_they_are_now(new_tx, reader, make_product, reserve):
    a, b = make_product(stock=5, price=1999), make_product(stock=5, price=250)
    request = Reservation.model_validate({"reservation_id": f"r-{uuid.uuid4()}", "items": [
        {"product_id": a["id"], "quantity": 2}, {"product_id": b["id"], "quantity": 1}]})
    for _ in range(2):  # first the reservation, then its replay: both list the products
        with new_tx() as tx:
            result = reservations.reserve_stock(tx, request, utcnow(), TTL, with_products=True)
        assert result["status"] == "active"
        assert sorted((p["id"], p["price"], p["available"]) for p in result["products"]) == \
            sorted([(a["id"], 1999, 3), (b["id"], 250, 4)])
    assert "products" not in reserve(f"r-{uuid.uuid4()}", [(a["id"], 1)])
