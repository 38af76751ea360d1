"""The checkout use case and its saga over fakes of payments' ports: outcomes, replays, the key
state machine in front, and recovery after a crash at each step."""

from __future__ import annotations

import uuid

import pytest

from payments import key_claims, use_cases
from payments.domain import Actor, charge_key
from payments.pricing import price_from
from shared.errors import (
    Conflict,
    IdempotencyKeyInUse,
    ReservationLapsed,
    ReservationMismatch,
    ServiceUnavailable,
    ValidationFailed,
)
from shared.errors.payments import IdempotencyKeyReused

ALICE = Actor(uuid.UUID(int=1))


def order(*pairs, method="tok_visa"):
    return {"items": [{"product_id": p, "quantity": q} for p, q in pairs],
            "payment_method": method}


def died_after_charging(deps, product):
    """What a process that died right after the provider charged leaves: a pending payment."""
    deps.provider.die_after_charge = True
    with pytest.raises(RuntimeError):
        use_cases.checkout(deps, ALICE, "k", order((product, 1)))


def died_before_charging(deps, store, catalog, product):
    """A pending payment whose request died before the charge, its key's lease over."""
    items = [{"product_id": product, "quantity": 1}]
    record = key_claims.begin(deps, ALICE, "k", "checkout",
                              {"items": items, "payment_method": "tok_visa"}).record
    with store.transaction() as tx:
        tx.payments.insert(record.resource_id, ALICE.user_id,
                           price_from(catalog.get_products([product]), items), "tok_visa")
        tx.keys.release(record.resource_id)
    return record.resource_id


def test_a_checkout_reserves_charges_and_records_its_outcome(deps, store, catalog, provider):
    a, b = catalog.add(price=1999), catalog.add(price=500)
    outcome = use_cases.checkout(deps, ALICE, "k", order((a, 2), (b, 1), (a, 1)))
    assert (outcome.status, outcome.replayed) == (201, False)
    body = outcome.body
    assert (body["status"], body["amount"], body["currency"]) == ("succeeded", 3 * 1999 + 500,
                                                                  "USD")
    assert [(i["product_id"], i["quantity"]) for i in body["items"]] == [(a, 3), (b, 1)]
    payment = store.tables.payments[uuid.UUID(body["id"])]
    assert payment.status == "succeeded" and payment.charge_id is not None
    assert catalog.reservations[body["id"]]["status"] == "active"
    assert catalog.calls == ["reserve_stock"] and provider.money_moved == 1
    [(event_type, event)] = store.tables.events
    assert event_type == "payment_succeeded" and event["amount"] == body["amount"]
    assert sum(amount for _, account, amount in store.tables.ledger if account == "sales") == \
        -body["amount"]
    key = store.key(ALICE.user_id, "k")
    assert (key.state, key.status_code, key.body) == ("completed", 201, body)


def test_a_stored_outcome_is_replayed_without_doing_anything_again(deps, catalog, provider):
    product = catalog.add()
    first = use_cases.checkout(deps, ALICE, "k", order((product, 1)))
    again = use_cases.checkout(deps, ALICE, "k", order((product, 1)))
    assert (again.status, again.body, again.replayed) == (201, first.body, True)
    assert catalog.calls == ["reserve_stock"] and provider.money_moved == 1


def test_a_declined_card_releases_the_reservation(deps, store, catalog, provider):
    product = catalog.add(stock=1)
    outcome = use_cases.checkout(deps, ALICE, "k", order((product, 1), method="tok_chargeDeclined"))
    assert outcome.status == 402
    assert (outcome.body["code"], outcome.body["decline_code"]) == ("payment_declined",
                                                                    "card_declined")
    payment_id = outcome.body["payment_id"]
    assert catalog.reservations[payment_id]["status"] == "released"
    assert catalog.available(product) == 1 and provider.money_moved == 0
    assert store.tables.payments[uuid.UUID(payment_id)].status == "failed"
    assert [e for e, _ in store.tables.events] == ["payment_failed"]
    assert store.key(ALICE.user_id, "k").status_code == 402


def test_out_of_stock_is_a_stored_409_and_keeps_no_payment(deps, store, catalog, provider):
    product = catalog.add(stock=1)
    outcome = use_cases.checkout(deps, ALICE, "k", order((product, 2)))
    assert (outcome.status, outcome.body["code"]) == (409, "out_of_stock")
    assert store.tables.payments == {} and provider.charges == {}
    assert store.key(ALICE.user_id, "k").status_code == 409


def test_a_lapsed_reservation_is_not_read_as_out_of_stock(deps, store, catalog):
    catalog.fail_next["reserve_stock"] = ReservationLapsed("Reservation is expired.")
    outcome = use_cases.checkout(deps, ALICE, "k", order((catalog.add(), 1)))
    assert (outcome.status, outcome.body["code"]) == (409, "reservation_expired")
    assert store.key(ALICE.user_id, "k").status_code == 409


def test_another_conflict_is_not_an_outcome_the_sweeper_retries_it(deps, store, catalog):
    catalog.fail_next["reserve_stock"] = ReservationMismatch("Other items.")
    with pytest.raises(ReservationMismatch):
        use_cases.checkout(deps, ALICE, "k", order((catalog.add(), 1)))
    key = store.key(ALICE.user_id, "k")
    assert key.state == "in_flight" and key.resource_id in store.tables.expired


