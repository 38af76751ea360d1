"""Payments nameko entrypoints: parse the call, run a use case, render its view.

Public RPCs (caller's access token in `nameko.authorization`; documented, with their errors, in
services/payments/README.md): checkout, refund (admin), get_payment, list_payments,
spent_totals, reconcile (admin), pending_payments (admin). Timers: the sweeper that completes
abandoned requests, and the pruning of old Idempotency-Keys.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

from nameko.timer import timer

from payments import reads, signals, use_cases, views
from payments.config import settings
from payments.dependencies import Ports
from payments.domain import Actor
from payments.ports import Deps
from shared.errors import Forbidden
from shared.messaging.identity import GATEWAY
from shared.nameko.bootstrap import Prepared
from shared.nameko.context import RequestContext
from shared.nameko.database import Database
from shared.nameko.health import HealthMixin
from shared.nameko.metrics import ServiceMetrics
from shared.nameko.outbox import OutboxRelay
from shared.nameko.principal import Principal
from shared.nameko.rpc import ServiceRpc, rpc

log = logging.getLogger(__name__)


class PaymentsService(HealthMixin):
    name = "payments"
    prepared = Prepared("payments", lambda: settings().log_level)  # before any setup()

    context = RequestContext()
    metrics = ServiceMetrics(signals.Signals())  # /metrics with business signals
    db = Database(lambda: settings().database_url, lambda: settings().db_pool_size)
    principal = Principal()
    catalog = ServiceRpc("catalog", timeout=settings().catalog_timeout)
    relay = OutboxRelay(lambda: settings().database_url)
    ports: Deps = Ports(database="db", catalog="catalog")

    def _actor(self) -> Actor:
        identity = self.principal.identity()
        return Actor(uuid.UUID(identity.user_id), identity.has_role("admin"))

    @rpc(callers=GATEWAY)  # type: ignore[untyped-decorator]
    def checkout(self, idempotency_key: str, request: dict[str, Any]) -> dict[str, Any]:
        actor = self._actor()
        return views.outcome(use_cases.checkout(self.ports, actor, idempotency_key, request))

    @rpc(callers=GATEWAY)  # type: ignore[untyped-decorator]
    def refund(self, payment_id: str, idempotency_key: str,
               request: dict[str, Any] | None = None) -> dict[str, Any]:
        actor = self._actor()
        if not actor.is_admin:
            # Someone else's payment is 404 as everywhere; one's own is 403 (admins refund).
            reads.get_payment(self.ports.store, actor, payment_id)
            raise Forbidden("Refunds require the admin role.")
        return views.outcome(use_cases.refund(self.ports, actor, payment_id, idempotency_key,
                                              request))

    @rpc  # type: ignore[untyped-decorator]
    def get_payment(self, payment_id: str) -> dict[str, Any]:
        return reads.get_payment(self.ports.store, self._actor(), payment_id)

    @rpc(callers=GATEWAY)  # type: ignore[untyped-decorator]
    def list_payments(self, limit: int = 20, cursor: str | None = None,
                      user_id: str | None = None) -> dict[str, Any]:
        return reads.list_payments(self.ports.store, self._actor(),
                                   {"limit": limit, "cursor": cursor, "user_id": user_id})

    @rpc(callers=GATEWAY)  # type: ignore[untyped-decorator]
    def spent_totals(self, user_id: str | None = None) -> list[dict[str, Any]]:
        return reads.spent(self.ports.store, self._actor(), user_id)

    @rpc(callers=GATEWAY)  # type: ignore[untyped-decorator]
    def reconcile(self) -> list[dict[str, Any]]:
        self.principal.require_role("admin")
        return reads.reconcile(self.ports.store)

    @rpc(callers=GATEWAY)  # type: ignore[untyped-decorator]
    def pending_payments(self, limit: int = 20) -> dict[str, Any]:
        self.principal.require_role("admin")
        return reads.pending(self.ports.store, limit)

    @timer(interval=settings().sweep_interval)  # type: ignore[untyped-decorator]
    def sweep(self) -> None:
        handled = use_cases.sweep(self.ports)
        if handled:
            log.info("completed abandoned requests", extra={"count": handled})

    @timer(interval=settings().prune_interval)  # type: ignore[untyped-decorator]
    def prune_keys(self) -> None:
        pruned = use_cases.prune_keys(self.ports, settings().key_retention_hours)
        if pruned:
            log.info("pruned idempotency keys", extra={"count": pruned})
