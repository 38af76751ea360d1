"""Checkout (idempotency + saga), the sweeper that completes abandoned requests, and pruning.

Plain functions over `Deps` (units of work and ports); nameko lives only in service.py.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.orm import Session

from payments import errors, idempotency, refunds, repository, schemas, signals
from payments.catalog_port import Priced, price, price_from
from payments.core import Actor, Deps, Outcome, begin
from payments.key_states import Decision, KeyRecord
from payments.saga import drive
from shared.errors import Conflict, NotFound, ServiceUnavailable, ValidationFailed

log = logging.getLogger(__name__)


def checkout(deps: Deps, actor: Actor, key: Any, payload: Any) -> Outcome:
    key = schemas.check_key(key)
    request = schemas.parse(schemas.CheckoutIn, payload)
    if not deps.provider.accepts(request.payment_method):
        raise ValidationFailed("This payment method is not supported.",
                               [{"field": "payment_method", "message": "unsupported method"}])
    quantities: dict[str, int] = {}
    for item in request.items:  # the same product twice is one line
        product_id = str(item.product_id)
        quantities[product_id] = quantities.get(product_id, 0) + item.quantity
    items = [{"product_id": p, "quantity": q} for p, q in quantities.items()]
    canonical: dict[str, Any] = {"items": items, "payment_method": request.payment_method}
    claim = begin(deps, actor, key, "checkout", canonical)
    if isinstance(claim, Outcome):
        return claim
    # A key this request made: no payment can exist yet, so there is none to look up.
    return _start_or_resume(deps, claim.record, fresh=claim.decision is Decision.NEW)


def _start_or_resume(deps: Deps, record: KeyRecord, fresh: bool = False) -> Outcome:
    payment_id = record.resource_id
    payment = None
    if not fresh:
        with deps.uow() as uow:
            payment = repository.get(uow.session, payment_id)
    reserved = payment is None
    if payment is None:  # new, or taking over a request that died before its payment existed
        started = _reserve_and_create(deps, record)
        if isinstance(started, Outcome):
            return started
        payment = started
    try:
        return drive(deps, payment_id, payment, reserved=reserved)
    except ValidationFailed:
        raise
    except Exception:
        with deps.uow() as uow:  # a retry with the key, or the sweeper, resumes at once
            idempotency.release(uow.session, payment_id)
        raise


def _reserve_and_create(deps: Deps, record: KeyRecord) -> Any:
    """Reserve and price in one catalog call (the reservation is the payment id), then create
    the pending payment: the payment or, out of stock, the stored 409."""
    payment_id, items = record.resource_id, record.request["items"]
    try:
        products = deps.catalog.reserve_priced(str(payment_id), items)
    except Conflict as exc:  # out of stock: nothing reserved, nothing charged
        return _out_of_stock(deps, payment_id, exc.detail)
    except (NotFound, ValidationFailed):
        _forget(deps, payment_id)  # nothing was reserved; say which products are unknown
        price(deps.catalog, items)
        raise ValidationFailed("A product is no longer available.") from None
    except ServiceUnavailable:
        _forget(deps, payment_id)  # nobody got the request: nothing happened
        raise
    except Exception:
        with deps.uow() as uow:  # maybe reserved: a retry or the sweeper takes over at once
            idempotency.release(uow.session, payment_id)
        raise
    try:
        priced = price_from(products, items)
    except ValidationFailed:  # several currencies, too large: give the units back first
        deps.catalog.release_reservation(str(payment_id))
        _forget(deps, payment_id)
        raise
    with deps.uow.autocommit() as conn:  # one statement: it commits alone
        return _create(priced, conn, record)


def _forget(deps: Deps, payment_id: uuid.UUID) -> None:
    with deps.uow() as uow:
        idempotency.forget(uow.session, payment_id)


def _out_of_stock(deps: Deps, payment_id: uuid.UUID, detail: str) -> Outcome:
    body = errors.out_of_stock(detail).to_problem(errors.request_id())
    with deps.uow() as uow:
        idempotency.complete(uow.session, payment_id, 409, body)
    signals.checkout_finished("out_of_stock")
    return Outcome(409, body)


def _create(priced: Priced, session: Session | Connection, record: KeyRecord) -> Any:
    return repository.insert_payment(
        session, payment_id=record.resource_id, user_id=record.user_id, amount=priced.amount,
        currency=priced.currency, payment_method=record.request["payment_method"],
        items=priced.items)


def sweep(deps: Deps, limit: int = 20) -> int:
    """Complete requests whose process died or gave up midway; returns how many were handled."""
    with deps.uow() as uow:
        abandoned = idempotency.claim_abandoned(uow.session, limit, deps.lease_seconds)
    for record in abandoned:
        try:
            _complete(deps, record)
        except Exception:
            log.warning("could not complete an abandoned request yet", exc_info=True,
                        extra={"kind": record.kind, "resource_id": str(record.resource_id)})
            with deps.uow() as uow:
                idempotency.release(uow.session, record.resource_id)
    return len(abandoned)


def _complete(deps: Deps, record: KeyRecord) -> None:
    if record.kind == "refund":
        refunds.execute(deps, record)
        return
    with deps.uow() as uow:
        started = repository.get(uow.session, record.resource_id) is not None
    if started:
        drive(deps, record.resource_id)
        return
    # Died before the payment existed: nothing charged, but the stock may be reserved. The
    # release leaves a tombstone, so a reserve still on its way is refused.
    deps.catalog.release_reservation(str(record.resource_id))
    _forget(deps, record.resource_id)


def prune_keys(deps: Deps, retention_hours: float) -> int:
    with deps.uow() as uow:
        return idempotency.prune(uow.session, retention_hours)
