"""Payments' records and pure rules: who asks, what a request answers, the Idempotency-Key state
machine, a payment and the rules of its refunds (pricing.py prices a checkout)."""

from __future__ import annotations

import datetime as dt
import enum
import hashlib
import uuid
from dataclasses import dataclass
from typing import Any, TypedDict

import orjson

from payments import errors

REFUNDABLE = ("succeeded", "partially_refunded")


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


class Decision(enum.Enum):
    NEW = "new"
    REPLAY = "replay"
    MISMATCH = "mismatch"
    IN_FLIGHT = "in_flight"
    TAKEOVER = "takeover"


@dataclass(frozen=True)
class KeyRecord:
    """An Idempotency-Key row; `resource_id` names the payment or refund the request makes."""

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
    """What a request must do with a key that already exists."""
    if record.fingerprint != wanted_fingerprint:
        return Decision.MISMATCH
    if record.state == "completed":
        return Decision.REPLAY
    return Decision.TAKEOVER if lease_expired else Decision.IN_FLIGHT


class Line(TypedDict):
    """One item of a payment, priced by the catalog at checkout time."""

    product_id: str
    sku: str
    name: str
    unit_price: int
    quantity: int


@dataclass(frozen=True)
class Priced:
    amount: int
    currency: str
    items: list[Line]


@dataclass(frozen=True)
class Payment:
    id: uuid.UUID
    user_id: uuid.UUID
    status: str  # pending -> succeeded | failed; succeeded -> partially_refunded | refunded
    amount: int
    currency: str
    refunded_amount: int
    decline_code: str | None
    payment_method: str
    items: list[Line]
    charge_id: str | None
    created_at: dt.datetime


@dataclass(frozen=True)
class Refund:
    id: uuid.UUID
    payment_id: uuid.UUID
    amount: int
    currency: str
    restock: bool
    created_at: dt.datetime


def charge_key(payment_id: uuid.UUID) -> str:
    """The provider's idempotency key for a payment's one charge."""
    return f"payment-{payment_id}"


def refund_amount(payment: Payment, wanted: int | None, restock: bool) -> int:
    """How much a refund takes back (all that is left by default), or why it cannot."""
    left = payment.amount - payment.refunded_amount
    if payment.status == "refunded" or (payment.status in REFUNDABLE and left == 0):
        raise errors.fully_refunded()
    if payment.status not in REFUNDABLE:
        raise errors.not_refundable(payment.status)
    amount = wanted or left
    if amount > left:
        raise errors.too_much(left, payment.currency)
    if restock and amount != left:
        raise errors.partial_restock()
    return amount
