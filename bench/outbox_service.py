"""The nameko services bench/outbox.py runs (`nameko run outbox_service:...`, cwd bench/).

- `BenchRelay`: only the outbox relay, to time publishing alone.
- `BenchSubscriber`: the relay plus one reliable handler that applies each payments
  `payment_failed` event once (inbox claim + a row stamped with the database clock), the shape of
  a real subscriber's unit of work.
"""

from __future__ import annotations

import os
from typing import Any

from sqlalchemy import Column, DateTime, Integer, MetaData, String, Table, func, insert

from shared.messaging import inbox as inboxes
from shared.messaging import topology
from shared.messaging.tables import add_messaging_tables
from shared.nameko.bootstrap import prepare
from shared.nameko.context import RequestContext
from shared.nameko.database import Database
from shared.nameko.events import event_handler
from shared.nameko.outbox import OutboxRelay

metadata = MetaData()
outbox, inbox = add_messaging_tables(metadata)
applied = Table("applied", metadata, Column("id", Integer, primary_key=True),
                Column("event_id", String(50), nullable=False),
                Column("at", DateTime(timezone=True), server_default=func.clock_timestamp()))
# payment_failed has no subscriber in the suite: only this bench's queue receives the load.
SUBSCRIPTION = topology.Subscription("payments", "payment_failed", "benchout", "apply")
topology.register(SUBSCRIPTION)


def database_url() -> str:
    return os.environ["BENCH_OUTBOX_DATABASE_URL"]


if os.environ.get("BENCH_OUTBOX_SERVICE") == "1":  # not in the driver process
    prepare("benchout", os.environ.get("LOG_LEVEL", "WARNING"))


class BenchRelay:
    name = "benchrelay"

    relay = OutboxRelay(database_url)


class BenchSubscriber:
    name = "benchout"

    context = RequestContext()
    db = Database(database_url)
    relay = OutboxRelay(database_url)

    @event_handler("payments", "payment_failed")
    def apply(self, event: Any) -> None:
        with self.db() as uow:
            if inboxes.claim(uow.session, inbox, "benchout.apply", event.event_id):
                uow.session.execute(insert(applied).values(event_id=str(event.event_id)))
