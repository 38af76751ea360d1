"""Payments nameko entrypoints: payload -> use case -> result/events.

Public RPCs (caller's access token in `nameko.authorization`; arguments are validated, bad ones
come back as BadRequest/ValidationFailed; documented in services/payments/README.md):
- `checkout(idempotency_key, request)` -> `{status, body, replayed}`: the HTTP outcome of
  POST /payments (201 payment, 402 declined, 409 out of stock), stored per (user, key).
  Raises BadRequest (key), ValidationFailed (schema, unknown product, currencies, method, key
  reused with another body), Conflict (same key in flight), ServiceUnavailable/UpstreamTimeout.
- `refund(payment_id, idempotency_key, request=None)` (admin) -> `{status, body, replayed}`
  with a Refund; Conflict (not refundable), ValidationFailed (too much, restock on a partial);
  a non-admin gets NotFound for another user's payment and Forbidden for their own.
- `get_payment(payment_id)` -> Payment; NotFound unless the caller owns it or is admin.
- `list_payments(limit=20, cursor=None, user_id=None)` -> `{items, next_cursor}`, newest first.
- `spent_totals(user_id=None)` -> `[{amount, currency}]`: captured minus refunded per currency.
- `reconcile()` (admin) -> ledger mismatches; empty when the books balance.
- `pending_payments(limit=20)` (admin) -> `{count, items}`: pending payments, oldest first.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

from nameko.timer import timer

from payments import queries, refunds, signals, use_cases
from payments.catalog_port import RpcCatalog
from payments.config import settings
from payments.core import Actor, Deps
from payments.provider import RetryingProvider
from payments.simulator import CardSimulator
from shared.errors import Forbidden
from shared.messaging.identity import GATEWAY
from shared.nameko.bootstrap import prepare
from shared.nameko.context import RequestContext
from shared.nameko.database import Database
from shared.nameko.health import HealthMixin
from shared.nameko.metrics import ServiceMetrics
from shared.nameko.outbox import OutboxRelay
from shared.nameko.principal import Principal
from shared.nameko.rpc import ServiceRpc, rpc

prepare("payments", settings().log_level)
log = logging.getLogger(__name__)


class PaymentsService(HealthMixin):
    name = "payments"

    context = RequestContext()
    # /metrics on <SERVICE>_METRICS_PORT, with business signals (docs/observability.md)
    metrics = ServiceMetrics(signals.Signals())
    db = Database(lambda: settings().database_url, lambda: settings().db_pool_size)
    principal = Principal()
    catalog = ServiceRpc("catalog", timeout=settings().catalog_timeout)
    relay = OutboxRelay(lambda: settings().database_url)

    def _deps(self) -> Deps:
        config = settings()
        provider = RetryingProvider(CardSimulator(self.db), config.provider_attempts,
                                    config.provider_retry_wait)
        return Deps(uow=self.db, catalog=RpcCatalog(self.catalog), provider=provider,
                    lease_seconds=config.lease_seconds, crash_after=config.test_crash_after)

    def _actor(self) -> Actor:
        identity = self.principal.identity()
        return Actor(uuid.UUID(identity.user_id), identity.has_role("admin"))

    @rpc(callers=GATEWAY)  # type: ignore[untyped-decorator]
    def checkout(self, idempotency_key: str, request: dict[str, Any]) -> dict[str, Any]:
        actor = self._actor()
        return use_cases.checkout(self._deps(), actor, idempotency_key, request).to_wire()

    @rpc(callers=GATEWAY)  # type: ignore[untyped-decorator]
    def refund(self, payment_id: str, idempotency_key: str,
               request: dict[str, Any] | None = None) -> dict[str, Any]:
        actor = self._actor()
        if not actor.is_admin:
            # Someone else's payment is 404 as everywhere; one's own is 403 (admins refund).
            queries.get_payment(self.db, actor, payment_id)
            raise Forbidden("Refunds require the admin role.")
        return refunds.refund(self._deps(), actor, payment_id, idempotency_key,
                              request).to_wire()

    @rpc  # type: ignore[untyped-decorator]
    def get_payment(self, payment_id: str) -> dict[str, Any]:
        return queries.get_payment(self.db, self._actor(), payment_id)

    @rpc(callers=GATEWAY)  # type: ignore[untyped-decorator]
    def list_payments(self, limit: int = 20, cursor: str | None = None,
                      user_id: str | None = None) -> dict[str, Any]:
        return queries.list_payments(self.db, self._actor(),
                                     {"limit": limit, "cursor": cursor, "user_id": user_id})

    @rpc(callers=GATEWAY)  # type: ignore[untyped-decorator]
    def spent_totals(self, user_id: str | None = None) -> list[dict[str, Any]]:
        return queries.spent(self.db, self._actor(), user_id)

    @rpc(callers=GATEWAY)  # type: ignore[untyped-decorator]
    def reconcile(self) -> list[dict[str, Any]]:
        self.principal.require_role("admin")
        return queries.reconcile(self.db)

    @rpc(callers=GATEWAY)  # type: ignore[untyped-decorator]
    def pending_payments(self, limit: int = 20) -> dict[str, Any]:
        self.principal.require_role("admin")
        return queries.pending(self.db, limit)

    @timer(interval=settings().sweep_interval)  # type: ignore[untyped-decorator]
    def sweep(self) -> None:
        handled = use_cases.sweep(self._deps())
        if handled:
            log.info("completed abandoned requests", extra={"count": handled})

    @timer(interval=settings().prune_interval)  # type: ignore[untyped-decorator]
    def prune_keys(self) -> None:
        pruned = use_cases.prune_keys(self._deps(), settings().key_retention_hours)
        if pruned:
            log.info("pruned idempotency keys", extra={"count": pruned})
