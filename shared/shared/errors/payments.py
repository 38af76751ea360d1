"""What the payments service's errors mean; payments/errors.py words them."""

from __future__ import annotations

from shared.errors.base import Conflict, NotFound, PaymentRequired, ValidationFailed


class CardDeclined(PaymentRequired):
    """The provider refused the charge; `decline_code` in the problem says why."""

    code = "payment_declined"


class IdempotencyKeyInUse(Conflict):
    """A request with the same key is still running: retry later with the same key."""

    code = "idempotency_key_in_use"


class IdempotencyKeyReused(ValidationFailed):
    """The key was used before with another request: send a new key for a new request."""

    code = "idempotency_key_reused"


class PaymentNotFound(NotFound):
    code = "payment_not_found"


class NotRefundable(Conflict):
    """The payment is not succeeded, or is already fully refunded."""

    code = "not_refundable"
