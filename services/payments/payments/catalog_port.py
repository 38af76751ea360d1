"""What checkout needs from the catalog, as a port: the saga is tested against a fake, and runs
against the catalog service's RPCs (`catalog.reserve_stock`, with `with_products` to price in
the same call; `get_products`; `release_reservation`) through any nameko-style proxy with a
timeout.

Errors are the catalog's typed errors: `Conflict` from `reserve_stock` means out of stock (all
or nothing: nothing was reserved); `NotFound`/`ValidationFailed` mean a product is gone;
`UpstreamTimeout` means we do not know, so the step is retried later; `ServiceUnavailable`
means nobody got the request.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any, Protocol

from shared.errors import NotFound, ValidationFailed

# The most one payment can be, in minor units: the catalog's highest price. Amounts and the
# ledger's sums are 64-bit in PostgreSQL; a bigger total was a 500 (overflow) before this.
MAX_AMOUNT = 10**15


class CatalogPort(Protocol):
    def get_products(self, product_ids: list[str]) -> list[dict[str, Any]]: ...

    def reserve_stock(self, reservation_id: str, items: list[dict[str, Any]]) -> Any: ...

    def reserve_priced(self, reservation_id: str,
                       items: list[dict[str, Any]]) -> list[dict[str, Any]]: ...

    def release_reservation(self, reservation_id: str) -> Any: ...


class RpcCatalog:
    """CatalogPort over a nameko RPC proxy to the catalog service (attribute-style calls)."""

    def __init__(self, proxy: Any) -> None:
        self.proxy = proxy

    def get_products(self, product_ids: list[str]) -> list[dict[str, Any]]:
        return list(self.proxy.get_products(product_ids))

    def reserve_stock(self, reservation_id: str, items: list[dict[str, Any]]) -> Any:
        return self.proxy.reserve_stock(reservation_id, items=items)

    def reserve_priced(self, reservation_id: str,
                       items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Reserve, and the reserved products as they are now (one round trip, not two)."""
        reservation = self.proxy.reserve_stock(reservation_id, items=items, with_products=True)
        return list(reservation["products"])

    def release_reservation(self, reservation_id: str) -> Any:
        return self.proxy.release_reservation(reservation_id)


@dataclass(frozen=True)
class Priced:
    amount: int
    currency: str
    items: list[dict[str, Any]]  # [{product_id, sku, name, unit_price, quantity}]


def price(catalog: CatalogPort, wanted: list[dict[str, Any]]) -> Priced:
    """Prices from the catalog, never from the client. Unknown/deleted products, mixed
    currencies and a total above MAX_AMOUNT are 422."""
    ids = [item["product_id"] for item in wanted]
    try:
        found = catalog.get_products(ids)
    except NotFound:
        found = []
    return price_from(found, wanted)


def price_from(found: list[dict[str, Any]], wanted: list[dict[str, Any]]) -> Priced:
    """`price` on products already fetched (e.g. with their reservation)."""
    products = {str(uuid.UUID(str(p["id"]))): p for p in found if not p.get("deleted")}
    errors = [{"field": f"items.{i}.product_id", "message": "no such product"}
              for i, item in enumerate(wanted) if item["product_id"] not in products]
    if errors:
        raise ValidationFailed("Some products do not exist.", errors)
    currencies = {products[item["product_id"]]["currency"] for item in wanted}
    if len(currencies) > 1:
        raise ValidationFailed("A payment is in one currency; these items are in several.",
                               [{"field": "items", "message": "items in several currencies"}])
    lines = []
    for item in wanted:
        product = products[item["product_id"]]
        lines.append({"product_id": item["product_id"], "sku": product["sku"],
                      "name": product["name"], "unit_price": int(product["price"]),
                      "quantity": item["quantity"]})
    amount = sum(line["unit_price"] * line["quantity"] for line in lines)
    if amount > MAX_AMOUNT:
        raise ValidationFailed(f"A payment can be at most {MAX_AMOUNT} minor units.",
                               [{"field": "items", "message": "the total is too large"}])
    return Priced(amount=amount, currency=currencies.pop(), items=lines)
