"""The catalog's typed errors: shared.errors classes with the catalog's wording and details."""

from __future__ import annotations

import uuid

from shared.errors import Conflict, NotFound, PreconditionFailed


def product_not_found(product_id: uuid.UUID) -> NotFound:
    return NotFound(f"No product {product_id}.", extra={"product_id": str(product_id)})


def sku_taken(sku: str) -> Conflict:
    return Conflict(f"The sku {sku!r} is already used by another product.",
                    [{"field": "sku", "message": "already taken"}])


def version_mismatch(current: int) -> PreconditionFailed:
    return PreconditionFailed("The product changed since you read it (If-Match does not match).",
                              extra={"current_version": current})


def below_reserved(product_id: uuid.UUID, reserved: int) -> Conflict:
    return Conflict(f"Stock of {product_id} would drop below the {reserved} units reserved.",
                    extra={"product_id": str(product_id), "reserved": reserved})


def above_maximum(product_id: uuid.UUID, maximum: int) -> Conflict:
    return Conflict(f"Stock of {product_id} would exceed the maximum of {maximum} units.",
                    extra={"product_id": str(product_id), "maximum": maximum})


def out_of_stock(product_id: uuid.UUID, requested: int, available: int) -> Conflict:
    return Conflict(f"Out of stock: product {product_id} has {available} available, "
                    f"{requested} requested.",
                    extra={"code": "out_of_stock", "product_id": str(product_id),
                           "available": available, "requested": requested})


def reservation_not_found(reservation_id: str) -> NotFound:
    return NotFound(f"No reservation {reservation_id!r}.",
                    extra={"reservation_id": reservation_id})


def reservation_reused(reservation_id: str) -> Conflict:
    return Conflict(f"Reservation {reservation_id!r} already exists with other items.",
                    extra={"code": "reservation_mismatch", "reservation_id": reservation_id})


def reservation_state(reservation_id: str, status: str, wanted: str) -> Conflict:
    return Conflict(f"Reservation {reservation_id!r} is {status}; it cannot be {wanted}.",
                    extra={"code": f"reservation_{status}", "reservation_id": reservation_id,
                           "status": status})
