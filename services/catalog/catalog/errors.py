"""The catalog's errors: shared.errors meanings with the catalog's wording and details."""

from __future__ import annotations

import uuid

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


def product_not_found(product_id: uuid.UUID) -> ProductNotFound:
    return ProductNotFound(f"No product {product_id}.", extra={"product_id": str(product_id)})


def sku_taken(sku: str) -> SkuTaken:
    return SkuTaken(f"The sku {sku!r} is already used by another product.",
                    [{"field": "sku", "message": "already taken"}])


def version_mismatch(current: int) -> VersionMismatch:
    return VersionMismatch("The product changed since you read it (If-Match does not match).",
                           extra={"current_version": current})


def below_reserved(product_id: uuid.UUID, reserved: int) -> StockBelowReserved:
    return StockBelowReserved(
        f"Stock of {product_id} would drop below the {reserved} units reserved.",
        extra={"product_id": str(product_id), "reserved": reserved})


def above_maximum(product_id: uuid.UUID, maximum: int) -> StockAboveMaximum:
    return StockAboveMaximum(f"Stock of {product_id} would exceed the maximum of {maximum} units.",
                             extra={"product_id": str(product_id), "maximum": maximum})


def out_of_stock(product_id: uuid.UUID, requested: int, available: int) -> OutOfStock:
    return OutOfStock(f"Out of stock: product {product_id} has {available} available, "
                      f"{requested} requested.",
                      extra={"code": OutOfStock.code, "product_id": str(product_id),
                             "available": available, "requested": requested})


def reservation_not_found(reservation_id: str) -> ReservationNotFound:
    return ReservationNotFound(f"No reservation {reservation_id!r}.",
                               extra={"reservation_id": reservation_id})


def reservation_reused(reservation_id: str) -> ReservationMismatch:
    return ReservationMismatch(
        f"Reservation {reservation_id!r} already exists with other items.",
        extra={"code": ReservationMismatch.code, "reservation_id": reservation_id})


def reservation_lapsed(reservation_id: str, status: str, wanted: str) -> ReservationLapsed:
    """`status` is released or expired: the units are no longer held."""
    meaning = ReservationReleased if status == "released" else ReservationLapsed
    return meaning(f"Reservation {reservation_id!r} is {status}; it cannot be {wanted}.",
                   extra={"code": meaning.code, "reservation_id": reservation_id,
                          "status": status})


def reservation_committed(reservation_id: str) -> ReservationCommitted:
    return ReservationCommitted(
        f"Reservation {reservation_id!r} is committed; it cannot be released.",
        extra={"code": ReservationCommitted.code, "reservation_id": reservation_id,
               "status": "committed"})
