"""In-memory fakes of payments' own ports: the store (a transaction works on a copy of the
tables and commits it only when its block ends normally), the catalog and the card provider."""

from __future__ import annotations

import copy
import dataclasses
import datetime as dt
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from payments.domain import KeyRecord, Payment, Priced, Refund
from payments.ports import Charge, Finish, ProviderRefund
from shared.errors import NotFound, OutOfStock


@dataclasses.dataclass
class Tables:
    keys: dict[tuple[uuid.UUID, str], KeyRecord] = dataclasses.field(default_factory=dict)
    expired: set[uuid.UUID] = dataclasses.field(default_factory=set)  # lease over: resource ids
    payments: dict[uuid.UUID, Payment] = dataclasses.field(default_factory=dict)
    refunds: dict[uuid.UUID, Refund] = dataclasses.field(default_factory=dict)
    ledger: list[tuple[uuid.UUID, str, int]] = dataclasses.field(default_factory=list)
    events: list[tuple[str, dict[str, Any]]] = dataclasses.field(default_factory=list)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class FakeKeys:
    def __init__(self, t: Tables) -> None:
        self.t = t

    def insert_new(self, user_id: uuid.UUID, key: str, kind: str, request: dict[str, Any],
                   fingerprint: str, lease_seconds: float) -> KeyRecord | None:
        if (user_id, key) in self.t.keys:
            return None
        record = KeyRecord(user_id, key, kind, fingerprint, "in_flight", uuid.uuid4(), request)
        self.t.keys[(user_id, key)] = record
        return record

    def lock(self, user_id: uuid.UUID, key: str) -> tuple[KeyRecord, bool] | None:
        record = self.t.keys.get((user_id, key))
        return None if record is None else (record, record.resource_id in self.t.expired)

    def extend_lease(self, user_id: uuid.UUID, key: str, lease_seconds: float) -> None:
        self.t.expired.discard(self.t.keys[(user_id, key)].resource_id)

    def by_resource(self, resource_id: uuid.UUID) -> KeyRecord | None:
        return next((r for r in self.t.keys.values() if r.resource_id == resource_id), None)

    def complete(self, resource_id: uuid.UUID, status_code: int, body: Any) -> None:
        record = self.by_resource(resource_id)
        if record is not None and record.state == "in_flight":
            self.t.keys[(record.user_id, record.key)] = dataclasses.replace(
                record, state="completed", status_code=status_code, body=body)

    def forget(self, resource_id: uuid.UUID) -> None:
        record = self.by_resource(resource_id)
        if record is not None and record.state == "in_flight":
            del self.t.keys[(record.user_id, record.key)]

    def release(self, resource_id: uuid.UUID) -> None:
        self.t.expired.add(resource_id)

    def claim_abandoned(self, limit: int, lease_seconds: float) -> list[KeyRecord]:
        found = [r for r in self.t.keys.values()
                 if r.state == "in_flight" and r.resource_id in self.t.expired][:limit]
        self.t.expired -= {r.resource_id for r in found}
        return found

    def prune(self, retention_hours: float) -> int:
        return 0


