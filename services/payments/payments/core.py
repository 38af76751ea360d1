"""What every use case shares: its dependencies, who is asking, what it answers, and the
Idempotency-Key state machine in front of every non-idempotent request."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from payments import errors, idempotency
from payments.catalog_port import CatalogPort
from payments.key_states import Claim, Decision
from payments.provider import PaymentProvider
from shared.db import UnitOfWorkFactory
from shared.errors import ValidationFailed


@dataclass
class Deps:
    uow: UnitOfWorkFactory
    catalog: CatalogPort
    provider: PaymentProvider
    lease_seconds: float = 30.0
    crash_after: str = ""  # test hook: SIGKILL the process right after this saga step


@dataclass(frozen=True)
class Actor:
    user_id: uuid.UUID
    is_admin: bool = False


@dataclass(frozen=True)
class Outcome:
    """A stored (or storable) response: status code and body, and whether it is a replay."""

    status: int
    body: dict[str, Any]
    replayed: bool = False

    def to_wire(self) -> dict[str, Any]:
        return {"status": self.status, "body": self.body, "replayed": self.replayed}


def begin(deps: Deps, actor: Actor, key: str, kind: str,
          request: dict[str, Any]) -> Claim | Outcome:
    """An Outcome to answer at once (replay), or the claim to carry on with: NEW (nothing the
    key protects can exist yet) or TAKEOVER (resume what an earlier request started)."""
    # Nearly every key is new: its insert is one statement, so it runs (and commits) alone,
    # without the BEGIN/COMMIT round trips; a key that exists takes the locking path below.
    with deps.uow.autocommit() as conn:
        new = idempotency.insert_new(conn, actor.user_id, key, kind, request,
                                     deps.lease_seconds)
    if new is not None:
        return Claim(Decision.NEW, new)
    with deps.uow() as uow:  # (NEW here too when the key was forgotten meanwhile)
        claim = idempotency.claim(uow.session, actor.user_id, key, kind, request,
                                  deps.lease_seconds)
    if claim.decision is Decision.REPLAY:
        return Outcome(claim.record.status_code or 500, claim.record.body, replayed=True)
    if claim.decision is Decision.MISMATCH:
        raise ValidationFailed(
            "This Idempotency-Key was already used with a different request.",
            [{"field": "Idempotency-Key", "message": "reused with a different request"}])
    if claim.decision is Decision.IN_FLIGHT:
        raise errors.in_flight()
    return claim