def test_a_key_in_flight_is_409_and_a_key_reused_with_another_body_is_422(deps, catalog):
    product = catalog.add()
    key_claims.begin(deps, ALICE, "busy", "checkout",
                    {"items": [{"product_id": product, "quantity": 1}],
                     "payment_method": "tok_visa"})
    with pytest.raises(IdempotencyKeyInUse) as caught:
        use_cases.checkout(deps, ALICE, "busy", order((product, 1)))
    assert caught.value.to_problem()["code"] == "idempotency_key_in_use"
    use_cases.checkout(deps, ALICE, "done", order((product, 1)))
    with pytest.raises(IdempotencyKeyReused):
        use_cases.checkout(deps, ALICE, "done", order((product, 2)))


def test_a_crash_after_reserving_is_completed_by_the_sweeper(deps, store, catalog, provider):
    product = catalog.add(stock=1)
    catalog.fail_after_reserve = RuntimeError("the answer was lost")
    with pytest.raises(RuntimeError):
        use_cases.checkout(deps, ALICE, "k", order((product, 1)))
    assert catalog.available(product) == 0 and store.tables.payments == {}
    assert use_cases.sweep(deps) == 1
    assert catalog.available(product) == 1 and provider.charges == {}
    assert store.key(ALICE.user_id, "k") is None  # forgotten: a retry starts afresh


def test_a_crash_after_charging_is_resumed_by_a_retry_without_a_second_charge(
        deps, store, catalog, provider):
    product = catalog.add()
    died_after_charging(deps, product)
    [payment] = store.tables.payments.values()
    assert payment.status == "pending"
    outcome = use_cases.checkout(deps, ALICE, "k", order((product, 1)))
    assert (outcome.status, outcome.replayed, outcome.body["id"]) == (201, False, str(payment.id))
    assert provider.money_moved == 1 and list(provider.charges) == [charge_key(payment.id)]
    assert catalog.reservations[str(payment.id)]["status"] == "active"


def test_a_resumed_payment_whose_reservation_lapsed_settles_an_earlier_charge(
        deps, store, catalog, provider):
    product = catalog.add()
    died_after_charging(deps, product)
    catalog.fail_next["reserve_stock"] = ReservationLapsed("Reservation is expired.")
    assert use_cases.sweep(deps) == 1
    outcome = use_cases.checkout(deps, ALICE, "k", order((product, 1)))
    assert (outcome.status, outcome.replayed) == (201, True)
    assert provider.money_moved == 1


def test_a_resumed_payment_whose_reservation_lapsed_before_any_charge_is_not_kept(
        deps, store, catalog, provider):
    died_before_charging(deps, store, catalog, catalog.add())
    catalog.fail_next["reserve_stock"] = ReservationLapsed("Reservation is expired.")
    assert use_cases.sweep(deps) == 1
    key = store.key(ALICE.user_id, "k")
    assert (key.status_code, key.body["code"]) == (409, "reservation_expired")
    assert store.tables.payments == {} and provider.charges == {}


def test_a_resumed_payment_settles_an_earlier_decline_whatever_the_catalog_refusal_says(
        deps, store, catalog, provider):
    product = catalog.add()
    catalog.fail_next["release_reservation"] = RuntimeError("died before releasing")
    with pytest.raises(RuntimeError):
        use_cases.checkout(deps, ALICE, "k", order((product, 1), method="tok_chargeDeclined"))
    # An older catalog answers a released reservation with a bare Conflict.
    catalog.fail_next["reserve_stock"] = Conflict("Reservation is released.",
                                                  extra={"code": "reservation_released"})
    assert use_cases.sweep(deps) == 1
    [payment] = store.tables.payments.values()
    assert (payment.status, payment.decline_code) == ("failed", "card_declined")
    assert catalog.reservations[str(payment.id)]["status"] == "released"


def test_a_resumed_payment_meeting_another_conflict_before_any_charge_stays_for_the_sweeper(
        deps, store, catalog, provider):
    payment_id = died_before_charging(deps, store, catalog, catalog.add())
    catalog.fail_next["reserve_stock"] = ReservationMismatch("Other items.")
    assert use_cases.sweep(deps) == 1  # logged, and the key released for the next sweep
    assert store.tables.payments[payment_id].status == "pending"
    assert payment_id in store.tables.expired and provider.charges == {}


def test_an_unknown_product_is_422_and_the_key_is_forgotten(deps, store, catalog):
    good, gone = catalog.add(), catalog.add(deleted=True)
    with pytest.raises(ValidationFailed) as caught:
        use_cases.checkout(deps, ALICE, "k", order((good, 1), (gone, 1)))
    assert [e["field"] for e in caught.value.errors] == ["items.1.product_id"]
    assert store.key(ALICE.user_id, "k") is None


def test_a_catalog_nobody_answered_forgets_the_key(deps, store, catalog):
    catalog.fail_next["reserve_stock"] = ServiceUnavailable("catalog is down")
    with pytest.raises(ServiceUnavailable):
        use_cases.checkout(deps, ALICE, "k", order((catalog.add(), 1)))
    assert store.key(ALICE.user_id, "k") is None
