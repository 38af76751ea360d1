"""Catalog nameko entrypoints: parse with schemas, call a use case, answer (views render).

Public RPCs are documented in docs/rpc-catalog.md. Writes to products require the caller's
access token (context header `nameko.authorization`) to carry the admin role. Events go out
through the outbox (`relay`); payments' events come in through reliable, inbox-deduplicated
handlers (subscriptions in shared.messaging.topology).
"""

from __future__ import annotations

import logging
from typing import Any

from nameko.timer import timer

from catalog import payment_events, reservations, schemas, signals, use_cases
from catalog.config import settings
from catalog.dependencies import ProductReads, Store
from shared.contracts.events import PaymentRefunded, PaymentSucceeded
from shared.messaging.identity import GATEWAY, PAYMENTS
from shared.nameko.bootstrap import Prepared
from shared.nameko.context import RequestContext
from shared.nameko.events import event_handler
from shared.nameko.health import HealthMixin
from shared.nameko.metrics import ServiceMetrics
from shared.nameko.outbox import OutboxRelay
from shared.nameko.principal import Principal
from shared.nameko.rpc import rpc
from shared.wire import utcnow

log = logging.getLogger(__name__)


class CatalogService(HealthMixin):
    name = "catalog"
    prepared = Prepared("catalog", lambda: settings().log_level)  # before any setup()

    context = RequestContext()
    # /metrics on <SERVICE>_METRICS_PORT, with business signals (docs/observability.md)
    metrics = ServiceMetrics(signals.Signals())
    store = Store()
    reads = ProductReads()
    principal = Principal()
    relay = OutboxRelay(lambda: settings().database_url)

    # --- reads: anyone (deleted products resolve, flagged `deleted`) ------------------------
    @rpc  # type: ignore[untyped-decorator]
    def get_product(self, product_id: str) -> dict[str, Any]:
        return use_cases.get_product(self.reads, schemas.product_id(product_id))

    @rpc  # type: ignore[untyped-decorator]
    def get_products(self, product_ids: list[str]) -> list[dict[str, Any]]:
        return use_cases.get_products(self.reads, schemas.product_ids(product_ids))

    @rpc(callers=GATEWAY)  # type: ignore[untyped-decorator]
    def list_products(self, limit: int = 20, cursor: str | None = None, q: str | None = None,
                      category: str | None = None) -> dict[str, Any]:
        query = schemas.parse(schemas.ListQuery,
                              {"limit": limit, "cursor": cursor, "q": q, "category": category})
        return use_cases.list_products(self.reads, query)

    # --- product writes: admin only ---------------------------------------------------------
    @rpc(callers=GATEWAY)  # type: ignore[untyped-decorator]
    def create_product(self, product: dict[str, Any]) -> dict[str, Any]:
        self.principal.require_role("admin")
        new = schemas.parse(schemas.NewProduct, product)
        with self.store.transaction() as tx:
            return use_cases.create_product(tx, new)

    @rpc(callers=GATEWAY)  # type: ignore[untyped-decorator]
    def update_product(self, product_id: str, changes: dict[str, Any],
                       expected_version: int | None = None) -> dict[str, Any]:
        self.principal.require_role("admin")
        pid, fields = schemas.product_id(product_id), schemas.parse(schemas.ProductChanges, changes)
        expected = schemas.parse(schemas.Expected, {"version": expected_version}).version
        with self.store.transaction() as tx:
            return use_cases.update_product(tx, pid, fields, expected)

    @rpc(callers=GATEWAY)  # type: ignore[untyped-decorator]
    def delete_product(self, product_id: str) -> None:
        self.principal.require_role("admin")
        pid = schemas.product_id(product_id)
        with self.store.transaction() as tx:
            use_cases.delete_product(tx, pid)

    @rpc(callers=GATEWAY)  # type: ignore[untyped-decorator]
    def adjust_stock(self, product_id: str, delta: int, reason: str) -> dict[str, Any]:
        self.principal.require_role("admin")
        pid = schemas.product_id(product_id)
        change = schemas.parse(schemas.StockAdjustment, {"delta": delta, "reason": reason})
        with self.store.transaction() as tx:
            return use_cases.adjust_stock(tx, pid, change)

    # --- reservations: service to service (payments), keyed by the caller's reservation id --
    @rpc(callers=PAYMENTS)  # type: ignore[untyped-decorator]
    def reserve_stock(self, reservation_id: str, items: list[dict[str, Any]],
                      with_products: bool = False) -> dict[str, Any]:
        request = schemas.parse(schemas.Reservation,
                                {"reservation_id": reservation_id, "items": items})
        with self.store.transaction() as tx:
            return reservations.reserve_stock(tx, request, utcnow(),
                                              settings().reservation_ttl_seconds,
                                              with_products=with_products is True)

    @rpc(callers=PAYMENTS)  # type: ignore[untyped-decorator]
    def get_reservation(self, reservation_id: str) -> dict[str, Any]:
        rid = schemas.reservation_id(reservation_id)
        with self.store.transaction() as tx:
            return reservations.get_reservation(tx, rid)

    @rpc(callers=PAYMENTS)  # type: ignore[untyped-decorator]
    def commit_reservation(self, reservation_id: str) -> dict[str, Any]:
        rid = schemas.reservation_id(reservation_id)
        with self.store.transaction() as tx:
            return reservations.commit_reservation(tx, rid)

    @rpc(callers=PAYMENTS)  # type: ignore[untyped-decorator]
    def release_reservation(self, reservation_id: str) -> dict[str, Any]:
        rid = schemas.reservation_id(reservation_id)
        with self.store.transaction() as tx:
            return reservations.release_reservation(tx, rid, utcnow())

    @timer(interval=settings().reservation_sweep_seconds)  # type: ignore[untyped-decorator]
    def expire_reservations(self) -> None:
        while True:
            with self.store.transaction() as tx:
                batch = reservations.SWEEP_BATCH
                if reservations.expire_due(tx, utcnow(), batch) < batch:
                    return

    # --- payments' events: each applied once (inbox claim in the same transaction) ----------
    @event_handler("payments", "payment_succeeded")  # type: ignore[untyped-decorator]
    def on_payment_succeeded(self, event: PaymentSucceeded) -> None:
        outcome = payment_events.apply_succeeded(self.store, event)
        log.info("payment_succeeded applied: %s", outcome,
                 extra={"payment_id": str(event.payment_id)})

    @event_handler("payments", "payment_refunded")  # type: ignore[untyped-decorator]
    def on_payment_refunded(self, event: PaymentRefunded) -> None:
        outcome = payment_events.apply_refunded(self.store, event)
        log.info("payment_refunded applied: %s", outcome,
                 extra={"payment_id": str(event.payment_id)})
