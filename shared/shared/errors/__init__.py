"""Typed errors that cross RPC, as a tree by meaning (docs/rpc.md shows it).

The roots (base.py) map to HTTP statuses; each service's meanings (auth.py, catalog.py,
payments.py) subclass them, so a caller catches `OutOfStock` or, coarser, `Conflict`.
Every class is published as `shared.errors.<Name>`: that is its `exc_path` on the wire.
"""

from __future__ import annotations

from typing import Any

from shared.errors import wire
from shared.errors.auth import (
    BadCredentials,
    EmailTaken,
    LoginThrottled,
    TokenRejected,
    UserNotFound,
)
from shared.errors.base import (
    BadRequest,
    Conflict,
    Forbidden,
    MethodNotAllowed,
    NotFound,
    PayloadTooLarge,
    PaymentRequired,
    PreconditionFailed,
    ServiceUnavailable,
    SuiteError,
    TooManyRequests,
    Unauthorized,
    UnsupportedMediaType,
    UpstreamTimeout,
    ValidationFailed,
)
from shared.errors.catalog import (
    OutOfStock,
    ProductNotFound,
    ReservationCommitted,
    ReservationLapsed,
    ReservationMismatch,
    ReservationNotFound,
    ReservationReleased,
    SkuTaken,
    StockAboveMaximum,
    StockBelowReserved,
    VersionMismatch,
)
from shared.errors.payments import (
    CardDeclined,
    IdempotencyKeyInUse,
    IdempotencyKeyReused,
    NotRefundable,
    PaymentNotFound,
)

WIRE_ERRORS: dict[str, type[SuiteError]] = wire.wire_errors()
for _cls in WIRE_ERRORS.values():
    _cls.__module__ = __name__  # the wire path stays shared.errors.<Name> whatever the file


def error_for_wire(payload: dict[str, Any]) -> SuiteError:
    """Rebuild a typed error from nameko's serialised form; unknown types become a bare 500."""
    return wire.error_for_wire(payload, WIRE_ERRORS)


__all__ = [
    "WIRE_ERRORS", "BadCredentials", "BadRequest", "CardDeclined", "Conflict", "EmailTaken",
    "Forbidden", "IdempotencyKeyInUse", "IdempotencyKeyReused", "LoginThrottled",
    "MethodNotAllowed", "NotFound", "NotRefundable", "OutOfStock", "PayloadTooLarge",
    "PaymentNotFound", "PaymentRequired", "PreconditionFailed", "ProductNotFound",
    "ReservationCommitted", "ReservationLapsed", "ReservationMismatch", "ReservationNotFound",
    "ReservationReleased", "ServiceUnavailable", "SkuTaken", "StockAboveMaximum",
    "StockBelowReserved", "SuiteError", "TokenRejected", "TooManyRequests", "Unauthorized",
    "UnsupportedMediaType", "UpstreamTimeout", "UserNotFound", "ValidationFailed",
    "VersionMismatch", "error_for_wire",
]