class FakePayments:
    def __init__(self, t: Tables) -> None:
        self.t = t

    def insert(self, payment_id: uuid.UUID, user_id: uuid.UUID, priced: Priced,
               payment_method: str) -> Payment:
        payment = Payment(payment_id, user_id, "pending", priced.amount, priced.currency, 0, None,
                          payment_method, priced.items, None, _now())
        self.t.payments[payment_id] = payment
        return payment

    def get(self, payment_id: uuid.UUID, lock: bool = False) -> Payment | None:
        return self.t.payments.get(payment_id)

    def delete_pending(self, payment_id: uuid.UUID) -> bool:
        payment = self.t.payments.get(payment_id)
        if payment is None or payment.status != "pending":
            return False
        del self.t.payments[payment_id]
        return True

    def finish(self, payment_id: uuid.UUID, outcome: Finish) -> bool:
        payment = self.t.payments.get(payment_id)
        if payment is None or payment.status != "pending":
            return False
        self.t.payments[payment_id] = dataclasses.replace(
            payment, status="succeeded" if outcome.succeeded else "failed",
            charge_id=outcome.charge_id, decline_code=outcome.decline_code)
        if outcome.succeeded:
            self.t.ledger += [(payment_id, "provider_cash", payment.amount),
                              (payment_id, "sales", -payment.amount)]
        self.t.events.append((outcome.event["b_event_type"], outcome.event["b_payload"]))
        FakeKeys(self.t).complete(payment_id, outcome.status_code, outcome.body)
        return True

    def apply_refund(self, payment_id: uuid.UUID, amount: int) -> Payment:
        payment = self.t.payments[payment_id]
        refunded = payment.refunded_amount + amount
        status = "refunded" if refunded >= payment.amount else "partially_refunded"
        self.t.payments[payment_id] = dataclasses.replace(payment, refunded_amount=refunded,
                                                          status=status)
        return self.t.payments[payment_id]

    def insert_refund(self, refund_id: uuid.UUID, payment: Payment, amount: int, restock: bool,
                      provider_refund_id: str, created_by: uuid.UUID) -> Refund:
        refund = Refund(refund_id, payment.id, amount, payment.currency, restock, _now())
        self.t.refunds[refund_id] = refund
        return refund

    def page(self, user_id: uuid.UUID, limit: int,
             after: tuple[dt.datetime, uuid.UUID] | None) -> list[Payment]:
        mine = sorted((p for p in self.t.payments.values() if p.user_id == user_id),
                      key=lambda p: (p.created_at, p.id), reverse=True)
        return [p for p in mine if after is None or (p.created_at, p.id) < after][:limit]

    def pending(self, limit: int) -> tuple[int, list[tuple[Payment, float]]]:
        waiting = [p for p in self.t.payments.values() if p.status == "pending"]
        return len(waiting), [(p, 0.0) for p in waiting[:limit]]


class FakeLedger:
    def __init__(self, t: Tables) -> None:
        self.t = t

    def post_refund(self, refund: Refund, user_id: uuid.UUID) -> None:
        self.t.ledger += [(refund.payment_id, "sales", refund.amount),
                          (refund.payment_id, "provider_cash", -refund.amount)]

    def balance(self, payment_id: uuid.UUID) -> int:
        return -sum(a for p, account, a in self.t.ledger if p == payment_id and account == "sales")

    def spent_by_user(self, user_id: uuid.UUID) -> list[dict[str, Any]]:
        return []

    def reconcile(self) -> list[dict[str, Any]]:
        return []


class FakeEvents:
    def __init__(self, t: Tables) -> None:
        self.t = t

    def record(self, event_type: str, payload: dict[str, Any]) -> None:
        self.t.events.append((event_type, payload))


class FakeTransaction:
    def __init__(self, tables: Tables) -> None:
        self.keys = FakeKeys(tables)
        self.payments = FakePayments(tables)
        self.ledger = FakeLedger(tables)
        self.events = FakeEvents(tables)


class FakeStore:
    """`tables` is what is committed; `commits` counts the blocks that committed."""

    def __init__(self) -> None:
        self.tables = Tables()
        self.commits = 0

    @contextmanager
    def transaction(self) -> Iterator[FakeTransaction]:
        working = copy.deepcopy(self.tables)
        yield FakeTransaction(working)  # an exception here leaves `tables` untouched
        self.tables = working
        self.commits += 1

    statement = transaction  # one statement commits alone: the same, for a fake

    def key(self, user_id: uuid.UUID, key: str) -> KeyRecord | None:
        return self.tables.keys.get((user_id, key))


