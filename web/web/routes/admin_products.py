"""Admin console: products (create, edit with If-Match, delete, stock)."""

from __future__ import annotations

from typing import Any

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from web.api import ApiError
from web.pages import form, problem, render, see_other
from web.visit import Visit

FIELDS = ("name", "description", "category")
CONFLICT = ("Someone else changed this product after you opened it. Nothing was saved. "
            "The form now shows the current version; re-apply your change if it still "
            "makes sense.")


async def products(request: Request) -> Response:
    visit = Visit(request)
    await visit.require_admin()
    q = request.query_params.get("q", "").strip()[:200]
    page = (await visit.public("GET", "/products", params={
        "limit": 50, "q": q, "cursor": request.query_params.get("cursor")})).data
    return await render(visit, "admin/products.html", products=page["items"],
                        next_cursor=page["next_cursor"], q=q,
                        notice=request.query_params.get("notice"), values={})


def _price(raw: Any) -> int | str:
    text = str(raw or "").strip()
    try:
        units, _, cents = text.partition(".")
        return int(units) * 100 + int((cents + "00")[:2]) if cents else int(units) * 100
    except ValueError:
        return text  # the API's 422 explains it


def _product_body(data: FormData) -> dict[str, Any]:
    body: dict[str, Any] = {field: str(data.get(field, "")) for field in FIELDS}
    body["category"] = body["category"].strip() or None  # empty: no category (null clears it)
    body["price"] = _price(data.get("price"))
    return body


async def create(request: Request) -> Response:
    visit = Visit(request)
    data = await form(visit)
    await visit.require_admin()
    body = {**_product_body(data), "sku": str(data.get("sku", "")),
            "currency": str(data.get("currency", "USD")) or "USD"}
    try:
        body["stock"] = int(str(data.get("stock") or 0))
        reply = await visit.call("POST", "/products", json=body)
    except (ApiError, ValueError) as error:
        shown = problem(error) if isinstance(error, ApiError) else {
            "message": "Stock must be a whole number.", "request_id": ""}
        page = (await visit.public("GET", "/products", params={"limit": 50})).data
        return await render(visit, "admin/products.html", products=page["items"],
                            next_cursor=page["next_cursor"], q="", error=shown,
                            values={k: str(v) for k, v in data.items()})
    return see_other(f"/admin/products/{reply.data['id']}?notice=created")


async def edit_page(request: Request) -> Response:
    visit = Visit(request)
    await visit.require_admin()
    return await _editor(visit, request.query_params.get("notice"))


async def _editor(visit: Visit, notice: str | None = None, status: int = 200,
                  **context: Any) -> Response:
    pid = visit.request.path_params["product_id"]
    product = (await visit.public("GET", f"/products/{pid}")).data
    return await render(visit, "admin/product.html", status, product=product, notice=notice,
                        **context)


async def update(request: Request) -> Response:
    visit = Visit(request)
    data = await form(visit)
    await visit.require_admin()
    pid = request.path_params["product_id"]
    version = str(data.get("version", ""))
    try:
        await visit.call("PATCH", f"/products/{pid}", json=_product_body(data),
                         headers={"If-Match": f'"{version}"'})
    except ApiError as error:
        shown = problem(error)
        if error.status == 412:
            shown["message"] = CONFLICT
        return await _editor(visit, status=409 if error.status == 412 else 200, error=shown,
                             attempted={k: str(v) for k, v in data.items()})
    return see_other(f"/admin/products/{pid}?notice=saved")


async def stock(request: Request) -> Response:
    visit = Visit(request)
    data = await form(visit)
    await visit.require_admin()
    pid = request.path_params["product_id"]
    try:
        delta = int(str(data.get("delta", "")))
        await visit.call("POST", f"/products/{pid}/stock",
                         json={"delta": delta, "reason": str(data.get("reason", "")) or "admin"})
    except ValueError:
        return await _editor(visit, error={"message": "Give the change as a whole number, "
                                           "e.g. 5 or -2.", "request_id": ""})
    except ApiError as error:
        return await _editor(visit, error=problem(error))
    return see_other(f"/admin/products/{pid}?notice=stock")


async def delete(request: Request) -> Response:
    visit = Visit(request)
    await form(visit)
    await visit.require_admin()
    await visit.call("DELETE", f"/products/{request.path_params['product_id']}")
    return see_other("/admin/products?notice=deleted")


routes = [
    Route("/admin/products", products),
    Route("/admin/products/new", create, methods=["POST"]),
    Route("/admin/products/{product_id:uuid}", edit_page),
    Route("/admin/products/{product_id:uuid}/edit", update, methods=["POST"]),
    Route("/admin/products/{product_id:uuid}/stock", stock, methods=["POST"]),
    Route("/admin/products/{product_id:uuid}/delete", delete, methods=["POST"]),
]
