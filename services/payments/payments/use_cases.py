"""Checkout (idempotency + saga), the sweeper that completes abandoned requests, and pruning.

Plain functions over `Deps` (units of work and ports); nameko lives only in service.py.
"""

from __future__ import annotations

import logging
from typing import Any

from payments import idempotency, refunds, repository, schemas
from payments.catalog_port import price
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
    canonical = {"items": [{"product_id": p, "quantity": q} for p, q in quantities.items()],
                 "payment_method": request.payment_method}
    record = begin(deps, actor, key, "checkout", canonical)
    if isinstance(record, Outcome):
        return record
    return _start_or_resume(deps, record)


def _start_or_resume(deps: Deps, record: KeyRecord) -> Outcome:
    payment_id = record.resource_id
    with deps.uow() as uow:
        exists = repository.get(uow.session, payment_id) is not None
    if not exists:
        try:
            priced = price(deps.catalog, record.request["items"])
        except Exception:
            with deps.uow() as uow:  # nothing has happened yet: a retry starts afresh
                idempotency.forget(uow.session, payment_id)
            raise
        with deps.uow() as uow:
            repository.insert_payment(
                uow.session, payment_id=payment_id, user_id=record.user_id,
                amount=priced.amount, currency=priced.currency,
                payment_method=record.request["payment_method"], items=priced.items)
    try:
        return drive(deps, payment_id)
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
