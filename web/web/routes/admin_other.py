"""Admin console: payments and refunds, users and roles, and the ops page."""

from __future__ import annotations

import uuid

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from web.api import ApiError
from web.pages import form, problem, render, see_other
from web.visit import Visit

ROLES = ("customer", "admin")


async def home(request: Request) -> Response:
    await Visit(request).require_admin()
    return see_other("/admin/products")


async def payments(request: Request) -> Response:
    visit = Visit(request)
    await visit.require_admin()
    user_id = request.query_params.get("user_id", "").strip()
    try:
        user_id = str(uuid.UUID(user_id)) if user_id else ""
    except ValueError:
        user_id = ""
    page = (await visit.call("GET", "/payments", params={
        "limit": 50, "user_id": user_id, "cursor": request.query_params.get("cursor")})).data
    return await render(visit, "admin/payments.html", payments=page["items"],
                        next_cursor=page["next_cursor"], user_id=user_id)


async def payment(request: Request, status: int = 200, **context: object) -> Response:
    visit = Visit(request)
    await visit.require_admin()
    reply = await visit.call("GET", f"/payments/{request.path_params['payment_id']}")
    return await render(visit, "admin/payment.html", status, payment=reply.data,
                        attempt=str(uuid.uuid4()), notice=request.query_params.get("notice"),
                        **context)


async def refund(request: Request) -> Response:
    visit = Visit(request)
    data = await form(visit)
    await visit.require_admin()
    pid = request.path_params["payment_id"]
    body: dict[str, object] = {"restock": data.get("restock") == "on"}
    amount = str(data.get("amount", "")).strip()
    try:
        if amount:
            body["amount"] = int(amount)
        await visit.call("POST", f"/payments/{pid}/refunds", json=body,
                         headers={"Idempotency-Key": str(data.get("attempt", ""))[:64]
                                  or str(uuid.uuid4())})
    except ValueError:
        return await payment(request, error={"message": "The amount is in minor units (cents),"
                                             " a whole number.", "request_id": ""})
    except ApiError as error:
        return await payment(request, error=problem(error))
    return see_other(f"/admin/payments/{pid}?notice=refunded")


async def users(request: Request) -> Response:
    visit = Visit(request)
    await visit.require_admin()
    q = request.query_params.get("q", "").strip()[:200]
    page = (await visit.call("GET", "/admin/users", params={
        "limit": 50, "q": q, "cursor": request.query_params.get("cursor")})).data
    return await render(visit, "admin/users.html", users=page["items"],
                        next_cursor=page["next_cursor"], q=q, roles=ROLES,
                        notice=request.query_params.get("notice"))


async def set_roles(request: Request) -> Response:
    visit = Visit(request)
    data = await form(visit)
    await visit.require_admin()
    roles = [role for role in ROLES if data.get(f"role_{role}") == "on"]
    await visit.call("PUT", f"/auth/users/{request.path_params['user_id']}/roles",
                     json={"roles": roles})
    return see_other("/admin/users?notice=roles")


async def ops(request: Request) -> Response:
    visit = Visit(request)
    await visit.require_admin()
    return await render(visit, "admin/ops.html", ops=(await visit.call("GET", "/admin/ops")).data)


routes = [
    Route("/admin", home),
    Route("/admin/payments", payments),
    Route("/admin/payments/{payment_id:uuid}", payment),
    Route("/admin/payments/{payment_id:uuid}/refund", refund, methods=["POST"]),
    Route("/admin/users", users),
    Route("/admin/users/{user_id:uuid}/roles", set_roles, methods=["POST"]),
    Route("/admin/ops", ops),
]
