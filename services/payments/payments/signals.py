"""Business signals of payments on its /metrics (docs/observability.md, alerts.yaml).

Counted where they happen: checkouts by outcome (succeeded, declined, out_of_stock,
reservation_lapsed) and decline code, refunds. Sampled by the
metrics greenthread (`sample`, every METRICS_REFRESH_SECONDS): pending payments and the age of
the oldest, and, every PAYMENTS_RECONCILE_SECONDS (300), the ledger check's mismatches (the
same check as `python -m payments.reconcile`).
"""

from __future__ import annotations

import time
from collections.abc import Iterable

from prometheus_client import Counter
from prometheus_client.core import GaugeMetricFamily, Metric

from payments import reads
from payments.config import settings
from payments.postgres import PostgresStore
from shared.db import UnitOfWorkFactory

CHECKOUTS = Counter("suite_checkouts_total",
                    "Checkouts finished: outcome succeeded, declined, out_of_stock or "
                    "reservation_lapsed; "
                    "decline_code for declines", ["outcome", "decline_code"])
REFUNDS = Counter("suite_refunds_total", "Refunds made, by currency", ["currency"])
REFUNDED = Counter("suite_refunded_amount_total",
                   "Amount refunded in minor units, by currency", ["currency"])

def checkout_finished(outcome: str, decline_code: str | None = None) -> None:
    CHECKOUTS.labels(outcome, decline_code or "").inc()


def refunded(amount: int, currency: str) -> None:
    REFUNDS.labels(currency).inc()
    REFUNDED.labels(currency).inc(amount)


class Signals:
    """The sampled gauges; `sample(uow)` is called by ServiceMetrics' greenthread."""

    def __init__(self, reconcile_every: float | None = None) -> None:
        self.reconcile_every = (settings().reconcile_seconds if reconcile_every is None
                                else reconcile_every)
        self.pending = (0, 0.0)
        self.mismatches: int | None = None
        self.reconciled_at = 0.0  # unix time of the last finished check
        self._checked = float("-inf")  # monotonic time of the last check

    def sample(self, uow: UnitOfWorkFactory) -> None:
        store = PostgresStore(uow)
        with store.transaction() as tx:
            count, oldest = tx.payments.pending(1)
        self.pending = (count, oldest[0][1] if oldest else 0.0)
        if time.monotonic() - self._checked >= self.reconcile_every:
            self._checked = time.monotonic()
            self.mismatches = len(reads.reconcile(store))
            self.reconciled_at = time.time()

    def collect(self) -> Iterable[Metric]:
        pending = GaugeMetricFamily("suite_payments_pending", "Payments waiting for an outcome")
        pending.add_metric([], self.pending[0])
        oldest = GaugeMetricFamily("suite_payments_pending_oldest_age_seconds",
                                   "Age of the oldest pending payment (0 when none)")
        oldest.add_metric([], self.pending[1])
        yield from (pending, oldest)
        if self.mismatches is not None:
            found = GaugeMetricFamily("suite_ledger_mismatches",
                                      "Inconsistencies the last ledger reconciliation found")
            found.add_metric([], self.mismatches)
            at = GaugeMetricFamily("suite_ledger_reconciled_timestamp_seconds",
                                   "When the last ledger reconciliation finished (unix time)")
            at.add_metric([], self.reconciled_at)
            yield from (found, at)
