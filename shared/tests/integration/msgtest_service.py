"""Test-only nameko services for the messaging tests, on tables of their own (msgkit.metadata).

- `MsgPublisher`: only the outbox relay (publishes whatever the test writes to the outbox).
- `MsgSubscriber`: the relay plus two reliable event handlers on payments events:
  `apply` (payment_succeeded) and `judge` (payment_failed, raises for decline_code "poison").
Each handler invocation is logged in `deliveries` (own transaction) before the effect, so tests
can tell redeliveries (deliveries) from applied effects (effects, once per event via the inbox).
"""

from __future__ import annotations

import os
import time
from typing import Any

from msgtables import HANDLERS, deliveries, effects, inbox
from sqlalchemy import insert

from shared import logs
from shared.messaging import inbox as inboxes
from shared.messaging import topology
from shared.nameko.bootstrap import prepare
from shared.nameko.context import RequestContext
from shared.nameko.database import Database
from shared.nameko.events import event_handler
from shared.nameko.outbox import OutboxRelay

prepare("msgtest", "INFO")
for subscription in HANDLERS.values():
    topology.register(subscription)

RETRIES = int(os.environ.get("MSGTEST_MAX_RETRIES", "3"))
DELAY = float(os.environ.get("MSGTEST_BASE_DELAY", "0.2"))


def database_url() -> str:
    return os.environ["MSGTEST_DATABASE_URL"]


class MsgPublisher:
    name = "msgpub"

    relay = OutboxRelay(database_url)


class MsgSubscriber:
    name = "msgtest"

    context = RequestContext()
    db = Database(database_url, lambda: 4)
    relay = OutboxRelay(database_url)

    @event_handler("payments", "payment_succeeded", max_retries=RETRIES, base_delay=DELAY)
    def apply(self, event: Any) -> None:
        self._note("apply", event)
        with self.db() as uow:
            if not inboxes.claim(uow.session, inbox, "msgtest.apply", event.event_id):
                return
            uow.session.execute(insert(effects).values(
                handler="apply", event_id=str(event.event_id),
                request_id=logs.current().get("request_id")))
        # Killed here (tests set hold_seconds), the effect is committed but the message unacked.
        time.sleep(float((event.model_extra or {}).get("hold_seconds", 0)))

    @event_handler("payments", "payment_failed", max_retries=RETRIES, base_delay=DELAY)
    def judge(self, event: Any) -> None:
        self._note("judge", event)
        if event.decline_code == "poison":
            raise RuntimeError("this event can never be handled")
        with self.db() as uow:
            if inboxes.claim(uow.session, inbox, "msgtest.judge", event.event_id):
                uow.session.execute(insert(effects).values(handler="judge",
                                                           event_id=str(event.event_id)))

    def _note(self, handler: str, event: Any) -> None:
        with self.db() as uow:
            uow.session.execute(insert(deliveries).values(handler=handler,
                                                          event_id=str(event.event_id)))
