"""Payments tables."""

from __future__ import annotations

from sqlalchemy import MetaData

from shared.messaging.tables import add_messaging_tables

metadata = MetaData()
outbox, inbox = add_messaging_tables(metadata)