class FakeCatalog:
    """The catalog's reservation RPCs in memory: idempotent, all or nothing, thread-safe."""

    def __init__(self) -> None:
        self.products: dict[str, dict[str, Any]] = {}
        self.reservations: dict[str, dict[str, Any]] = {}
        self.calls: list[str] = []
        self.fail_next: dict[str, Exception] = {}
        self.fail_after_reserve: Exception | None = None  # reserved, then the answer is lost
        self.reserve_delay = 0.0  # seconds each reserve takes (keeps a request in flight)
        self._lock = threading.Lock()

    def add(self, price: int = 1000, currency: str = "USD", stock: int = 10,
            deleted: bool = False) -> str:
        product_id = str(uuid.uuid4())
        self.products[product_id] = {"id": product_id, "sku": f"SKU-{product_id[:8]}",
                                     "name": f"Product {product_id[:4]}", "price": price,
                                     "currency": currency, "stock": stock, "deleted": deleted}
        return product_id

    def available(self, product_id: str) -> int:
        held = sum(r["items"].get(product_id, 0) for r in self.reservations.values()
                   if r["status"] == "active")
        return int(self.products[product_id]["stock"]) - held

    def _call(self, method: str) -> None:
        self.calls.append(method)
        error = self.fail_next.pop(method, None)
        if error is not None:
            raise error

    def get_products(self, product_ids: list[str]) -> list[dict[str, Any]]:
        self._call("get_products")
        return [{k: v for k, v in self.products[p].items() if k != "stock"}
                for p in product_ids if p in self.products]

    def reserve_stock(self, reservation_id: str, items: list[dict[str, Any]]) -> Any:
        self._call("reserve_stock")
        time.sleep(self.reserve_delay)
        wanted = {i["product_id"]: i["quantity"] for i in items}
        with self._lock:
            if reservation_id in self.reservations:
                return self.reservations[reservation_id]
            for product_id, quantity in wanted.items():
                if product_id not in self.products or self.products[product_id]["deleted"]:
                    raise NotFound("no such product")
                if self.available(product_id) < quantity:
                    raise OutOfStock("Not enough stock.")
            self.reservations[reservation_id] = {"items": wanted, "status": "active"}
            return self.reservations[reservation_id]

    def reserve_priced(self, reservation_id: str,
                       items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        self.reserve_stock(reservation_id, items)
        if self.fail_after_reserve is not None:
            error, self.fail_after_reserve = self.fail_after_reserve, None
            raise error
        return [{k: v for k, v in self.products[i["product_id"]].items() if k != "stock"}
                for i in items]

    def release_reservation(self, reservation_id: str) -> Any:
        self._call("release_reservation")
        with self._lock:  # an unknown id leaves a released tombstone
            record = self.reservations.setdefault(reservation_id,
                                                  {"items": {}, "status": "released"})
            record["status"] = "released"
            return record


class FakeProvider:
    """Cards by token, charges by idempotency key: the same key never charges twice."""

    DECLINES = {"tok_chargeDeclined": "card_declined",
                "tok_chargeDeclinedInsufficientFunds": "insufficient_funds"}

    def __init__(self) -> None:
        self.charges: dict[str, Charge] = {}
        self.money_moved = 0  # charges that really happened
        self.die_after_charge = False  # the process dies once the provider has charged

    def accepts(self, payment_method: str) -> bool:
        return payment_method == "tok_visa" or payment_method in self.DECLINES

    def charge(self, *, idempotency_key: str, amount: int, currency: str,
               payment_method: str) -> Charge:
        if idempotency_key not in self.charges:
            code = self.DECLINES.get(payment_method)
            self.charges[idempotency_key] = Charge(
                f"ch_{len(self.charges)}", "declined" if code else "succeeded", code)
            self.money_moved += code is None
        if self.die_after_charge:
            self.die_after_charge = False
            raise RuntimeError("the process died after the charge")
        return self.charges[idempotency_key]

    def find_charge(self, idempotency_key: str) -> Charge | None:
        return self.charges.get(idempotency_key)

    def refund(self, *, idempotency_key: str, charge_id: str, amount: int) -> ProviderRefund:
        return ProviderRefund(f"re_{idempotency_key}", charge_id, amount)
