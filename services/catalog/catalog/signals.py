"""Business signals of the catalog on its /metrics (docs/observability.md, alerts.yaml).

Sampled by the metrics greenthread every METRICS_REFRESH_SECONDS: active reservations, those
expiring within EXPIRING_SECONDS, and those past their expiry that the sweep has not released
yet (a sweep that stopped leaves stock held).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from prometheus_client.core import GaugeMetricFamily, Metric

from catalog.postgres import reservation_gauges

EXPIRING_SECONDS = 60


class Signals:
    """The sampled gauges; `sample(uow)` is called by ServiceMetrics' greenthread."""

    def __init__(self) -> None:
        self.counts: dict[str, float] | None = None

    def sample(self, uow: Any) -> None:
        self.counts = reservation_gauges(uow, EXPIRING_SECONDS)

    def collect(self) -> Iterable[Metric]:
        if self.counts is None:
            return
        for name, key, help_text in (
                ("suite_reservations_active", "active", "Reservations holding stock"),
                ("suite_reservations_expiring", "expiring",
                 f"Active reservations that expire within {EXPIRING_SECONDS} s"),
                ("suite_reservations_overdue", "overdue",
                 "Active reservations past their expiry, not yet released by the sweep"),
                ("suite_reservations_overdue_age_seconds", "overdue_age",
                 "How long the oldest overdue reservation has been past its expiry")):
            family = GaugeMetricFamily(name, help_text)
            family.add_metric([], self.counts[key])
            yield family
