"""Catalog tables: products (with stock counters), reservations and the stock audit trail.

`on_hand` is the stock in the warehouse, `reserved` the units held by active reservations;
`available` = on_hand - reserved. CHECK constraints make overselling impossible even for a bug
in the application: `0 <= reserved <= on_hand`.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    Computed,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    Uuid,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import TSVECTOR

from shared.messaging.tables import add_messaging_tables

metadata = MetaData()
outbox, inbox = add_messaging_tables(metadata)

# Weighted so a match in the name ranks above one in the description.
SEARCH_DOCUMENT = ("setweight(to_tsvector('english', name), 'A') || "
                   "setweight(to_tsvector('english', description), 'B')")
LIVE = text("deleted_at IS NULL")

products = Table(
    "products", metadata,
    Column("id", Uuid, primary_key=True),
    Column("sku", String(64), nullable=False),
    Column("name", String(200), nullable=False),
    Column("description", Text, nullable=False, server_default=""),
    Column("category", String(100), nullable=True),
    Column("price", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("on_hand", Integer, nullable=False, server_default=text("0")),
    Column("reserved", Integer, nullable=False, server_default=text("0")),
    Column("version", Integer, nullable=False, server_default=text("1")),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("deleted_at", DateTime(timezone=True), nullable=True),
    Column("search", TSVECTOR, Computed(SEARCH_DOCUMENT, persisted=True)),
    CheckConstraint("price >= 0", name="ck_products_price"),
    CheckConstraint("reserved >= 0 AND reserved <= on_hand", name="ck_products_stock"),
    # A deleted product's sku may be reused by a new product.
    Index("uq_products_sku_live", "sku", unique=True, postgresql_where=LIVE),
    Index("ix_products_listing", text("created_at DESC"), text("id DESC"),
          postgresql_where=LIVE),
    Index("ix_products_category_listing", "category", text("created_at DESC"), text("id DESC"),
          postgresql_where=LIVE),
    Index("ix_products_search", "search", postgresql_using="gin", postgresql_where=LIVE,
          postgresql_with={"fastupdate": "off"}),
)

# A product as the service reads it: every column but the search vector.
PRODUCT_COLUMNS = [c for c in products.c if c.name != "search"]

reservations = Table(
    "reservations", metadata,
    Column("id", String(255), primary_key=True),  # the caller's key (payments: the payment id)
    Column("status", String(16), nullable=False),  # active | committed | released | expired
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("restocked_at", DateTime(timezone=True), nullable=True),
    CheckConstraint("status IN ('active', 'committed', 'released', 'expired')",
                    name="ck_reservations_status"),
    Index("ix_reservations_due", "expires_at", postgresql_where=text("status = 'active'")),
)

reservation_items = Table(
    "reservation_items", metadata,
    Column("reservation_id", String(255), ForeignKey("reservations.id", ondelete="CASCADE"),
           primary_key=True),
    Column("product_id", Uuid, ForeignKey("products.id"), primary_key=True),
    Column("quantity", Integer, nullable=False),
    CheckConstraint("quantity > 0", name="ck_reservation_items_quantity"),
)

stock_movements = Table(
    "stock_movements", metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=True),
    Column("product_id", Uuid, ForeignKey("products.id"), nullable=False, index=True),
    Column("delta", Integer, nullable=False),
    Column("reason", String(200), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)
