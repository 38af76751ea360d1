"""The Idempotency-Key state machine, pure: what a request with a key that exists must do.

See idempotency.py for the rows behind it; unit-tested without a database.
"""

from __future__ import annotations

import enum
import hashlib
import uuid
from dataclasses import dataclass
from typing import Any

import orjson


class Decision(enum.Enum):
    NEW = "new"
    REPLAY = "replay"
    MISMATCH = "mismatch"
    IN_FLIGHT = "in_flight"
    TAKEOVER = "takeover"


@dataclass(frozen=True)
class KeyRecord:
    user_id: uuid.UUID
    key: str
    kind: str
    fingerprint: str
    state: str
    resource_id: uuid.UUID
    request: dict[str, Any]
    status_code: int | None = None
    body: Any = None


@dataclass(frozen=True)
class Claim:
    decision: Decision
    record: KeyRecord


def fingerprint(kind: str, request: dict[str, Any]) -> str:
    canonical = orjson.dumps({"kind": kind, "request": request}, option=orjson.OPT_SORT_KEYS)
    return hashlib.sha256(canonical).hexdigest()


def decide(record: KeyRecord, wanted_fingerprint: str, lease_expired: bool) -> Decision:
    """The state machine for a key that already exists."""
    if record.fingerprint != wanted_fingerprint:
        return Decision.MISMATCH
    if record.state == "completed":
        return Decision.REPLAY
    return Decision.TAKEOVER if lease_expired else Decision.IN_FLIGHT
