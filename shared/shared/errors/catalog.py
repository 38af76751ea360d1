"""What the catalog's errors mean; catalog/errors.py words them, callers catch these."""

from __future__ import annotations

from shared.errors.base import Conflict, NotFound, PreconditionFailed


class ProductNotFound(NotFound):
    code = "product_not_found"


class SkuTaken(Conflict):
    code = "sku_taken"


class VersionMismatch(PreconditionFailed):
    code = "version_mismatch"


class StockBelowReserved(Conflict):
    code = "stock_below_reserved"


class StockAboveMaximum(Conflict):
    code = "stock_above_maximum"


class OutOfStock(Conflict):
    code = "out_of_stock"


class ReservationNotFound(NotFound):
    code = "reservation_not_found"


class ReservationMismatch(Conflict):
    """The reservation id was used before with other items."""

    code = "reservation_mismatch"


class ReservationLapsed(Conflict):
    """The reservation was released or expired: its stock is no longer held."""

    code = "reservation_expired"


class ReservationCommitted(Conflict):
    code = "reservation_committed"


class ReservationReleased(ReservationLapsed):
    """Released by its holder (or a release that overtook it): caught as ReservationLapsed."""

    code = "reservation_released"
