"""Payments, refunds, idempotency keys, the double-entry ledger and the card simulator's tables.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def _created_at() -> sa.Column:
    return sa.Column("created_at", sa.DateTime(timezone=True), nullable=False,
                     server_default=sa.func.now())


def upgrade() -> None:
    op.create_table(
        "payments",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("refunded_amount", sa.BigInteger(), nullable=False,
                  server_default=sa.text("0")),
        sa.Column("decline_code", sa.String(64), nullable=True),
        sa.Column("payment_method", sa.String(255), nullable=False),
        sa.Column("items", postgresql.JSONB(), nullable=False),
        sa.Column("charge_id", sa.String(64), nullable=True),
        _created_at(),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False,
                  server_default=sa.func.now()),
        sa.CheckConstraint("amount >= 0 AND refunded_amount >= 0 AND refunded_amount <= amount",
                           name="ck_payments_amounts"),
        sa.CheckConstraint("status IN ('pending', 'succeeded', 'failed', 'partially_refunded', "
                           "'refunded')", name="ck_payments_status"),
    )
    op.create_index("ix_payments_user_created", "payments", ["user_id", "created_at", "id"])
    op.create_table(
        "refunds",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("payment_id", sa.Uuid(), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("restock", sa.Boolean(), nullable=False),
        sa.Column("provider_refund_id", sa.String(64), nullable=False),
        sa.Column("created_by", sa.Uuid(), nullable=False),
        _created_at(),
        sa.CheckConstraint("amount > 0", name="ck_refunds_amount"),
    )
    op.create_index("ix_refunds_payment", "refunds", ["payment_id"])
    op.create_table(
        "idempotency_keys",
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("key", sa.String(255), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("request", postgresql.JSONB(), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("resource_id", sa.Uuid(), nullable=False, unique=True),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("body", postgresql.JSONB(), nullable=True),
        sa.Column("locked_until", sa.DateTime(timezone=True), nullable=False),
        _created_at(),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("user_id", "key", name="pk_idempotency_keys"),
        sa.CheckConstraint("state IN ('in_flight', 'completed')", name="ck_idempotency_state"),
    )
    op.create_index("ix_idempotency_in_flight", "idempotency_keys", ["locked_until"],
                    postgresql_where=sa.text("state = 'in_flight'"))
    op.create_index("ix_idempotency_completed", "idempotency_keys", ["completed_at"],
                    postgresql_where=sa.text("state = 'completed'"))
    op.create_table(
        "ledger_entries",
        sa.Column("id", sa.BigInteger(), primary_key=True, autoincrement=True),
        sa.Column("transaction_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("payment_id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("account", sa.String(32), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        _created_at(),
        sa.UniqueConstraint("transaction_id", "account", name="uq_ledger_transaction_account"),
    )
    op.create_index("ix_ledger_payment", "ledger_entries", ["payment_id"])
    op.create_index("ix_ledger_user", "ledger_entries", ["user_id", "currency"])
    op.create_table(
        "simulator_charges",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("idempotency_key", sa.String(255), nullable=False, unique=True),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("payment_method", sa.String(255), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("decline_code", sa.String(64), nullable=True),
        sa.Column("refunded_amount", sa.BigInteger(), nullable=False,
                  server_default=sa.text("0")),
        _created_at(),
    )
    op.create_table(
        "simulator_refunds",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("idempotency_key", sa.String(255), nullable=False, unique=True),
        sa.Column("charge_id", sa.String(64), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        _created_at(),
    )


def downgrade() -> None:
    for table in ("simulator_refunds", "simulator_charges", "ledger_entries",
                  "idempotency_keys", "refunds", "payments"):
        op.drop_table(table)
