"""Checkout use cases on the real payments database, with a fake catalog and the card simulator."""

from __future__ import annotations

import concurrent.futures
import uuid

import pytest
from sqlalchemy import func, select

from payments import key_claims, use_cases
from payments.domain import charge_key
from payments.model import outbox, payments, simulator_charges
from shared.errors import BadRequest, Conflict, ServiceUnavailable, ValidationFailed


def body(*pairs, method="tok_visa"):
    return {"items": [{"product_id": p, "quantity": q} for p, q in pairs],
            "payment_method": method}


def charges_for(uow, payment_id) -> int:
    with uow() as tx:
        return tx.session.execute(select(func.count()).select_from(simulator_charges).where(
            simulator_charges.c.idempotency_key == charge_key(uuid.UUID(payment_id)))).scalar()


def events(uow, payment_id, event_type):
    with uow() as tx:
        rows = tx.session.execute(select(outbox.c.payload).where(
            outbox.c.event_type == event_type,
            outbox.c.payload["payment_id"].astext == payment_id)).all()
    return [row.payload for row in rows]


def payment_count(uow, user_id) -> int:
    with uow() as tx:
        return tx.session.execute(select(func.count()).select_from(payments).where(
            payments.c.user_id == user_id)).scalar()


def test_happy_path_prices_reserves_charges_records(deps, catalog, customer, uow, simulator,
                                                    ledger_balance):
    a, b = catalog.add(price=1999, stock=5), catalog.add(price=500, stock=5)
    outcome = use_cases.checkout(deps, customer, "k1", body((a, 2), (b, 1)))
    assert (outcome.status, outcome.replayed) == (201, False)
    payment = outcome.body
    assert payment["status"] == "succeeded" and payment["amount"] == 2 * 1999 + 500
    assert payment["user_id"] == str(customer.user_id) and payment["currency"] == "USD"
    assert payment["refunded_amount"] == 0 and payment["decline_code"] is None
    assert payment["items"][0] == {"product_id": a, "sku": catalog.products[a]["sku"],
                                   "name": catalog.products[a]["name"], "unit_price": 1999,
                                   "quantity": 2}
    assert payment["created_at"].endswith("Z")
    assert catalog.available(a) == 3 and catalog.available(b) == 4
    assert catalog.reservations[payment["id"]]["status"] == "active"
    assert charges_for(uow, payment["id"]) == 1 and simulator.charges == 1
    [event] = events(uow, payment["id"], "payment_succeeded")
    assert event["amount"] == 4498 and event["user_id"] == str(customer.user_id)
    assert {(i["product_id"], i["quantity"], i["unit_price"]) for i in event["items"]} == {
        (a, 2, 1999), (b, 1, 500)}
    with uow() as tx:
        assert ledger_balance(tx.session, uuid.UUID(payment["id"])) == 4498


@pytest.mark.parametrize(("method", "code"), [
    ("tok_chargeDeclined", "card_declined"),
    ("tok_chargeDeclinedInsufficientFunds", "insufficient_funds"),
    ("tok_processingError", "processing_error"),
])
def test_declines_are_402_failed_and_release_the_stock(deps, catalog, customer, uow, simulator,
                                                       method, code, ledger_balance):
    product = catalog.add(stock=3)
    outcome = use_cases.checkout(deps, customer, "k", body((product, 2), method=method))
    assert outcome.status == 402
    assert outcome.body["decline_code"] == code and outcome.body["status"] == 402
    payment_id = outcome.body["payment_id"]
    assert catalog.reservations[payment_id]["status"] == "released"
    assert catalog.available(product) == 3
    assert simulator.charges == (3 if code == "processing_error" else 1)  # bounded retries
    [event] = events(uow, payment_id, "payment_failed")
    assert event["decline_code"] == code
    with uow() as tx:
        row = tx.session.execute(select(payments).where(payments.c.id == payment_id)).one()
        assert (row.status, row.decline_code) == ("failed", code)
        assert ledger_balance(tx.session, row.id) == 0
    replay = use_cases.checkout(deps, customer, "k", body((product, 2), method=method))
    assert (replay.status, replay.body, replay.replayed) == (402, outcome.body, True)
    assert simulator.charges == (3 if code == "processing_error" else 1)


def test_out_of_stock_is_409_nothing_charged_and_stored(deps, catalog, customer, uow, simulator):
    product = catalog.add(stock=1)
    outcome = use_cases.checkout(deps, customer, "k", body((product, 2)))
    assert outcome.status == 409 and outcome.body["code"] == "out_of_stock"
    assert simulator.charges == 0 and payment_count(uow, customer.user_id) == 0
    catalog.products[product]["stock"] = 10  # a replay answers the stored outcome, not afresh
    replay = use_cases.checkout(deps, customer, "k", body((product, 2)))
    assert (replay.status, replay.replayed) == (409, True) and simulator.charges == 0


