"""Payments tables. Money is integer minor units (BIGINT) everywhere.

- `payments`: one row per checkout; `items` are the catalog's prices at checkout time.
- `refunds`: one row per refund of a payment.
- `idempotency_keys`: Stripe-style keys, scoped per user; also the saga's recovery point and lease.
- `ledger_entries`: double-entry ledger; every transaction's entries sum to zero.
- `simulator_charges` / `simulator_refunds`: the built-in card simulator's own state (what a real
  provider keeps on its side). Only `payments.simulator` touches them.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    DateTime,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    UniqueConstraint,
    Uuid,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB

from shared.messaging.tables import add_messaging_tables

metadata = MetaData()
outbox, inbox = add_messaging_tables(metadata)


def _now() -> Column[Any]:
    return Column("created_at", DateTime(timezone=True), nullable=False,
                  server_default=func.now())


payments = Table(
    "payments", metadata,
    Column("id", Uuid, primary_key=True),
    Column("user_id", Uuid, nullable=False),
    Column("status", String(32), nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("refunded_amount", BigInteger, nullable=False, server_default=text("0")),
    Column("decline_code", String(64), nullable=True),
    Column("payment_method", String(255), nullable=False),
    Column("items", JSONB, nullable=False),
    Column("charge_id", String(64), nullable=True),
    _now(),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    CheckConstraint("amount >= 0 AND refunded_amount >= 0 AND refunded_amount <= amount",
                    name="ck_payments_amounts"),
    CheckConstraint("status IN ('pending', 'succeeded', 'failed', 'partially_refunded', "
                    "'refunded')", name="ck_payments_status"),
    Index("ix_payments_user_created", "user_id", "created_at", "id"),
)

refunds = Table(
    "refunds", metadata,
    Column("id", Uuid, primary_key=True),
    Column("payment_id", Uuid, nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("restock", Boolean, nullable=False),
    Column("provider_refund_id", String(64), nullable=False),
    Column("created_by", Uuid, nullable=False),
    _now(),
    CheckConstraint("amount > 0", name="ck_refunds_amount"),
    Index("ix_refunds_payment", "payment_id"),
)

idempotency_keys = Table(
    "idempotency_keys", metadata,
    Column("user_id", Uuid, nullable=False),
    Column("key", String(255), nullable=False),
    Column("kind", String(32), nullable=False),
    Column("fingerprint", String(64), nullable=False),
    Column("request", JSONB, nullable=False),
    Column("state", String(16), nullable=False),
    # Chosen when the key is first seen, so a resumed request acts on the same payment/refund.
    Column("resource_id", Uuid, nullable=False, unique=True),
    Column("status_code", Integer, nullable=True),
    Column("body", JSONB, nullable=True),
    Column("locked_until", DateTime(timezone=True), nullable=False),
    _now(),
    Column("completed_at", DateTime(timezone=True), nullable=True),
    PrimaryKeyConstraint("user_id", "key", name="pk_idempotency_keys"),
    CheckConstraint("state IN ('in_flight', 'completed')", name="ck_idempotency_state"),
    Index("ix_idempotency_in_flight", "locked_until", postgresql_where=text("state = 'in_flight'")),
    Index("ix_idempotency_completed", "completed_at",
          postgresql_where=text("state = 'completed'")),
)

ledger_entries = Table(
    "ledger_entries", metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=True),
    # The payment id for a capture, the refund id for a refund: posting twice is impossible.
    Column("transaction_id", Uuid, nullable=False),
    Column("kind", String(16), nullable=False),
    Column("payment_id", Uuid, nullable=False),
    Column("user_id", Uuid, nullable=False),
    Column("account", String(32), nullable=False),
    Column("amount", BigInteger, nullable=False),  # debit > 0, credit < 0
    Column("currency", String(3), nullable=False),
    _now(),
    UniqueConstraint("transaction_id", "account", name="uq_ledger_transaction_account"),
    Index("ix_ledger_payment", "payment_id"),
    Index("ix_ledger_user", "user_id", "currency"),
)

simulator_charges = Table(
    "simulator_charges", metadata,
    Column("id", String(64), primary_key=True),
    Column("idempotency_key", String(255), nullable=False, unique=True),
    Column("amount", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("payment_method", String(255), nullable=False),
    Column("status", String(16), nullable=False),
    Column("decline_code", String(64), nullable=True),
    Column("refunded_amount", BigInteger, nullable=False, server_default=text("0")),
    _now(),
)

simulator_refunds = Table(
    "simulator_refunds", metadata,
    Column("id", String(64), primary_key=True),
    Column("idempotency_key", String(255), nullable=False, unique=True),
    Column("charge_id", String(64), nullable=False),
    Column("amount", BigInteger, nullable=False),
    _now(),
)
