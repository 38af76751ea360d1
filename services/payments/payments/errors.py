"""The payments service's wording of its errors (the meanings live in shared.errors)."""

from __future__ import annotations

import uuid

from shared import logs
from shared.errors import (
    CardDeclined,
    IdempotencyKeyInUse,
    NotRefundable,
    OutOfStock,
    PaymentNotFound,
    ReservationLapsed,
    ValidationFailed,
)
from shared.errors.payments import IdempotencyKeyReused

DECLINE_DETAILS = {
    "card_declined": "The card was declined.",
    "insufficient_funds": "The card has insufficient funds.",
    "processing_error": "The payment provider could not process the card; try again later.",
}


def request_id() -> str | None:
    value = logs.current().get("request_id")
    return value if isinstance(value, str) else None


def declined(decline_code: str, payment_id: uuid.UUID) -> CardDeclined:
    return CardDeclined(DECLINE_DETAILS.get(decline_code, "The payment was declined."),
                        extra={"decline_code": decline_code, "payment_id": str(payment_id)})


def out_of_stock(detail: str = "") -> OutOfStock:
    if not detail or detail == OutOfStock.title:
        detail = "Not enough stock for one or more items; nothing was charged."
    return OutOfStock(detail)


def lapsed() -> ReservationLapsed:
    return ReservationLapsed("The stock held for this checkout was released before it "
                             "completed; nothing was charged.")


def in_flight() -> IdempotencyKeyInUse:
    return IdempotencyKeyInUse(
        "A request with this Idempotency-Key is still being processed; retry later.")


def key_reused() -> IdempotencyKeyReused:
    return IdempotencyKeyReused(
        "This Idempotency-Key was already used with a different request.",
        [{"field": "Idempotency-Key", "message": "reused with a different request"}])


def no_payment() -> PaymentNotFound:
    return PaymentNotFound("No such payment.")


def fully_refunded() -> NotRefundable:
    return NotRefundable("The payment is already fully refunded.")


def not_refundable(status: str) -> NotRefundable:
    return NotRefundable(f"Only a succeeded payment can be refunded; this one is {status}.")


def too_much(left: int, currency: str) -> ValidationFailed:
    return ValidationFailed(f"At most {left} {currency} is left to refund.",
                            [{"field": "amount", "message": "more than what is left"}])


def partial_restock() -> ValidationFailed:
    return ValidationFailed(
        "Restock is allowed only on the refund that completes the payment's refund.",
        [{"field": "restock", "message": "not allowed on a partial refund"}])


def unknown_products(positions: list[int]) -> ValidationFailed:
    return ValidationFailed("Some products do not exist.",
                            [{"field": f"items.{i}.product_id", "message": "no such product"}
                             for i in positions])


def product_gone() -> ValidationFailed:
    return ValidationFailed("A product is no longer available.")


def several_currencies() -> ValidationFailed:
    return ValidationFailed("A payment is in one currency; these items are in several.",
                            [{"field": "items", "message": "items in several currencies"}])


def too_large(limit: int) -> ValidationFailed:
    return ValidationFailed(f"A payment can be at most {limit} minor units.",
                            [{"field": "items", "message": "the total is too large"}])


def unsupported_method() -> ValidationFailed:
    return ValidationFailed("This payment method is not supported.",
                            [{"field": "payment_method", "message": "unsupported method"}])
