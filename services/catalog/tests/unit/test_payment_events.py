"""Applying payments' events (built from the bus contract) against in-memory fakes."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from catalog_fake_products import NOW
from catalog_unit_fakes import refunded, succeeded
from catalog_unit_steps import TTL, available, product, reserve

from catalog import payment_events, reservations

E = [uuid.UUID(int=n) for n in range(10)]  # event ids



def test_payment_succeeded_commits_and_refund_restocks_once(tx, state):
    a, pay = product(tx, "A", 5), uuid.uuid4()
    reserve(tx, str(pay), [(a, 2)])
    with tx:
        assert payment_events.payment_succeeded(tx, succeeded(pay, E[1])) == "committed"
    with tx:  # the same event again (redelivered): nothing happens
        assert payment_events.payment_succeeded(tx, succeeded(pay, E[1])) == "duplicate"
    with tx:  # another event for the same payment: already committed
        assert payment_events.payment_succeeded(tx, succeeded(pay, E[2])) == "already committed"
    assert state.products[a]["on_hand"] == 3
    with tx:
        assert payment_events.payment_refunded(tx, refunded(pay, E[3], restock=False)) == \
            "no restock"
        assert payment_events.payment_refunded(tx, refunded(pay, E[4])) == "restocked"
        assert payment_events.payment_refunded(tx, refunded(pay, E[4])) == "duplicate"
        assert payment_events.payment_refunded(tx, refunded(pay, E[5])) == "already restocked"
    assert available(state, a) == 5


def test_an_event_whose_effect_fails_is_not_marked_applied(tx, state, monkeypatch):
    a, pay = product(tx, "A", 5), uuid.uuid4()
    reserve(tx, str(pay), [(a, 2)])
    monkeypatch.setattr(tx.reservations, "commit_active", lambda *args: 1 / 0)
    with pytest.raises(ZeroDivisionError), tx:
        payment_events.payment_succeeded(tx, succeeded(pay, E[9]))
    monkeypatch.undo()
    with tx:
        assert payment_events.payment_succeeded(tx, succeeded(pay, E[9])) == "committed"


def test_payment_after_expiry_takes_the_units_again_or_reports_oversold(tx, state):
    a, b = product(tx, "A", 2), product(tx, "B", 2)
    late, gone = uuid.uuid4(), uuid.uuid4()
    later = NOW + dt.timedelta(seconds=TTL + 5)
    reserve(tx, str(late), [(a, 1), (b, 2)])
    with tx:
        reservations.expire_due(tx, later)
    reserve(tx, str(gone), [(a, 1), (b, 2)], now=later)
    with tx:
        reservations.expire_due(tx, later + dt.timedelta(seconds=TTL))
    with tx:
        assert payment_events.payment_succeeded(tx, succeeded(late)) == "committed late"
    assert (available(state, a), available(state, b)) == (1, 0)
    with tx:
        assert payment_events.payment_succeeded(tx, succeeded(gone)) == "oversold"
    assert (available(state, a), available(state, b)) == (1, 0)
    assert state.products[a]["on_hand"] == 1


def test_a_payment_is_applied_in_one_step_and_its_duplicate_is_not(tx, state, store):
    a, pay = product(tx, "A", 5), uuid.uuid4()
    reserve(tx, str(pay), [(a, 2)])
    apply = payment_events.apply_succeeded
    assert apply(store, succeeded(pay, E[3])) == "committed"
    assert (state.products[a]["on_hand"], state.products[a]["reserved"]) == (3, 0)
    assert apply(store, succeeded(pay, E[3])) == "duplicate"  # (the transaction's path)
    assert apply(store, succeeded(pay, E[4])) == "already committed"
    assert apply(store, succeeded(uuid.uuid4(), E[5])) == "no reservation"
    assert store.paid_calls == 4 and state.products[a]["on_hand"] == 3
