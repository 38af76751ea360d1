"""Tables and subscriptions of the test-only messaging services (shared by them and the tests)."""

from __future__ import annotations

from sqlalchemy import Column, DateTime, Integer, MetaData, String, Table, func

from shared.messaging.tables import add_messaging_tables
from shared.messaging.topology import Subscription

metadata = MetaData()
outbox, inbox = add_messaging_tables(metadata)
effects = Table("effects", metadata, Column("id", Integer, primary_key=True),
                Column("handler", String(50)), Column("event_id", String(50)),
                Column("request_id", String(100)),
                Column("at", DateTime(timezone=True), server_default=func.clock_timestamp()))
# One row per handler invocation, redeliveries included (effects has one per applied event).
deliveries = Table("deliveries", metadata, Column("id", Integer, primary_key=True),
                   Column("handler", String(50)), Column("event_id", String(50)),
                   Column("at", DateTime(timezone=True), server_default=func.clock_timestamp()))

HANDLERS = {
    "apply": Subscription("payments", "payment_succeeded", "msgtest", "apply"),
    "judge": Subscription("payments", "payment_failed", "msgtest", "judge"),
}
