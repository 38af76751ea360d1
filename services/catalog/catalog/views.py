"""What leaves the service: the product and reservation documents, opaque listing cursors."""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import uuid
from typing import Any

from catalog.domain import Product, Reservation
from shared import wire
from shared.errors import ValidationFailed

# A search cursor's rank is cast to PostgreSQL's real (ts_rank's type), which refuses values
# past its range (overflow) or so small they would round to 0 (underflow).
REAL_MAX, REAL_TINY = 3.4028234663852886e38, 1e-44


def product(p: Product) -> dict[str, Any]:
    """The public product; `deleted` is for RPC callers (the gateway answers 404 for those)."""
    return {
        "id": str(p.id), "sku": p.sku, "name": p.name, "description": p.description,
        "category": p.category, "price": p.price, "currency": p.currency,
        "available": p.available, "version": p.version, "created_at": p.created_at,
        "updated_at": p.updated_at, "deleted": p.deleted_at is not None,
    }


def reservation(r: Reservation) -> dict[str, Any]:
    return {"reservation_id": r.id, "status": r.status, "expires_at": r.expires_at,
            "items": [{"product_id": str(pid), "quantity": qty}
                      for pid, qty in sorted(r.items.items())]}


# A cursor is the sort key of the last row a page returned, tagged with the ordering it
# belongs to: "t" newest first (created_at, id), "r" search rank (rank, id).
def encode_cursor(kind: str, key: tuple[Any, ...]) -> str:
    first = key[0].isoformat() if isinstance(key[0], dt.datetime) else key[0]
    raw = wire.dumpb([kind, first, str(key[1])])
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def decode_cursor(cursor: str, kind: str) -> tuple[Any, ...]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        tag, first, last = wire.loads(raw)
        key_id = uuid.UUID(last)
        if tag != kind:
            raise ValueError("cursor of another ordering")
        if kind == "t":
            created = dt.datetime.fromisoformat(first)
            if created.tzinfo is None:
                raise ValueError("naive time")
            return created, key_id
        if isinstance(first, bool) or not isinstance(first, (int, float)):
            raise ValueError("rank is not a number")
        if first != 0 and not REAL_TINY <= abs(first) <= REAL_MAX:
            raise ValueError("rank outside PostgreSQL's real")
        return float(first), key_id
    except (ValueError, TypeError, binascii.Error):
        raise ValidationFailed("The cursor is not valid for this query.",
                               [{"field": "cursor", "message": "invalid cursor"}]) from None
