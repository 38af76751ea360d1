"""What the payments RPCs accept: validated, so bad input is a typed 400/422, never a crash."""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import uuid
from typing import Annotated, Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, ValidationError

from shared.errors import BadRequest, ValidationFailed

MAX_KEY_LENGTH = 255
MAX_AMOUNT_STORED = 2**63 - 1  # bigint: a larger amount is a 422, never a database error
Model = TypeVar("Model", bound=BaseModel)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ItemIn(_Strict):
    product_id: uuid.UUID
    quantity: Annotated[StrictInt, Field(ge=1, le=1000)]


class CheckoutIn(_Strict):
    items: Annotated[list[ItemIn], Field(min_length=1, max_length=100)]
    payment_method: Annotated[str, Field(min_length=1, max_length=255)]


class RefundIn(_Strict):
    amount: Annotated[StrictInt, Field(ge=1, le=MAX_AMOUNT_STORED)] | None = None
    restock: StrictBool = False


class PageIn(_Strict):
    limit: Annotated[StrictInt, Field(ge=1, le=100)] = 20
    cursor: Annotated[str, Field(max_length=200)] | None = None
    user_id: uuid.UUID | None = None


def parse(model: type[Model], data: Any) -> Model:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        errors = [{"field": ".".join(str(p) for p in err["loc"]) or "body", "message": err["msg"]}
                  for err in exc.errors(include_input=False, include_url=False)]
        raise ValidationFailed("The request does not match the schema.", errors) from None


def check_key(key: Any) -> str:
    if not isinstance(key, str) or not 1 <= len(key) <= MAX_KEY_LENGTH:
        raise BadRequest(f"Send an Idempotency-Key header of 1 to {MAX_KEY_LENGTH} characters.")
    return key


def decode_cursor(cursor: str) -> tuple[dt.datetime, uuid.UUID]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        created_at, payment_id = raw.split("|")
        return dt.datetime.fromisoformat(created_at), uuid.UUID(payment_id)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise ValidationFailed("The cursor is not valid.",
                               [{"field": "cursor", "message": "invalid cursor"}]) from None

