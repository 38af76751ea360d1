"""Payments' events (built from the bus contract) applied on real PostgreSQL: concurrently,
once, and in one statement when they can."""

from __future__ import annotations

import uuid

from sqlalchemy import select

from catalog import payment_events
from catalog.model import inbox, stock_movements
from shared.contracts.events import PaymentSucceeded
from shared.wire import utcnow


def paid(payment_id, event_id=None):
    """payments' payment_succeeded as the bus contract has it."""
    return PaymentSucceeded(event_id=event_id or uuid.uuid4(), occurred_at=utcnow(),
                            schema_version=1, payment_id=payment_id, user_id=uuid.uuid4(),
                            amount=100, currency="USD", items=[])


def test_paid_multi_item_reservations_commit_concurrently_without_deadlock(new_tx, engine, reader,
                                                                           make_product, reserve,
                                                                           hammer):
    a, b = uuid.UUID(make_product(stock=12)["id"]), uuid.UUID(make_product(stock=20)["id"])
    orders = ([(a, 1), (b, 2)], [(b, 2), (a, 1)])
    payments = [uuid.uuid4() for _ in range(8)]
    events = [paid(payment) for payment in payments]
    for i, payment in enumerate(payments):
        reserve(str(payment), orders[i % 2])

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
                                                                        reader, make_product,
                                                                        reserve):
    pid = uuid.UUID(make_product(stock=5)["id"])
    payment, event_id = uuid.uuid4(), uuid.uuid4()
    rid, event = str(payment), paid(payment, event_id)
    reserve(rid, [(pid, 2)])
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
    reserve(other, [(pid, 1)])
    with new_tx() as tx:
        assert tx.inbox.claim(payment_events.SUCCEEDED_HANDLER, claimed)
    assert not store.commit_paid(other, payment_events.SUCCEEDED_HANDLER, claimed)
    with new_tx() as tx:
        assert tx.reservations.get(other).status == "active"
    assert (reader.get(pid).on_hand, reader.get(pid).reserved) == (3, 1)
