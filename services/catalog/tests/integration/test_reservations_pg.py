"""Reservations on real PostgreSQL: concurrency, idempotency, expiry, all-or-nothing."""

from __future__ import annotations

import datetime as dt
import threading
import uuid
from collections import Counter

import pytest
from sqlalchemy import select

from catalog import payment_events, reservations
from catalog.model import inbox, outbox, stock_movements
from catalog.schemas import Reservation
from shared.contracts.events import PaymentSucceeded
from shared.errors import Conflict, NotFound
from shared.wire import utcnow

TTL = 900.0


def paid(payment_id, event_id=None):
    """payments' payment_succeeded as the bus contract has it."""
    return PaymentSucceeded(event_id=event_id or uuid.uuid4(), occurred_at=utcnow(),
                            schema_version=1, payment_id=payment_id, user_id=uuid.uuid4(),
                            amount=100, currency="USD", items=[])


def reserve(new_tx, rid, items, now=None):
    request = Reservation.model_validate({"reservation_id": rid, "items": [
        {"product_id": str(pid), "quantity": qty} for pid, qty in items]})
    with new_tx() as tx:
        return reservations.reserve_stock(tx, request, now or utcnow(), TTL)


def available(reader, pid):
    return reader.get(uuid.UUID(str(pid))).available


