"""`nameko run --config config.yaml receipts.service:ReceiptsService`: a receipt per payment.

Runs outside the suite, with its own broker user (docs/extending.md) and its own SQLite file
(RECEIPTS_DB). It uses nothing of the suite's code: only the public event's JSON.
"""

from __future__ import annotations

import logging
import os
from typing import Any

from nameko.extensions import DependencyProvider

from receipts.store import Receipts
from receipts.subscription import public_event_handler

log = logging.getLogger(__name__)


class Store(DependencyProvider):  # type: ignore[misc]
    def setup(self) -> None:
        self.receipts = Receipts(os.environ.get("RECEIPTS_DB", "receipts.sqlite3"))

    def get_dependency(self, worker_ctx: Any) -> Receipts:
        return self.receipts


class ReceiptsService:
    name = "receipts"
    store = Store()

    @public_event_handler("payments", "payment_succeeded")  # type: ignore[untyped-decorator]
    def on_payment_succeeded(self, event: dict[str, Any]) -> None:
        self.store.record(event)
        log.info("receipt for payment %s: %s %s", event["payment_id"], event["amount"],
                 event["currency"])
