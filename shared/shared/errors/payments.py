"""What the payments service's errors mean; payments/errors.py words them."""

from __future__ import annotations

from shared.errors.base import Conflict, NotFound, PaymentRequired


class CardDeclined(PaymentRequired):
    """The provider refused the charge; `decline_code` in the problem says why."""

    code = "payment_declined"


class IdempotencyKeyInUse(Conflict):
    """A request with the same key is still running: retry later with the same key."""

    code = "idempotency_key_in_use"


class PaymentNotFound(NotFound):
    code = "payment_not_found"


class NotRefundable(Conflict):
    code = "not_refundable"
