"""Every event in the public bus contract (docs/api/bus.md), as pydantic models.

Publishers validate before a row enters the outbox (`record_event`); subscribers validate on
receipt (`shared.nameko.events`). Unknown fields are tolerated both ways: the contract names the
minimum a subscriber may rely on, and a newer publisher may add fields without breaking anyone.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError, field_validator

# Money travels as integer minor units: strict, so 19.99 or "1999" is refused, not coerced.
Minor = Annotated[int, Field(strict=True, ge=0)]
Currency = Annotated[str, Field(pattern=r"^[A-Z]{3}$")]
Text = Annotated[str, Field(min_length=1, max_length=500)]


class Event(BaseModel):
    """The envelope every event carries."""

    model_config = ConfigDict(extra="allow", frozen=True)

    event_id: uuid.UUID  # stable across redeliveries and republishes: the inbox key
    occurred_at: AwareDatetime
    schema_version: int = Field(ge=1)

    @field_validator("occurred_at")
    @classmethod
    def _utc(cls, value: dt.datetime) -> dt.datetime:
        if value.utcoffset() != dt.timedelta(0):
            raise ValueError("must be UTC")
        return value


class UserRegistered(Event):
    user_id: uuid.UUID
    email: Text


class UserRolesChanged(Event):
    user_id: uuid.UUID
    roles: list[Text]


class UserSessionsRevoked(Event):
    """Every access token of the user issued before `not_before_ms` (epoch ms) is void: a
    logout or a role change (shared.revocations)."""

    user_id: uuid.UUID
    not_before_ms: int = Field(ge=0)
    reason: Text


class ProductCreated(Event):
    product_id: uuid.UUID
    sku: Text
    name: Text
    price: Minor
    currency: Currency


class ProductUpdated(Event):
    """Carries `version` and only the fields that changed (any of the optional ones, or more)."""

    product_id: uuid.UUID
    version: int = Field(ge=1)
    name: Text | None = None
    price: Minor | None = None
    currency: Currency | None = None


class ProductDeleted(Event):
    product_id: uuid.UUID


class StockChanged(Event):
    product_id: uuid.UUID
    available: int = Field(ge=0)


class PaidItem(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)

    product_id: uuid.UUID
    quantity: int = Field(ge=1)
    unit_price: Minor


class PaymentSucceeded(Event):
    payment_id: uuid.UUID
    user_id: uuid.UUID
    amount: Minor
    currency: Currency
    items: list[PaidItem]


class PaymentFailed(Event):
    payment_id: uuid.UUID
    user_id: uuid.UUID
    decline_code: Text


class PaymentRefunded(Event):
    payment_id: uuid.UUID
    refund_id: uuid.UUID
    amount: Minor
    currency: Currency
    restock: bool


CONTRACTS: dict[tuple[str, str], type[Event]] = {
    ("auth.events", "user_registered"): UserRegistered,
    ("auth.events", "user_roles_changed"): UserRolesChanged,
    ("auth.events", "user_sessions_revoked"): UserSessionsRevoked,
    ("catalog.events", "product_created"): ProductCreated,
    ("catalog.events", "product_updated"): ProductUpdated,
    ("catalog.events", "product_deleted"): ProductDeleted,
    ("catalog.events", "stock_changed"): StockChanged,
    ("payments.events", "payment_succeeded"): PaymentSucceeded,
    ("payments.events", "payment_failed"): PaymentFailed,
    ("payments.events", "payment_refunded"): PaymentRefunded,
}


class InvalidEvent(ValueError):
    """The payload breaks its contract. The message names fields, never their values."""


def validate_event(exchange: str, event_type: str, payload: Any) -> Event:
    """The typed event for `payload` published on `exchange` as `event_type`."""
    model = CONTRACTS.get((exchange, event_type))
    if model is None:
        raise InvalidEvent(f"no contract for {exchange}/{event_type}")
    if not isinstance(payload, dict):
        raise InvalidEvent(f"{exchange}/{event_type}: payload is not a JSON object")
    try:
        return model.model_validate(payload)
    except ValidationError as exc:
        raise InvalidEvent(f"{exchange}/{event_type}: {_summary(exc)}") from None


def _summary(exc: ValidationError) -> str:
    # Field paths and pydantic's messages only: payload values may be personal data.
    problems = [f"{'.'.join(str(p) for p in err['loc']) or 'payload'}: {err['msg']}"
                for err in exc.errors(include_input=False, include_url=False)[:5]]
    return "; ".join(problems)
