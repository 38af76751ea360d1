"""The nameko entrypoints in-process (nameko's worker_factory) over the fakes of the ports: each
one parses, runs its use case and renders its view; roles are checked where they belong."""

from __future__ import annotations

import uuid

import pytest
from nameko.testing.services import worker_factory

from payments.service import PaymentsService
from shared.errors import Forbidden, NotFound, PaymentNotFound
from shared.tokens import Identity


class FakePrincipal:
    def __init__(self, user_id: uuid.UUID, *roles: str) -> None:
        self.who = Identity(str(user_id), roles)

    def identity(self) -> Identity:
        return self.who

    def require_role(self, role: str) -> Identity:
        if not self.who.has_role(role):
            raise Forbidden(f"This requires the {role} role.")
        return self.who


CUSTOMER, ADMIN = uuid.UUID(int=7), uuid.UUID(int=8)


def worker(deps, user_id=CUSTOMER, *roles):
    return worker_factory(PaymentsService, ports=deps, principal=FakePrincipal(user_id, *roles))


def order(product):
    return {"items": [{"product_id": product, "quantity": 1}], "payment_method": "tok_visa"}


def test_checkout_answers_the_outcome_and_a_replay_says_so(deps, catalog):
    product = catalog.add(price=250)
    service = worker(deps)
    first = service.checkout("k", order(product))
    assert (first["status"], first["replayed"], first["body"]["amount"]) == (201, False, 250)
    again = service.checkout("k", order(product))
    assert (again["status"], again["replayed"], again["body"]) == (201, True, first["body"])


def test_payments_are_read_by_their_owner_or_an_admin_only(deps, catalog):
    paid = worker(deps).checkout("k", order(catalog.add()))["body"]
    assert worker(deps).get_payment(paid["id"]) == paid
    assert worker(deps, ADMIN, "admin").get_payment(paid["id"]) == paid
    with pytest.raises(PaymentNotFound):
        worker(deps, uuid.uuid4()).get_payment(paid["id"])
    page = worker(deps).list_payments(limit=1)
    assert (page["items"], page["next_cursor"]) == ([paid], None)
    with pytest.raises(Forbidden):
        worker(deps, uuid.uuid4()).list_payments(user_id=str(CUSTOMER))


def test_refunds_are_for_admins_and_hide_other_users_payments(deps, catalog, store):
    paid = worker(deps).checkout("k", order(catalog.add(price=900)))["body"]
    with pytest.raises(Forbidden):
        worker(deps).refund(paid["id"], "r")
    with pytest.raises(NotFound):
        worker(deps, uuid.uuid4()).refund(paid["id"], "r")
    refunded = worker(deps, ADMIN, "admin").refund(paid["id"], "r", {"amount": 400})
    assert (refunded["status"], refunded["body"]["amount"]) == (201, 400)
    assert store.tables.payments[uuid.UUID(paid["id"])].status == "partially_refunded"


def test_admin_views_require_the_admin_role(deps, catalog):
    worker(deps).checkout("k", order(catalog.add()))
    with pytest.raises(Forbidden):
        worker(deps).pending_payments()
    with pytest.raises(Forbidden):
        worker(deps).reconcile()
    assert worker(deps, ADMIN, "admin").pending_payments() == {"count": 0, "items": []}
    assert worker(deps, ADMIN, "admin").reconcile() == []


def test_the_sweeper_timer_completes_an_abandoned_checkout(deps, catalog, store, provider):
    product = catalog.add()
    provider.die_after_charge = True
    with pytest.raises(RuntimeError):
        worker(deps).checkout("k", order(product))
    worker(deps).sweep()
    [payment] = store.tables.payments.values()
    assert payment.status == "succeeded" and provider.money_moved == 1
