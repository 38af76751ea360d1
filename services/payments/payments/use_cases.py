"""Checkout (idempotency + saga), the sweeper that completes abandoned requests, and pruning.

Plain functions over `Deps` (units of work and ports); nameko lives only in service.py.
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy.orm import Session

from payments import idempotency, refunds, repository, schemas
from payments.catalog_port import Priced, price
from payments.core import Actor, Deps, Outcome, begin
from payments.idempotency import KeyRecord
from payments.saga import drive
from shared.errors import ValidationFailed

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
    # Price before claiming, so the key and the payment commit together and a pricing failure
    # (422, 503) leaves nothing behind. Nearly every key is new, so pricing comes first and the
    # key is looked up only when pricing fails: a replay, a reused key or one in flight must
    # still get its stored answer or its 422/409, whatever the catalog says now.
    priced: Priced | None = None
    try:
        priced = price(deps.catalog, items)
    except Exception:
        with deps.uow() as uow:
            seen = idempotency.exists(uow.session, actor.user_id, key)
        if not seen:
            raise
    created: list[Any] = []  # the pending payment, when it commits with the key

    def create(session: Session, new: KeyRecord) -> None:
        assert priced is not None
        created.append(_create(priced, session, new))

    record = begin(deps, actor, key, "checkout", canonical,
                   on_new=None if priced is None else create)
    if isinstance(record, Outcome):
        return record
    return _start_or_resume(deps, record, created[0] if created else None)


def _create(priced: Priced, session: Session, record: KeyRecord) -> Any:
    return repository.insert_payment(
        session, payment_id=record.resource_id, user_id=record.user_id, amount=priced.amount,
        currency=priced.currency, payment_method=record.request["payment_method"],
        items=priced.items)


def _start_or_resume(deps: Deps, record: KeyRecord, payment: Any = None) -> Outcome:
    payment_id = record.resource_id
    if payment is None:
        with deps.uow() as uow:
            payment = repository.get(uow.session, payment_id)
    if payment is None:  # taking over a request that died before its payment existed
        try:
            priced = price(deps.catalog, record.request["items"])
        except Exception:
            with deps.uow() as uow:  # nothing has happened yet: a retry starts afresh
                idempotency.forget(uow.session, payment_id)
            raise
        with deps.uow() as uow:
            payment = _create(priced, uow.session, record)
    try:
        return drive(deps, payment_id, payment)
    except ValidationFailed:
        raise
    except Exception:
        with deps.uow() as uow:  # a retry with the key, or the sweeper, resumes at once
            idempotency.release(uow.session, payment_id)
        raise


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
        if not started:  # died before the payment existed: nothing reserved, nothing charged
            idempotency.forget(uow.session, record.resource_id)
    if started:
        drive(deps, record.resource_id)


def prune_keys(deps: Deps, retention_hours: float) -> int:
    with deps.uow() as uow:
        return idempotency.prune(uow.session, retention_hours)
