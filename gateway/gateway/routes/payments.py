"""Payments routes (http-api.md, Payments): checkout and refunds with Idempotency-Key, reads.

The payments service owns the idempotency layer (its keys live beside the payments they
protect, docs/adr/0005); this route checks the header, forwards it with the body, and turns the
stored outcome `{status, body, replayed}` into the HTTP answer, adding
`Idempotent-Replayed: true` to a replay.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Coroutine
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.routing import APIRoute

from gateway import upstream
from gateway.openapi_responses import BODY, UPSTREAM, body_example, problem, problems, success
from gateway.problems import PROBLEM_JSON
from gateway.routes.payments_schemas import (
    CheckoutRequest,
    Declined,
    Payment,
    PaymentPage,
    Refund,
    RefundRequest,
)
from gateway.routing import JsonRoute
from gateway.security import current_user
from shared.errors import BadRequest
from shared.tokens import Identity

MAX_KEY = 255
User = Annotated[Identity, Depends(current_user)]
# Required, so documented by hand: as a FastAPI parameter a missing key would be a 422, and
# http-api.md says 400 for a missing or over-long key (the route checks it, _key).
IDEMPOTENCY_KEY = {"parameters": [{
    "name": "Idempotency-Key", "in": "header", "required": True,
    "schema": {"type": "string", "minLength": 1, "maxLength": MAX_KEY},
    "description": (f"1-{MAX_KEY} characters, chosen by the client, scoped to the caller. The "
                    "first completed outcome is stored for at least 24 h and replayed for the "
                    "same key and body; 400 without it.")}]}
REPLAYABLE = ("Idempotent-Replayed",)


class OptionalBodyRoute(JsonRoute):
    """JSON bodies as everywhere, but a request with no body at all is fine (all defaults)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        checked, plain = super().get_route_handler(), APIRoute.get_route_handler(self)

        async def handler(request: Request) -> Response:
            empty = (request.headers.get("content-length", "0") == "0"
                     and "transfer-encoding" not in request.headers)
            return await (plain if empty else checked)(request)

        return handler


def _key(request: Request) -> str:
    key = request.headers.get("idempotency-key")
    if key is None or not 1 <= len(key) <= MAX_KEY:
        raise BadRequest(f"Send an Idempotency-Key header of 1 to {MAX_KEY} characters.")
    return key


def _answer(outcome: dict[str, Any], location: str | None = None) -> Response:
    status = int(outcome["status"])
    headers = {"Idempotent-Replayed": "true"} if outcome.get("replayed") else {}
    if location is not None and status == 201:
        headers["Location"] = location.format(**outcome["body"])
    media = "application/json" if status < 400 else PROBLEM_JSON
    return Response(orjson.dumps(outcome["body"]), status_code=status, media_type=media,
                    headers=headers)


router = APIRouter(prefix="/payments", tags=["payments"], route_class=JsonRoute)
CHECKOUT_DOC = ("Prices come from the catalog. Stock is reserved, the card charged, and the "
                "reservation committed; a decline releases it. 409 is out of stock (code "
                "out_of_stock, or reservation_expired when a resumed checkout's hold lapsed "
                "first) or the same key still in flight (idempotency_key_in_use); 422 is a bad "
                "body, an unknown product, several currencies, a total above 10^15 minor "
                "units, an unsupported method or the key reused with another body.")
CHECKOUT_RESPONSES = {
    **success(201, "Location", *REPLAYABLE),
    **problems(*BODY, 401, 409, *UPSTREAM),
    **problem(402, Declined.__name__, "Declined: recorded as a failed payment (replayed "
                                      "with Idempotent-Replayed for the same key)"),
}
CHECKOUT_EXAMPLE = body_example({"items": [{"product_id": "0b7e7d4e-52d4-4c8e-9d8a-"
                                                          "6f0c1f3b2a11", "quantity": 2}],
                                 "payment_method": "tok_visa"})


@router.post("", status_code=201, response_model=Payment, summary="Check out: pay for items",
             operation_id="checkout", responses=CHECKOUT_RESPONSES, description=CHECKOUT_DOC,
             openapi_extra={**IDEMPOTENCY_KEY, **CHECKOUT_EXAMPLE})
async def checkout(request: Request, body: CheckoutRequest, _: User) -> Response:
    key = _key(request)
    outcome = await upstream.call(request, "payments", "checkout", key,
                                  body.model_dump(mode="json"))
    return _answer(outcome, "/payments/{id}")


@router.get("", response_model=PaymentPage, summary="The caller's payments, newest first",
            operation_id="listPayments", responses=problems(401, 403, 422, *UPSTREAM),
            description="Declined checkouts are listed too (status `failed`). `user_id` is for "
                        "admins: 403 for anyone else.")
async def list_payments(request: Request, _: User,
                        limit: Annotated[int, Query(ge=1, le=100)] = 20,
                        cursor: Annotated[str | None, Query(max_length=200)] = None,
                        user_id: Annotated[uuid.UUID | None, Query(
                            description="Admin only: another user's payments.")] = None) -> Any:
    return await upstream.call(request, "payments", "list_payments", limit=limit, cursor=cursor,
                               user_id=str(user_id) if user_id else None)


@router.get("/{payment_id}", response_model=Payment, summary="One payment (owner or admin)",
            operation_id="getPayment", responses=problems(401, 404, *UPSTREAM),
            description="404 for someone else's payment (its existence is not revealed) and "
                        "for an id that is not a UUID.")
async def get_payment(request: Request, payment_id: str, _: User) -> Any:
    return await upstream.call(request, "payments", "get_payment", payment_id)


_refunds = APIRouter(tags=["payments"], route_class=OptionalBodyRoute)  # under `router`


@_refunds.post("/{payment_id}/refunds", status_code=201, response_model=Refund,
               summary="Refund a payment (admin; others get 404, or 403 for their own)",
               operation_id="refundPayment",
               responses={**success(201, *REPLAYABLE), **problems(*BODY, 401, 403, 404, 409,
                                                                  *UPSTREAM)},
               description="Full (the default) or partial. 409 if the payment did not succeed "
                           "or is fully refunded; 422 for more than what is left or restock on "
                           "a partial refund. The body may be left out: a full refund.",
               openapi_extra={**IDEMPOTENCY_KEY,
                              **body_example({"amount": 500, "restock": False})})
async def refund(request: Request, payment_id: str, _: User,
                 body: RefundRequest | None = None) -> Response:
    key = _key(request)
    payload = (body or RefundRequest()).model_dump(mode="json")
    return _answer(await upstream.call(request, "payments", "refund", payment_id, key, payload))


router.include_router(_refunds)
