"""The documents of the payments routes and GET /me/overview (shapes as in http-api.md)."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Literal

from pydantic import BaseModel, Field, StrictBool, StrictInt

from gateway.schemas import PG_BIGINT_MAX, Problem, StrictModel


class CheckoutItem(StrictModel):
    product_id: uuid.UUID
    quantity: StrictInt = Field(ge=1, le=1000)


class CheckoutRequest(StrictModel):
    items: list[CheckoutItem] = Field(min_length=1, max_length=100)
    payment_method: str = Field(min_length=1, max_length=255, examples=["tok_visa"], description=(
        "A card simulator token: tok_visa, tok_chargeDeclined, "
        "tok_chargeDeclinedInsufficientFunds, tok_processingError."))


class RefundRequest(StrictModel):
    amount: StrictInt | None = Field(default=None, ge=1, le=PG_BIGINT_MAX,
                                     description="Minor units; defaults to what is left.")
    restock: StrictBool = Field(default=False, description=(
        "Put every unit back; only on the refund that completes the payment's refund."))


class PaymentItem(BaseModel):
    product_id: uuid.UUID
    sku: str
    name: str
    unit_price: int
    quantity: int


class Payment(BaseModel):
    id: uuid.UUID
    user_id: uuid.UUID
    status: Literal["pending", "succeeded", "failed", "partially_refunded", "refunded"]
    amount: int
    currency: str
    items: list[PaymentItem]
    refunded_amount: int
    decline_code: str | None
    created_at: dt.datetime


class PaymentPage(BaseModel):
    items: list[Payment]
    next_cursor: str | None


class Refund(BaseModel):
    id: uuid.UUID
    payment_id: uuid.UUID
    amount: int
    currency: str
    restock: bool
    created_at: dt.datetime


class Declined(Problem):
    decline_code: Literal["card_declined", "insufficient_funds", "processing_error"]
    payment_id: uuid.UUID


class Money(BaseModel):
    amount: int = Field(description="Integer minor units.")
    currency: str

