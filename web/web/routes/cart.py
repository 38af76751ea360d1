"""The cart (in the server-side session) and checkout with the simulator's cards.

Each rendering of the checkout form carries a fresh attempt id, sent as the Idempotency-Key:
a double click or a reload re-sends the same key and body, so the gateway replays the first
outcome instead of charging again. While the first is still running the API answers 409
`idempotency_key_in_use`; the page waits for the outcome (IN_FLIGHT_WAIT) and shows that.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from web.api import ApiError
from web.pages import form, problem, render, see_other
from web.visit import Visit

MAX_QUANTITY = 99
IN_FLIGHT_WAIT = 10.0
CARDS = [("tok_visa", "Visa ending 4242 (succeeds)"),
         ("tok_chargeDeclined", "Card that is declined"),
         ("tok_chargeDeclinedInsufficientFunds", "Card with insufficient funds"),
         ("tok_processingError", "Card whose processor fails")]


async def _lines(visit: Visit, cart: dict[str, int]) -> list[dict[str, Any]]:
    async def one(product_id: str, quantity: int) -> dict[str, Any] | None:
        try:
            product = (await visit.public("GET", f"/products/{product_id}")).data
        except ApiError as error:
            if error.status == 404:
                return None  # deleted since it was added
            raise
        return {"product": product, "quantity": quantity,
                "total": product["price"] * quantity}

    found = await asyncio.gather(*(one(p, q) for p, q in cart.items()))
    return [line for line in found if line is not None]


async def show_cart(visit: Visit, status: int = 200, **context: Any) -> Response:
    cart: dict[str, int] = (await visit.data()).get("cart", {})
    lines = await _lines(visit, cart)
    totals: dict[str, int] = {}
    for line in lines:
        currency = line["product"]["currency"]
        totals[currency] = totals.get(currency, 0) + line["total"]
    return await render(visit, "cart.html", status, lines=lines, totals=totals, cards=CARDS,
                        attempt=str(uuid.uuid4()), **context)


async def cart_page(request: Request) -> Response:
    return await show_cart(Visit(request))


def _quantity(raw: Any) -> int:
    try:
        return max(0, min(MAX_QUANTITY, int(raw)))
    except (TypeError, ValueError):
        return 1


async def add_to_cart(request: Request) -> Response:
    visit = Visit(request)
    data = await form(visit)
    product_id = str(uuid.UUID(str(data.get("product_id", ""))))
    session = await visit.data()
    cart: dict[str, int] = session.setdefault("cart", {})
    cart[product_id] = min(MAX_QUANTITY, cart.get(product_id, 0) + max(1, _quantity(
        data.get("quantity", 1))))
    await visit.save()
    return see_other("/cart")


async def update_cart(request: Request) -> Response:
    visit = Visit(request)
    data = await form(visit)
    session = await visit.data()
    cart: dict[str, int] = session.setdefault("cart", {})
    product_id = str(data.get("product_id", ""))
    quantity = _quantity(data.get("quantity", 0))
    if quantity == 0:
        cart.pop(product_id, None)
    elif product_id in cart:
        cart[product_id] = quantity
    await visit.save()
    return see_other("/cart")


async def checkout(request: Request) -> Response:
    visit = Visit(request)
    data = await form(visit)
    await visit.require_user()
    attempt = str(data.get("attempt", ""))[:64] or str(uuid.uuid4())
    session = await visit.data()
    placed = session.get("placed", {})
    if attempt in placed:  # the same attempt again after it completed: show its outcome
        return see_other(f"/orders?placed={placed[attempt]}")
    cart: dict[str, int] = session.get("cart", {})
    if not cart:
        return see_other("/cart")
    body = {"items": [{"product_id": p, "quantity": q} for p, q in sorted(cart.items())],
            "payment_method": str(data.get("payment_method", ""))}
    try:
        reply = await _pay(visit, attempt, body)
    except ApiError as error:
        return await show_cart(visit, 200 if error.status in (402, 409) else error.status,
                               error=_checkout_problem(error, await _lines(visit, cart)))
    session = await visit.data()
    session["cart"] = {}
    session["placed"] = {**dict(list(session.get("placed", {}).items())[-9:]),
                         attempt: reply["id"]}
    await visit.save()
    return see_other(f"/orders?placed={reply['id']}")


async def _pay(visit: Visit, attempt: str, body: dict[str, Any]) -> dict[str, Any]:
    deadline = asyncio.get_running_loop().time() + IN_FLIGHT_WAIT
    while True:
        try:
            reply = await visit.call("POST", "/payments", json=body,
                                     headers={"Idempotency-Key": attempt})
            return dict(reply.data)
        except ApiError as error:
            busy = error.body.get("code") == "idempotency_key_in_use"
            if not busy or asyncio.get_running_loop().time() > deadline:
                raise
        await asyncio.sleep(0.2)


def _checkout_problem(error: ApiError, lines: list[dict[str, Any]]) -> dict[str, Any]:
    shown = problem(error)
    if error.status == 402:
        code = error.body.get("decline_code", "declined")
        shown["message"] = f"Payment declined ({code}): {error.detail}"
    elif error.body.get("code") == "out_of_stock":
        message = error.detail
        for line in lines:  # name the item, not its id
            message = message.replace(f"product {line['product']['id']}",
                                      f"“{line['product']['name']}”")
        shown["message"] = message
    return shown


routes = [
    Route("/cart", cart_page),
    Route("/cart/add", add_to_cart, methods=["POST"]),
    Route("/cart/update", update_cart, methods=["POST"]),
    Route("/checkout", checkout, methods=["POST"]),
]
