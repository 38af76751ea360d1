"""Bodies and documents of the catalog routes (http-api.md, Catalog)."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated

from pydantic import BaseModel, Field

from gateway.schemas import NO_NUL, StrictModel

MAX_STOCK = 1_000_000_000
Price = Annotated[int, Field(strict=True, ge=0, le=10**15,
                             description="Integer minor units of `currency` (1999 = 19.99).")]
Name = Annotated[str, Field(min_length=1, max_length=200, pattern=NO_NUL)]
Description = Annotated[str, Field(max_length=5000, pattern=NO_NUL)]
Category = Annotated[str, Field(min_length=1, max_length=100, pattern=NO_NUL)]


class NewProduct(StrictModel):
    sku: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$",
                     description="Unique among products that are not deleted.")
    name: Name
    description: Description = ""
    category: Category | None = None
    price: Price
    currency: str = Field(default="USD", pattern=r"^[A-Z]{3}$", description="ISO 4217 code.")
    stock: int = Field(default=0, strict=True, ge=0, le=MAX_STOCK,
                       description="Units on hand to start with.")


class ProductChanges(StrictModel):
    """Only the fields sent change; `category: null` clears the category."""

    name: Name | None = None
    description: Description | None = None
    category: Category | None = None
    price: Price | None = None


class StockChange(StrictModel):
    delta: int = Field(strict=True, ge=-MAX_STOCK, le=MAX_STOCK,
                       description="Units added (positive) or removed (negative); not 0.")
    reason: str = Field(min_length=1, max_length=200, pattern=NO_NUL,
                        description="Kept in the stock audit trail.")


class Product(BaseModel):
    id: uuid.UUID
    sku: str
    name: str
    description: str
    category: str | None
    price: int = Field(description="Integer minor units of `currency`.")
    currency: str
    available: int = Field(description="On hand minus active reservations; never negative.")
    version: int = Field(description="+1 on every change; the `ETag` is this number, quoted.")
    created_at: dt.datetime
    updated_at: dt.datetime


class ProductPage(BaseModel):
    items: list[Product]
    next_cursor: str | None = Field(description="Pass as `?cursor=` for the next page; "
                                                "null on the last page.")
