"""The receipts' own store (SQLite): one row per payment, however often its event arrives."""

from __future__ import annotations

import sqlite3
from typing import Any

SCHEMA = """
CREATE TABLE IF NOT EXISTS receipts (
    event_id TEXT PRIMARY KEY,
    payment_id TEXT NOT NULL UNIQUE,
    user_id TEXT NOT NULL,
    amount INTEGER NOT NULL,
    currency TEXT NOT NULL,
    deliveries INTEGER NOT NULL DEFAULT 1,
    received_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP
)
"""
# A redelivery (the broker's at-least-once) only counts; it never makes a second receipt.
RECORD = """
INSERT INTO receipts (event_id, payment_id, user_id, amount, currency)
VALUES (:event_id, :payment_id, :user_id, :amount, :currency)
ON CONFLICT (event_id) DO UPDATE SET deliveries = deliveries + 1
"""


class Receipts:
    def __init__(self, path: str) -> None:
        self.path = path
        with self._connect() as db:
            db.execute(SCHEMA)

    def _connect(self) -> sqlite3.Connection:
        return sqlite3.connect(self.path, timeout=10)

    def record(self, event: dict[str, Any]) -> None:
        fields = {key: event[key] for key in ("event_id", "payment_id", "user_id", "amount",
                                              "currency")}
        db = self._connect()
        try:
            with db:
                db.execute(RECORD, fields)
        finally:
            db.close()

    def all(self) -> list[dict[str, Any]]:
        db = self._connect()
        db.row_factory = sqlite3.Row
        try:
            return [dict(row) for row in db.execute("SELECT * FROM receipts ORDER BY rowid")]
        finally:
            db.close()