def test_same_key_replays_and_charges_once(deps, catalog, customer, uow, simulator):
    product = catalog.add(stock=10)
    first = use_cases.checkout(deps, customer, "same", body((product, 1)))
    again = use_cases.checkout(deps, customer, "same", body((product, 1)))
    assert (again.status, again.body, again.replayed) == (201, first.body, True)
    assert simulator.charges == 1 and catalog.available(product) == 9


def test_same_key_other_body_is_422_and_keys_are_per_user(deps, catalog, customer, simulator):
    product = catalog.add(stock=10)
    use_cases.checkout(deps, customer, "k", body((product, 1)))
    with pytest.raises(ValidationFailed):
        use_cases.checkout(deps, customer, "k", body((product, 2)))
    other = use_cases.checkout(deps, type(customer)(uuid.uuid4()), "k", body((product, 2)))
    assert other.status == 201 and not other.replayed and simulator.charges == 2


def test_validation_failures_are_not_stored(deps, catalog, customer, simulator):
    product = catalog.add()
    with pytest.raises(BadRequest):
        use_cases.checkout(deps, customer, "", body((product, 1)))
    with pytest.raises(ValidationFailed):
        use_cases.checkout(deps, customer, "k", body((product, 1), method="tok_unknown"))
    with pytest.raises(ValidationFailed):
        use_cases.checkout(deps, customer, "k", body((str(uuid.uuid4()), 1)))
    with pytest.raises(ValidationFailed):
        euros = catalog.add(currency="EUR")
        use_cases.checkout(deps, customer, "k", body((product, 1), (euros, 1)))
    assert simulator.charges == 0
    assert use_cases.checkout(deps, customer, "k", body((product, 1))).status == 201


def test_catalog_down_before_anything_happened_leaves_the_key_free(deps, catalog, customer):
    product = catalog.add()
    catalog.fail_next["reserve_stock"] = ServiceUnavailable("catalog down")
    with pytest.raises(ServiceUnavailable):
        use_cases.checkout(deps, customer, "k", body((product, 1)))
    assert use_cases.checkout(deps, customer, "k", body((product, 3))).status == 201


def test_one_catalog_call_prices_and_reserves(deps, catalog, customer):
    product = catalog.add(price=700)
    outcome = use_cases.checkout(deps, customer, "k", body((product, 2)))
    assert (outcome.status, outcome.body["amount"]) == (201, 1400)
    assert catalog.calls == ["reserve_stock"]


def test_same_key_in_flight_is_409_not_stored(deps, catalog, customer, uow):
    product = catalog.add()
    request = {"items": [{"product_id": product, "quantity": 1}], "payment_method": "tok_visa"}
    key_claims.begin(deps, customer, "busy", "checkout", request)
    with pytest.raises(Conflict) as caught:
        use_cases.checkout(deps, customer, "busy", body((product, 1)))
    assert caught.value.to_problem()["code"] == "idempotency_key_in_use"


def test_twenty_concurrent_identical_requests_charge_once(deps, catalog, customer, uow,
                                                          simulator):
    product = catalog.add(stock=100)
    catalog.reserve_delay = 0.2  # keep the first request in flight while the others arrive

    def attempt(_: int) -> tuple[int, bool] | str:
        try:
            outcome = use_cases.checkout(deps, customer, "burst", body((product, 1)))
            return outcome.status, outcome.replayed
        except Conflict:
            return "in flight"

    with concurrent.futures.ThreadPoolExecutor(20) as pool:
        results = list(pool.map(attempt, range(20)))
    assert results.count((201, False)) == 1
    assert all(r in ((201, False), (201, True), "in flight") for r in results)
    assert simulator.charges == 1 and payment_count(uow, customer.user_id) == 1
    assert catalog.available(product) == 99


def test_a_replay_never_asks_the_catalog(deps, catalog, customer, simulator):
    product = catalog.add(stock=10)
    first = use_cases.checkout(deps, customer, "k", body((product, 1)))
    catalog.products[product]["deleted"] = True  # pricing would be a 422 now
    calls = list(catalog.calls)
    replay = use_cases.checkout(deps, customer, "k", body((product, 1)))
    assert (replay.status, replay.body, replay.replayed) == (201, first.body, True)
    with pytest.raises(ValidationFailed):  # another body with the key: still the mismatch
        use_cases.checkout(deps, customer, "k", body((product, 2)))
    assert catalog.calls == calls and simulator.charges == 1


def test_a_bad_price_gives_the_reserved_units_back_and_stores_nothing(deps, catalog,
                                                                     customer, simulator):
    usd, eur = catalog.add(currency="USD", stock=5), catalog.add(currency="EUR", stock=5)
    with pytest.raises(ValidationFailed):
        use_cases.checkout(deps, customer, "k", body((usd, 1), (eur, 1)))
    assert catalog.available(usd) == 5 and catalog.available(eur) == 5
    assert simulator.charges == 0
    assert use_cases.checkout(deps, customer, "k", body((usd, 2))).status == 201
