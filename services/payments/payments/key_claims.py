"""The Idempotency-Key step in front of every non-idempotent request (docs/adr/0005).

A key is scoped per user; the first request inserts it (`in_flight`, leased to that request),
and the pure state machine (domain.decide) says what a later one does: REPLAY the stored
outcome, MISMATCH (422), IN_FLIGHT (409), or TAKEOVER of a dead request, with the same
`resource_id`, so the payment or refund it started is resumed, never started twice. Only
completed outcomes are stored; a request where nothing happened is forgotten.
"""

from __future__ import annotations

import uuid
from typing import Any

from payments import errors
from payments.domain import Actor, Claim, Decision, Outcome, decide, fingerprint
from payments.ports import Deps


def begin(deps: Deps, actor: Actor, key: str, kind: str,
          request: dict[str, Any]) -> Claim | Outcome:
    """An Outcome to answer at once (replay), or the claim to carry on with: NEW (nothing the
    key protects can exist yet) or TAKEOVER (resume what an earlier request started)."""
    wanted = fingerprint(kind, request)
    # Nearly every key is new: its insert is one statement, so it commits alone.
    with deps.store.statement() as tx:
        new = tx.keys.insert_new(actor.user_id, key, kind, request, wanted, deps.lease_seconds)
    if new is not None:
        return Claim(Decision.NEW, new)
    claim = _claim_existing(deps, actor, key, kind, request, wanted)
    if claim.decision is Decision.REPLAY:
        return Outcome(claim.record.status_code or 500, claim.record.body, replayed=True)
    if claim.decision is Decision.MISMATCH:
        raise errors.key_reused()
    if claim.decision is Decision.IN_FLIGHT:
        raise errors.in_flight()
    return claim


def _claim_existing(deps: Deps, actor: Actor, key: str, kind: str, request: dict[str, Any],
                    wanted: str) -> Claim:
    with deps.store.transaction() as tx:
        for _ in range(3):  # a concurrent `forget` may delete the key between insert and lock
            new = tx.keys.insert_new(actor.user_id, key, kind, request, wanted,
                                     deps.lease_seconds)
            if new is not None:  # forgotten meanwhile: this request made it
                return Claim(Decision.NEW, new)
            found = tx.keys.lock(actor.user_id, key)
            if found is None:
                continue
            record, expired = found
            decision = decide(record, wanted, expired)
            if decision is Decision.TAKEOVER:
                tx.keys.extend_lease(actor.user_id, key, deps.lease_seconds)
            return Claim(decision, record)
    raise RuntimeError("idempotency key kept disappearing")


def stored_outcome(deps: Deps, resource_id: uuid.UUID) -> Outcome:
    with deps.store.transaction() as tx:
        key = tx.keys.by_resource(resource_id)
    if key is None or key.state != "completed":
        raise errors.in_flight()
    return Outcome(key.status_code or 500, key.body, replayed=True)


def forget(deps: Deps, resource_id: uuid.UUID) -> None:
    """Nothing happened (refused, or nothing done yet): a retry with the key proceeds."""
    with deps.store.transaction() as tx:
        tx.keys.forget(resource_id)


def release(deps: Deps, resource_id: uuid.UUID) -> None:
    """The request failed midway: a retry (or the sweeper) takes over at once."""
    with deps.store.transaction() as tx:
        tx.keys.release(resource_id)
