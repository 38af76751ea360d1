"""The payments service's error documents. Everything that crosses RPC is a `shared.errors`
type; these helpers give the stored outcomes (402, 409 out of stock) their exact shape."""

from __future__ import annotations

import uuid

from shared import logs
from shared.errors import Conflict, PaymentRequired

DECLINE_DETAILS = {
    "card_declined": "The card was declined.",
    "insufficient_funds": "The card has insufficient funds.",
    "processing_error": "The payment provider could not process the card; try again later.",
}


def request_id() -> str | None:
    value = logs.current().get("request_id")
    return value if isinstance(value, str) else None


def declined(decline_code: str, payment_id: uuid.UUID) -> PaymentRequired:
    return PaymentRequired(DECLINE_DETAILS.get(decline_code, "The payment was declined."),
                           extra={"decline_code": decline_code, "payment_id": str(payment_id)})


def out_of_stock(detail: str = "") -> Conflict:
    if not detail or detail == Conflict.title:
        detail = "Not enough stock for one or more items; nothing was charged."
    return Conflict(detail, extra={"code": "out_of_stock"})


def in_flight() -> Conflict:
    return Conflict("A request with this Idempotency-Key is still being processed; retry later.",
                    extra={"code": "idempotency_key_in_use"})
