"""The commands: checkout and refund behind their Idempotency-Key, the sweeper that completes
abandoned requests, and pruning old keys. Plain functions over the ports (`Deps`)."""

from __future__ import annotations

import logging
from typing import Any

from payments import checkout_saga, errors, refunds, schemas
from payments.domain import Actor, Decision, KeyRecord, Outcome
from payments.key_claims import begin
from payments.ports import Deps
from payments.pricing import Item

log = logging.getLogger(__name__)


def checkout(deps: Deps, actor: Actor, key: Any, payload: Any) -> Outcome:
    key = schemas.check_key(key)
    request = schemas.parse(schemas.CheckoutIn, payload)
    if not deps.provider.accepts(request.payment_method):
        raise errors.unsupported_method()
    quantities: dict[str, int] = {}
    for item in request.items:  # the same product twice is one line
        product_id = str(item.product_id)
        quantities[product_id] = quantities.get(product_id, 0) + item.quantity
    items: list[Item] = [{"product_id": p, "quantity": q} for p, q in quantities.items()]
    claim = begin(deps, actor, key, "checkout",
                  {"items": items, "payment_method": request.payment_method})
    if isinstance(claim, Outcome):
        return claim
    return checkout_saga.start_or_resume(deps, claim.record,
                                         fresh=claim.decision is Decision.NEW)


def refund(deps: Deps, actor: Actor, payment_id: Any, key: Any, payload: Any) -> Outcome:
    key = schemas.check_key(key)
    target = refunds.payment_id(payment_id)
    request = schemas.parse(schemas.RefundIn, payload or {})
    claim = begin(deps, actor, key, "refund", {"payment_id": str(target),
                                               "amount": request.amount,
                                               "restock": request.restock})
    if isinstance(claim, Outcome):
        return claim
    return refunds.execute(deps, claim.record)


def sweep(deps: Deps, limit: int = 20) -> int:
    """Complete requests whose process died or gave up midway; returns how many were handled."""
    with deps.store.transaction() as tx:
        abandoned = tx.keys.claim_abandoned(limit, deps.lease_seconds)
    for record in abandoned:
        try:
            _complete(deps, record)
        except Exception:
            log.warning("could not complete an abandoned request yet", exc_info=True,
                        extra={"kind": record.kind, "resource_id": str(record.resource_id)})
            with deps.store.transaction() as tx:
                tx.keys.release(record.resource_id)
    return len(abandoned)


def _complete(deps: Deps, record: KeyRecord) -> None:
    if record.kind == "refund":
        refunds.execute(deps, record)
    else:
        checkout_saga.complete_abandoned(deps, record)


def prune_keys(deps: Deps, retention_hours: float) -> int:
    """Drop outcomes older than the retention period (at least 24 h after they completed)."""
    with deps.store.transaction() as tx:
        return tx.keys.prune(retention_hours)
