"""Products (full-text search, keyset listing indexes), reservations, stock movements.

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

LIVE = sa.text("deleted_at IS NULL")
SEARCH_DOCUMENT = ("setweight(to_tsvector('english', name), 'A') || "
                   "setweight(to_tsvector('english', description), 'B')")


def _now() -> sa.sql.elements.TextClause:
    return sa.text("now()")


def upgrade() -> None:
    op.create_table(
        "products",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("sku", sa.String(64), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False, server_default=""),
        sa.Column("category", sa.String(100), nullable=True),
        sa.Column("price", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("on_hand", sa.Integer(), nullable=False, server_default=sa.text("0")),
        sa.Column("reserved", sa.Integer(), nullable=False, server_default=sa.text("0")),
        sa.Column("version", sa.Integer(), nullable=False, server_default=sa.text("1")),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=_now()),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=_now()),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("search", postgresql.TSVECTOR(),
                  sa.Computed(SEARCH_DOCUMENT, persisted=True)),
        sa.CheckConstraint("price >= 0", name="ck_products_price"),
        sa.CheckConstraint("reserved >= 0 AND reserved <= on_hand", name="ck_products_stock"),
    )
    op.create_index("uq_products_sku_live", "products", ["sku"], unique=True,
                    postgresql_where=LIVE)
    op.create_index("ix_products_listing", "products",
                    [sa.text("created_at DESC"), sa.text("id DESC")], postgresql_where=LIVE)
    op.create_index("ix_products_category_listing", "products",
                    ["category", sa.text("created_at DESC"), sa.text("id DESC")],
                    postgresql_where=LIVE)
    op.create_index("ix_products_search", "products", ["search"], postgresql_using="gin",
                    postgresql_where=LIVE, postgresql_with={"fastupdate": "off"})

    op.create_table(
        "reservations",
        sa.Column("id", sa.String(255), primary_key=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=_now()),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=_now()),
        sa.Column("restocked_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("status IN ('active', 'committed', 'released', 'expired')",
                           name="ck_reservations_status"),
    )
    op.create_index("ix_reservations_due", "reservations", ["expires_at"],
                    postgresql_where=sa.text("status = 'active'"))
    op.create_table(
        "reservation_items",
        sa.Column("reservation_id", sa.String(255),
                  sa.ForeignKey("reservations.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("product_id", sa.Uuid(), sa.ForeignKey("products.id"), primary_key=True),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.CheckConstraint("quantity > 0", name="ck_reservation_items_quantity"),
    )
    op.create_table(
        "stock_movements",
        sa.Column("id", sa.BigInteger(), primary_key=True, autoincrement=True),
        sa.Column("product_id", sa.Uuid(), sa.ForeignKey("products.id"), nullable=False),
        sa.Column("delta", sa.Integer(), nullable=False),
        sa.Column("reason", sa.String(200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=_now()),
    )
    op.create_index("ix_stock_movements_product_id", "stock_movements", ["product_id"])


def downgrade() -> None:
    op.drop_table("stock_movements")
    op.drop_table("reservation_items")
    op.drop_table("reservations")
    op.drop_table("products")
