"""The outbox and inbox tables every service keeps in its own database.

Each service calls `add_messaging_tables(metadata)` in its model.py and creates them in an
Alembic migration, so they live beside (and commit with) the service's own rows.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    Uuid,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB


def add_messaging_tables(metadata: MetaData) -> tuple[Table, Table]:
    outbox = Table(
        "outbox", metadata,
        Column("id", BigInteger, primary_key=True, autoincrement=True),
        Column("event_id", Uuid, nullable=False, unique=True),
        Column("exchange", String(100), nullable=False),
        Column("event_type", String(100), nullable=False),
        Column("payload", JSONB, nullable=False),
        Column("headers", JSONB, nullable=False, server_default=text("'{}'::jsonb")),
        Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
        Column("published_at", DateTime(timezone=True), nullable=True),
        Column("attempts", Integer, nullable=False, server_default=text("0")),
        Index("ix_outbox_unpublished", "id", postgresql_where=text("published_at IS NULL")),
    )
    inbox = Table(
        "inbox", metadata,
        Column("handler", String(200), nullable=False),
        Column("message_id", String(255), nullable=False),
        Column("processed_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
        Column("result", Text, nullable=True),
        PrimaryKeyConstraint("handler", "message_id", name="pk_inbox"),
    )
    return outbox, inbox


# Every service's tables have exactly this shape, so code that only reads, publishes or prunes
# them (the relay, the ops CLI, tests) can use these without the service's own metadata.
OUTBOX, INBOX = add_messaging_tables(MetaData())
