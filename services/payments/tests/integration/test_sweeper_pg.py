"""The sweeper drives payments abandoned mid-saga to a terminal state, charging at most once."""

from __future__ import annotations

import dataclasses

import pytest
from sqlalchemy import func, select, update

from payments import key_claims, use_cases
from payments.domain import Priced, charge_key
from payments.model import idempotency_keys, payments, simulator_charges


def body(product, method="tok_visa"):
    return {"items": [{"product_id": product, "quantity": 1}], "payment_method": method}


def only_payment(uow, user_id):
    with uow() as tx:
        return tx.session.execute(select(payments).where(payments.c.user_id == user_id)).one()


def charges(uow, payment_id) -> int:
    with uow() as tx:
        return tx.session.execute(select(func.count()).select_from(simulator_charges).where(
            simulator_charges.c.idempotency_key == charge_key(payment_id))).scalar()


def expire_leases(uow, user_id):
    with uow() as tx:
        tx.session.execute(update(idempotency_keys).where(idempotency_keys.c.user_id == user_id)
                           .values(locked_until=func.now() - func.make_interval(0, 0, 0, 0, 0, 1)))


def test_crash_after_the_charge_is_finished_by_the_sweeper(deps, catalog, customer, uow,
                                                          simulator):
    product = catalog.add(stock=5)
    simulator.crash_after_charge = True
    with pytest.raises(RuntimeError):
        use_cases.checkout(deps, customer, "k", body(product))
    simulator.crash_after_charge = False
    payment = only_payment(uow, customer.user_id)
    assert payment.status == "pending" and charges(uow, payment.id) == 1
    assert use_cases.sweep(deps, limit=1000) >= 1
    payment = only_payment(uow, customer.user_id)
    assert payment.status == "succeeded" and charges(uow, payment.id) == 1
    replay = use_cases.checkout(deps, customer, "k", body(product))
    assert (replay.status, replay.replayed, replay.body["id"]) == (201, True, str(payment.id))
    assert catalog.available(product) == 4


def test_process_killed_after_reserve_is_resumed_not_double_reserved(deps, catalog, customer,
                                                                    uow, simulator):
    """Set up what a SIGKILL after reserve leaves: a leased key, a pending payment, a held
    reservation; once the lease runs out the sweeper charges once and records."""
    product = catalog.add(stock=5)
    request = {"items": [{"product_id": product, "quantity": 2}], "payment_method": "tok_visa"}
    claim = key_claims.begin(deps, customer, "k", "checkout", request)
    with deps.store.transaction() as tx:
        tx.payments.insert(claim.record.resource_id, customer.user_id, Priced(2000, "USD", [
            {"product_id": product, "sku": "S", "name": "N", "unit_price": 1000,
             "quantity": 2}]), "tok_visa")
    catalog.reserve_stock(str(claim.record.resource_id), [{"product_id": product, "quantity": 2}])
    use_cases.sweep(deps, limit=1000)
    assert only_payment(uow, customer.user_id).status == "pending"  # still leased: untouched
    expire_leases(uow, customer.user_id)
    use_cases.sweep(deps, limit=1000)
    payment = only_payment(uow, customer.user_id)
    assert payment.status == "succeeded" and charges(uow, payment.id) == 1
    assert catalog.available(product) == 3 and simulator.charges == 1


def test_declined_charge_found_on_resume_is_compensated(deps, catalog, customer, uow):
    product = catalog.add(stock=5)
    catalog.fail_next["release_reservation"] = RuntimeError("died before releasing")
    with pytest.raises(RuntimeError):
        use_cases.checkout(deps, customer, "k", body(product, "tok_chargeDeclined"))
    assert only_payment(uow, customer.user_id).status == "pending"
    assert catalog.available(product) == 4
    use_cases.sweep(deps, limit=1000)
    payment = only_payment(uow, customer.user_id)
    assert (payment.status, payment.decline_code) == ("failed", "card_declined")
    assert catalog.available(product) == 5 and charges(uow, payment.id) == 1


def test_a_retry_takes_over_a_released_key_at_once(deps, catalog, customer, uow, simulator):
    product = catalog.add(stock=5)
    catalog.fail_next["reserve_stock"] = TimeoutError("catalog timed out")
    with pytest.raises(TimeoutError):
        use_cases.checkout(deps, customer, "k", body(product))
    retry = use_cases.checkout(deps, customer, "k", body(product))
    assert retry.status == 201 and not retry.replayed and simulator.charges == 1
    assert catalog.available(product) == 4


def test_request_that_died_before_its_payment_existed_is_forgotten(deps, customer, uow):
    short = dataclasses.replace(deps, lease_seconds=0.001)
    key_claims.begin(short, customer, "k", "checkout", {"items": []})
    use_cases.sweep(short, limit=1000)
    with uow() as tx:
        left = tx.session.execute(select(idempotency_keys).where(
            idempotency_keys.c.user_id == customer.user_id)).all()
    assert left == []


def test_died_after_reserving_before_its_payment_existed_gives_the_units_back(
        deps, catalog, customer, uow):
    product = catalog.add(stock=5)
    request = {"items": [{"product_id": product, "quantity": 2}], "payment_method": "tok_visa"}
    claim = key_claims.begin(deps, customer, "k", "checkout", request)
    catalog.reserve_stock(str(claim.record.resource_id), request["items"])
    assert catalog.available(product) == 3
    expire_leases(uow, customer.user_id)
    use_cases.sweep(deps, limit=1000)
    assert catalog.available(product) == 5
    assert catalog.reservations[str(claim.record.resource_id)]["status"] == "released"
    retry = use_cases.checkout(deps, customer, "k", body(product))  # the key is free again
    assert retry.status == 201 and not retry.replayed


def test_prune_drops_only_old_completed_keys(deps, catalog, customer, uow):
    product = catalog.add(stock=5)
    use_cases.checkout(deps, customer, "old", body(product))
    use_cases.checkout(deps, customer, "new", body(product))
    with uow() as tx:
        tx.session.execute(update(idempotency_keys).where(
            idempotency_keys.c.user_id == customer.user_id, idempotency_keys.c.key == "old")
            .values(completed_at=func.now() - func.make_interval(0, 0, 0, 0, 25)))
    assert use_cases.prune_keys(deps, 24.0) >= 1
    with uow() as tx:
        keys = {row.key for row in tx.session.execute(select(idempotency_keys.c.key).where(
            idempotency_keys.c.user_id == customer.user_id))}
    assert keys == {"new"}
