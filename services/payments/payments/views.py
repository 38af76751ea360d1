"""The JSON documents payments answers with: Payment, Refund, a page of payments, an outcome."""

from __future__ import annotations

import base64
import datetime as dt
import uuid
from typing import Any

from payments.domain import Outcome, Payment, Refund
from shared import wire


def timestamp(value: dt.datetime) -> str:
    return str(wire.loads(wire.dumpb(wire.to_utc(value))))


def payment(row: Payment, status: str | None = None) -> dict[str, Any]:
    """`status`: the one the payment is about to take (the answer is built before it is
    stored)."""
    return {"id": str(row.id), "user_id": str(row.user_id), "status": status or row.status,
            "amount": row.amount, "currency": row.currency, "items": row.items,
            "refunded_amount": row.refunded_amount, "decline_code": row.decline_code,
            "created_at": timestamp(row.created_at)}


def refund(row: Refund) -> dict[str, Any]:
    return {"id": str(row.id), "payment_id": str(row.payment_id), "amount": row.amount,
            "currency": row.currency, "restock": row.restock,
            "created_at": timestamp(row.created_at)}


def encode_cursor(created_at: dt.datetime, payment_id: uuid.UUID) -> str:
    raw = f"{wire.to_utc(created_at).isoformat()}|{payment_id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def page(rows: list[Payment], limit: int) -> dict[str, Any]:
    """`rows`: up to limit + 1, so a next page is known to exist."""
    more, rows = len(rows) > limit, rows[:limit]
    last = rows[-1] if more and rows else None
    return {"items": [payment(row) for row in rows],
            "next_cursor": None if last is None else encode_cursor(last.created_at, last.id)}


def pending(count: int, rows: list[tuple[Payment, float]]) -> dict[str, Any]:
    return {"count": count,
            "items": [{**payment(row), "age_seconds": round(age, 1)} for row, age in rows]}


def outcome(result: Outcome) -> dict[str, Any]:
    return {"status": result.status, "body": result.body, "replayed": result.replayed}
