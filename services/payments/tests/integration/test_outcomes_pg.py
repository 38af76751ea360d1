"""The one-statement terminal outcome: it applies once, and not at all to a finished payment."""

from __future__ import annotations

import uuid

from sqlalchemy import func, select

from payments import use_cases
from payments.model import idempotency_keys, outbox
from payments.ports import Finish
from shared.messaging.outbox import new_event


def _order(product_id: str) -> dict:
    return {"items": [{"product_id": product_id, "quantity": 1}], "payment_method": "tok_visa"}


def _state(uow, payment_id: uuid.UUID, ledger_balance) -> tuple:
    with uow() as tx:
        events = tx.session.execute(select(func.count()).select_from(outbox).where(
            outbox.c.payload["payment_id"].astext == str(payment_id))).scalar()
        key = tx.session.execute(select(idempotency_keys.c.status_code, idempotency_keys.c.body)
                                 .where(idempotency_keys.c.resource_id == payment_id)).one()
        return ledger_balance(tx.session, payment_id), events, tuple(key)


def test_a_finished_payment_is_left_as_it_is(deps, catalog, customer, uow, ledger_balance):
    outcome = use_cases.checkout(deps, customer, "once", _order(catalog.add(price=700)))
    payment_id = uuid.UUID(outcome.body["id"])
    before = _state(uow, payment_id, ledger_balance)
    assert before == (700, 1, (201, outcome.body))

    event = new_event("payments", "payment_failed", {
        "payment_id": str(payment_id), "user_id": str(customer.user_id),
        "decline_code": "card_declined"})
    with deps.store.statement() as tx:
        for succeeded in (True, False):
            assert not tx.payments.finish(payment_id, Finish(succeeded, "ch_x", None, 402,
                                                             {"x": 1}, event))
    assert _state(uow, payment_id, ledger_balance) == before
    replay = use_cases.checkout(deps, customer, "once", _order(outcome.body["items"][0]
                                                               ["product_id"]))
    assert (replay.status, replay.body, replay.replayed) == (201, outcome.body, True)
