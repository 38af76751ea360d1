"""What the use cases need from the outside world. postgres.py implements the storage ports,
dependencies.py the catalog over RPC, simulator.py (behind provider.py's retries) the card
provider; the unit tests use in-memory fakes (tests/unit/fakes.py)."""

from __future__ import annotations

import datetime as dt
import uuid
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from payments.domain import KeyRecord, Payment, Priced, Refund
from payments.pricing import Item, Product


class Keys(Protocol):
    """Idempotency keys, scoped per user; a key's `resource_id` is chosen at first sight."""

    # The record of the key this call inserted (leased to it), or None if the key exists.
    def insert_new(self, user_id: uuid.UUID, key: str, kind: str, request: dict[str, Any],
                   fingerprint: str, lease_seconds: float) -> KeyRecord | None: ...
    # The existing key, locked until the transaction ends, and whether its lease expired.
    def lock(self, user_id: uuid.UUID, key: str) -> tuple[KeyRecord, bool] | None: ...
    def extend_lease(self, user_id: uuid.UUID, key: str, lease_seconds: float) -> None: ...
    def by_resource(self, resource_id: uuid.UUID) -> KeyRecord | None: ...
    # Store the first outcome of an in-flight key.
    def complete(self, resource_id: uuid.UUID, status_code: int, body: Any) -> None: ...
    def forget(self, resource_id: uuid.UUID) -> None: ...  # nothing happened: a retry proceeds
    def release(self, resource_id: uuid.UUID) -> None: ...  # failed midway: a retry takes over
    # Lease in-flight keys whose request died (several sweepers never take the same key).
    def claim_abandoned(self, limit: int, lease_seconds: float) -> list[KeyRecord]: ...
    def prune(self, retention_hours: float) -> int: ...


@dataclass(frozen=True)
class Finish:
    """A pending payment's terminal outcome, with its event and its stored response."""

    succeeded: bool
    charge_id: str | None
    decline_code: str | None
    status_code: int
    body: dict[str, Any]
    event: dict[str, Any]  # shared.messaging.outbox.new_event


class Payments(Protocol):
    def insert(self, payment_id: uuid.UUID, user_id: uuid.UUID, priced: Priced,
               payment_method: str) -> Payment: ...
    def get(self, payment_id: uuid.UUID, lock: bool = False) -> Payment | None: ...
    def delete_pending(self, payment_id: uuid.UUID) -> bool: ...
    # Compare-and-set on `pending`; with it the capture, the event and the key's outcome.
    # False when the payment was not pending any more: nothing was written.
    def finish(self, payment_id: uuid.UUID, outcome: Finish) -> bool: ...
    def apply_refund(self, payment_id: uuid.UUID, amount: int) -> Payment: ...
    def insert_refund(self, refund_id: uuid.UUID, payment: Payment, amount: int, restock: bool,
                      provider_refund_id: str, created_by: uuid.UUID) -> Refund: ...
    # Newest first, strictly before `after` (created_at, id).
    def page(self, user_id: uuid.UUID, limit: int,
             after: tuple[dt.datetime, uuid.UUID] | None) -> list[Payment]: ...
    # How many are pending, and the oldest `limit` with their age in seconds.
    def pending(self, limit: int) -> tuple[int, list[tuple[Payment, float]]]: ...


class Ledger(Protocol):
    def post_refund(self, refund: Refund, user_id: uuid.UUID) -> None: ...
    def spent_by_user(self, user_id: uuid.UUID) -> list[dict[str, Any]]: ...
    def reconcile(self) -> list[dict[str, Any]]: ...  # every mismatch; empty when all is well


class Events(Protocol):
    def record(self, event_type: str, payload: dict[str, Any]) -> None: ...  # the outbox


class Transaction(Protocol):
    @property
    def keys(self) -> Keys: ...
    @property
    def payments(self) -> Payments: ...
    @property
    def ledger(self) -> Ledger: ...
    @property
    def events(self) -> Events: ...


class Store(Protocol):
    # One transaction: commits when its `with` block exits normally, else rolls back.
    def transaction(self) -> AbstractContextManager[Transaction]: ...
    # For work that is one statement: each statement commits alone (no BEGIN/COMMIT trips).
    def statement(self) -> AbstractContextManager[Transaction]: ...


class Catalog(Protocol):
    """The catalog's RPCs. reserve_* raise OutOfStock (nothing reserved), ReservationLapsed
    (released or expired: no longer held), NotFound/ValidationFailed (a product is gone),
    UpstreamTimeout (unknown: retried later), ServiceUnavailable (nobody got it)."""

    def get_products(self, product_ids: list[str]) -> list[Product]: ...
    def reserve_stock(self, reservation_id: str, items: list[Item]) -> None: ...
    # Reserve, and the reserved products as they are now (one round trip, not two).
    def reserve_priced(self, reservation_id: str, items: list[Item]) -> list[Product]: ...
    def release_reservation(self, reservation_id: str) -> None: ...


@dataclass(frozen=True)
class Charge:
    id: str | None  # None when no charge exists at the provider (gave up on transient errors)
    status: Literal["succeeded", "declined"]
    decline_code: str | None = None

    @property
    def succeeded(self) -> bool:
        return self.status == "succeeded"


@dataclass(frozen=True)
class ProviderRefund:
    id: str
    charge_id: str
    amount: int


class CardProvider(Protocol):
    """Charges and refunds keyed by the caller: the same key never moves money twice, and
    `find_charge` tells what happened to a key, so a resumed saga re-queries, never guesses."""

    def accepts(self, payment_method: str) -> bool: ...
    def charge(self, *, idempotency_key: str, amount: int, currency: str,
               payment_method: str) -> Charge: ...
    def find_charge(self, idempotency_key: str) -> Charge | None: ...
    def refund(self, *, idempotency_key: str, charge_id: str, amount: int) -> ProviderRefund: ...


@dataclass(frozen=True)
class Deps:
    """What a use case is given."""

    store: Store
    catalog: Catalog
    provider: CardProvider
    lease_seconds: float = 30.0
    crash_after: str = ""  # test hook: SIGKILL the process right after this saga step