def hammer(workers, target):
    """Run target(i) in `workers` threads released at the same moment; collect outcomes."""
    barrier, outcomes, lock = threading.Barrier(workers), Counter(), threading.Lock()

    def run(i):
        barrier.wait()
        try:
            target(i)
            outcome = "ok"
        except Conflict as exc:
            outcome = exc.extra.get("code", "conflict")
        except Exception as exc:  # anything else fails the test below
            outcome = f"{type(exc).__name__}: {exc}"
        with lock:
            outcomes[outcome] += 1

    threads = [threading.Thread(target=run, args=(i,)) for i in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return outcomes


def test_concurrent_reservations_on_the_last_units_never_oversell(new_tx, reader, make_product):
    pid = uuid.UUID(make_product(stock=5)["id"])
    outcomes = hammer(16, lambda i: reserve(new_tx, f"last-{pid}-{i}", [(pid, 1)]))
    assert outcomes == {"ok": 5, "out_of_stock": 11}
    row = reader.get(pid)
    assert (row.on_hand, row.reserved) == (5, 5)


def test_multi_item_reservations_in_any_order_never_deadlock_or_oversell(new_tx, reader,
                                                                          make_product):
    a, b = (uuid.UUID(make_product(stock=6)["id"]) for _ in range(2))
    orders = ([(a, 1), (b, 1)], [(b, 1), (a, 1)])
    outcomes = hammer(12, lambda i: reserve(new_tx, f"ab-{a}-{i}", orders[i % 2]))
    assert outcomes == {"ok": 6, "out_of_stock": 6}
    assert available(reader, a) == available(reader, b) == 0


def test_the_same_reservation_id_concurrently_reserves_once(new_tx, reader, make_product):
    pid = uuid.UUID(make_product(stock=10)["id"])
    rid = f"same-{pid}"
    outcomes = hammer(8, lambda i: reserve(new_tx, rid, [(pid, 3)]))
    assert outcomes == {"ok": 8}
    assert available(reader, pid) == 7


def test_a_short_item_rolls_back_the_whole_reservation(new_tx, reader, engine, make_product):
    plenty, short = make_product(stock=5)["id"], make_product(stock=1)["id"]
    rid = f"aon-{plenty}"
    with pytest.raises(Conflict) as caught:
        reserve(new_tx, rid, [(plenty, 2), (short, 2)])
    assert caught.value.extra["product_id"] == short
    assert (available(reader, plenty), available(reader, short)) == (5, 1)
    with engine.connect() as conn:
        events = conn.execute(select(outbox.c.payload).where(
            outbox.c.event_type == "stock_changed")).scalars().all()
    assert not [e for e in events if e["product_id"] == plenty and e["available"] == 3]
    with new_tx() as tx:  # nothing was kept under that id
        assert tx.reservations.get(rid) is None


def test_an_unknown_product_is_not_found_and_nothing_is_kept(new_tx, reader, make_product):
    # The items' foreign key must not turn an unknown product into a bare 500.
    known, unknown = make_product(stock=5)["id"], uuid.uuid4()
    rid = f"unknown-{known}"
    with pytest.raises(NotFound) as caught:
        reserve(new_tx, rid, [(known, 1), (unknown, 1)])
    assert caught.value.extra["product_id"] == str(unknown)
    assert available(reader, known) == 5
    with new_tx() as tx:
        assert tx.reservations.get(rid) is None


def test_expiry_frees_stock_and_commit_keeps_it_sold(new_tx, reader, make_product):
    pid = uuid.UUID(make_product(stock=4)["id"])
    past = utcnow() - dt.timedelta(seconds=TTL + 60)
    reserve(new_tx, f"exp-{pid}", [(pid, 3)], now=past)
    reserve(new_tx, f"keep-{pid}", [(pid, 1)], now=past)
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
        reserve(new_tx, f"exp-{pid}", [(pid, 3)])


def test_with_products_the_answer_lists_them_as_they_are_now(new_tx, reader, make_product):
    a, b = make_product(stock=5, price=1999), make_product(stock=5, price=250)
    request = Reservation.model_validate({"reservation_id": f"r-{uuid.uuid4()}", "items": [
        {"product_id": a["id"], "quantity": 2}, {"product_id": b["id"], "quantity": 1}]})
    for _ in range(2):  # first the reservation, then its replay: both list the products
        with new_tx() as tx:
            result = reservations.reserve_stock(tx, request, utcnow(), TTL, with_products=True)
        assert result["status"] == "active"
        assert sorted((p["id"], p["price"], p["available"]) for p in result["products"]) == \
            sorted([(a["id"], 1999, 3), (b["id"], 250, 4)])
    assert "products" not in reserve(new_tx, f"r-{uuid.uuid4()}", [(a["id"], 1)])


def test_paid_multi_item_reservations_commit_concurrently_without_deadlock(new_tx, engine,
                                                                           reader, make_product):
    a, b = uuid.UUID(make_product(stock=12)["id"]), uuid.UUID(make_product(stock=20)["id"])
    orders = ([(a, 1), (b, 2)], [(b, 2), (a, 1)])
    payments = [uuid.uuid4() for _ in range(8)]
    events = [paid(payment) for payment in payments]
    for i, payment in enumerate(payments):
        reserve(new_tx, str(payment), orders[i % 2])

    def pay(i):
        with new_tx() as tx:
            assert payment_events.payment_succeeded(tx, events[i]) == "committed"

    assert hammer(8, pay) == {"ok": 8}
    assert [(reader.get(p).on_hand, reader.get(p).reserved) for p in (a, b)] == \
        [(4, 0), (4, 0)]
    with new_tx() as tx:
        assert tx.reservations.get(str(payments[0])).status == "committed"
        assert not tx.reservations.commit_active(str(payments[0]))  # committed once, never twice
    with engine.connect() as conn:
        moved = conn.execute(select(stock_movements.c.delta).where(
            stock_movements.c.product_id == b,
            stock_movements.c.reason.in_([f"sold: reservation {p}" for p in payments]))
        ).scalars().all()
    assert sorted(moved) == [-2] * 8
    with new_tx() as tx:
        assert payment_events.payment_succeeded(tx, events[0]) == "duplicate"


def test_a_paid_reservation_and_its_event_claim_commit_in_one_statement(engine, store, new_tx,
                                                                        reader, make_product):
    pid = uuid.UUID(make_product(stock=5)["id"])
    payment, event_id = uuid.uuid4(), uuid.uuid4()
    rid, event = str(payment), paid(payment, event_id)
    reserve(new_tx, rid, [(pid, 2)])
    assert payment_events.apply_succeeded(store, event) == "committed"
    assert (reader.get(pid).on_hand, reader.get(pid).reserved) == (3, 0)
    # A redelivery: its claim fails the one statement, and the transaction says why.
    assert not store.commit_paid(rid, payment_events.SUCCEEDED_HANDLER, str(event_id))
    assert payment_events.apply_succeeded(store, event) == "duplicate"
    with engine.connect() as conn:
        claims = conn.execute(select(inbox.c.message_id).where(
            inbox.c.message_id == str(event_id))).scalars().all()
    assert claims == [str(event_id)] and reader.get(pid).on_hand == 3
    # An event claimed before while its reservation is still active: nothing at all happens.
    other, claimed = str(uuid.uuid4()), str(uuid.uuid4())
    reserve(new_tx, other, [(pid, 1)])
    with new_tx() as tx:
        assert tx.inbox.claim(payment_events.SUCCEEDED_HANDLER, claimed)
    assert not store.commit_paid(other, payment_events.SUCCEEDED_HANDLER, claimed)
    with new_tx() as tx:
        assert tx.reservations.get(other).status == "active"
    assert (reader.get(pid).on_hand, reader.get(pid).reserved) == (3, 1)
