"""Validation of RPC arguments (a bad one is a typed ValidationFailed, never a crash)."""

from __future__ import annotations

import uuid
from typing import Annotated, Any, TypeVar

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    field_validator,
    model_validator,
)

from shared.errors import ValidationFailed

MAX_STOCK = 1_000_000_000
MAX_PRICE = 10**15
MAX_VERSION = 2**31 - 1  # the version column is an integer

Sku = Annotated[str, StringConstraints(min_length=1, max_length=64,
                                       pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Description = Annotated[str, StringConstraints(max_length=5000)]
Category = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
Currency = Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]
Price = Annotated[int, Field(strict=True, ge=0, le=MAX_PRICE)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class NewProduct(Strict):
    sku: Sku
    name: Name
    description: Description = ""
    category: Category | None = None
    price: Price
    currency: Currency = "USD"
    stock: Annotated[int, Field(strict=True, ge=0, le=MAX_STOCK)] = 0


class ProductChanges(Strict):
    name: Name | None = None
    description: Description | None = None
    category: Category | None = None
    price: Price | None = None

    @model_validator(mode="after")
    def _not_empty(self) -> ProductChanges:
        if not self.model_fields_set:
            raise ValueError("send at least one of name, description, category, price")
        return self

    def changed(self) -> dict[str, Any]:
        """The fields the caller set; only `category` may be set to null (cleared)."""
        fields = self.model_dump(exclude_unset=True)
        for key in ("name", "description", "price"):
            if key in fields and fields[key] is None:
                raise ValidationFailed("The request does not match the schema.",
                                       [{"field": key, "message": "may not be null"}])
        return fields


class StockAdjustment(Strict):
    delta: Annotated[int, Field(strict=True, ge=-MAX_STOCK, le=MAX_STOCK)]

    @field_validator("delta")
    @classmethod
    def _not_zero(cls, value: int) -> int:
        if value == 0:
            raise ValueError("must not be 0")
        return value
    reason: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1,
                                             max_length=200)]


class Item(Strict):
    product_id: uuid.UUID
    quantity: Annotated[int, Field(strict=True, ge=1, le=MAX_STOCK)]


class Reservation(Strict):
    reservation_id: Annotated[str, StringConstraints(min_length=1, max_length=255)]
    items: Annotated[list[Item], Field(min_length=1, max_length=100)]

    def quantities(self) -> dict[uuid.UUID, int]:
        """Items merged per product (the same product twice means the sum)."""
        merged: dict[uuid.UUID, int] = {}
        for item in self.items:
            merged[item.product_id] = merged.get(item.product_id, 0) + item.quantity
        return merged

    @model_validator(mode="after")
    def _merged_fit(self) -> Reservation:
        # A sum past the integer stock columns would fail in the database, not as a 422.
        if any(quantity > MAX_STOCK for quantity in self.quantities().values()):
            raise ValueError(f"at most {MAX_STOCK} units of one product")
        return self


class Expected(Strict):
    version: Annotated[int, Field(strict=True, ge=1, le=MAX_VERSION)] | None = None


class ListQuery(Strict):
    limit: Annotated[int, Field(ge=1, le=100)] = 20
    cursor: Annotated[str, StringConstraints(max_length=512)] | None = None
    q: Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)] | None = None
    category: Annotated[str, StringConstraints(max_length=100)] | None = None


M = TypeVar("M", bound=BaseModel)


def parse(model: type[M], data: Any) -> M:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ValidationFailed("The request does not match the schema.", [
            {"field": ".".join(str(p) for p in err["loc"]) or "body", "message": err["msg"]}
            for err in exc.errors()]) from None


def product_id(value: Any, field: str = "product_id") -> uuid.UUID:
    """A product id from the wire: a UUID string (or UUID)."""
    if isinstance(value, uuid.UUID):
        return value
    if isinstance(value, str) and len(value) <= 64:
        try:
            return uuid.UUID(value)
        except ValueError:
            pass
    raise ValidationFailed("The request does not match the schema.",
                           [{"field": field, "message": "must be a UUID string"}])


def product_ids(values: Any) -> list[uuid.UUID]:
    if not isinstance(values, list) or len(values) > 100:
        raise ValidationFailed("The request does not match the schema.", [
            {"field": "product_ids", "message": "must be a list of at most 100 UUID strings"}])
    return list(dict.fromkeys(product_id(v, f"product_ids.{i}") for i, v in enumerate(values)))


def reservation_id(value: Any) -> str:
    if not isinstance(value, str) or not 1 <= len(value) <= 255:
        raise ValidationFailed("The request does not match the schema.", [
            {"field": "reservation_id", "message": "must be a string of 1 to 255 characters"}])
    return value
