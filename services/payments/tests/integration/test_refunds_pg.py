"""Refunds and the ledger on the real payments database."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import insert, select

from payments import reads, use_cases
from payments.model import ledger_entries, outbox, payments, simulator_charges
from payments.postgres import PgLedger
from shared.errors import Conflict, NotFound, ValidationFailed


@pytest.fixture
def paid(deps, catalog, customer):
    """A succeeded payment of 2 x 1000 USD."""
    product = catalog.add(price=1000, stock=10)
    outcome = use_cases.checkout(deps, customer, f"pay-{uuid.uuid4()}", {
        "items": [{"product_id": product, "quantity": 2}], "payment_method": "tok_visa"})
    assert outcome.status == 201
    return outcome.body


@pytest.fixture
def state(uow, ledger_balance):
    return lambda payment_id: _state(uow, ledger_balance, payment_id)


def _state(uow, ledger_balance, payment_id):
    with uow() as tx:
        row = tx.session.execute(select(payments).where(payments.c.id == payment_id)).one()
        return row.status, row.refunded_amount, ledger_balance(tx.session, row.id)


def test_partial_then_rest_by_default(state, deps, admin, uow, paid, simulator):
    first = use_cases.refund(deps, admin, paid["id"], "r1", {"amount": 500})
    assert first.status == 201
    assert {k: first.body[k] for k in ("payment_id", "amount", "currency", "restock")} == {
        "payment_id": paid["id"], "amount": 500, "currency": "USD", "restock": False}
    assert state(paid["id"]) == ("partially_refunded", 500, 1500)
    rest = use_cases.refund(deps, admin, paid["id"], "r2", {"restock": True})
    assert (rest.body["amount"], rest.body["restock"]) == (1500, True)
    assert state(paid["id"]) == ("refunded", 2000, 0)
    with uow() as tx:
        payloads = [r.payload for r in tx.session.execute(select(outbox.c.payload).where(
            outbox.c.event_type == "payment_refunded",
            outbox.c.payload["payment_id"].astext == paid["id"]).order_by(outbox.c.id))]
        charge = tx.session.execute(select(simulator_charges).where(
            simulator_charges.c.amount == 2000, simulator_charges.c.refunded_amount == 2000,
            simulator_charges.c.idempotency_key == f"payment-{paid['id']}")).one_or_none()
    assert [(p["amount"], p["restock"], p["refund_id"]) for p in payloads] == [
        (500, False, first.body["id"]), (1500, True, rest.body["id"])]
    assert charge is not None and simulator.refunds == 2
    with pytest.raises(Conflict):
        use_cases.refund(deps, admin, paid["id"], "r3", {})


def test_refund_replays_and_refunds_once(state, deps, admin, uow, paid, simulator):
    first = use_cases.refund(deps, admin, paid["id"], "same", {"amount": 300})
    again = use_cases.refund(deps, admin, paid["id"], "same", {"amount": 300})
    assert (again.status, again.body, again.replayed) == (201, first.body, True)
    assert simulator.refunds == 1 and state(paid["id"])[1] == 300
    with pytest.raises(ValidationFailed):
        use_cases.refund(deps, admin, paid["id"], "same", {"amount": 301})


def test_over_refund_and_partial_restock_are_422_and_not_stored(state, deps, admin, uow, paid):
    with pytest.raises(ValidationFailed):
        use_cases.refund(deps, admin, paid["id"], "k", {"amount": 2001})
    with pytest.raises(ValidationFailed):
        use_cases.refund(deps, admin, paid["id"], "k", {"amount": 1000, "restock": True})
    assert state(paid["id"]) == ("succeeded", 0, 2000)
    # Not stored: the corrected request with the same key proceeds.
    done = use_cases.refund(deps, admin, paid["id"], "k", {"amount": 2000, "restock": True})
    assert done.status == 201


def test_failed_and_unknown_payments_cannot_be_refunded(deps, admin, catalog, customer):
    product = catalog.add()
    declined = use_cases.checkout(deps, customer, "d", {
        "items": [{"product_id": product, "quantity": 1}], "payment_method": "tok_chargeDeclined"})
    with pytest.raises(Conflict):
        use_cases.refund(deps, admin, declined.body["payment_id"], "k", {})
    with pytest.raises(NotFound):
        use_cases.refund(deps, admin, str(uuid.uuid4()), "k2", {})
    with pytest.raises(NotFound):
        use_cases.refund(deps, admin, "not-a-uuid", "k3", {})


def test_spent_is_captured_minus_refunded_per_currency(deps, admin, catalog, customer):
    usd, eur = catalog.add(price=1000, currency="USD"), catalog.add(price=700, currency="EUR")
    for key, product in (("a", usd), ("b", usd), ("c", eur)):
        use_cases.checkout(deps, customer, key, {
            "items": [{"product_id": product, "quantity": 1}], "payment_method": "tok_visa"})
    use_cases.checkout(deps, customer, "declined", {
        "items": [{"product_id": usd, "quantity": 1}], "payment_method": "tok_chargeDeclined"})
    first = reads.list_payments(deps.store, customer, {"limit": 100})["items"][-1]
    use_cases.refund(deps, admin, first["id"], "r", {"amount": 250})
    assert reads.spent(deps.store, customer) == [{"amount": 700, "currency": "EUR"},
                                                {"amount": 1750, "currency": "USD"}]


def test_ledger_reconciles_and_reports_a_tampered_entry(deps, admin, uow, paid):
    use_cases.refund(deps, admin, paid["id"], "r", {"amount": 123})
    assert reads.reconcile(deps.store) == []
    with uow() as tx:  # break the books inside a transaction that is rolled back
        tx.session.execute(insert(ledger_entries).values(
            transaction_id=uuid.uuid4(), kind="refund", payment_id=uuid.UUID(paid["id"]),
            user_id=uuid.uuid4(), account="sales", amount=77, currency="USD"))
        found = PgLedger(tx.session).reconcile()
        tx.session.rollback()
    checks = {(m["check"], m.get("payment_id")) for m in found}
    assert ("ledger_balance", paid["id"]) in checks
    assert any(m["check"] == "transaction_balances" for m in found)
    assert reads.reconcile(deps.store) == []
