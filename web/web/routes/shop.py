"""The storefront's reads: the product list (search, category, keyset paging) and a product."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from web.pages import render
from web.visit import Visit

PAGE_SIZE = 12


async def product_list(request: Request) -> Response:
    visit = Visit(request)
    query = {"q": request.query_params.get("q", "").strip()[:200],
             "category": request.query_params.get("category", "").strip()[:100]}
    cursor = request.query_params.get("cursor") or None
    page = await visit.public("GET", "/products",
                              params={**query, "limit": PAGE_SIZE, "cursor": cursor})
    # htmx's "More" asks for the next page's cards only, appended in place.
    template = "_products.html" if request.headers.get("hx-request") and cursor else "list.html"
    return await render(visit, template, products=page.data["items"],
                        next_cursor=page.data["next_cursor"], query=query)


async def product_page(request: Request) -> Response:
    visit = Visit(request)
    reply = await visit.public("GET", f"/products/{request.path_params['product_id']}")
    return await render(visit, "product.html", product=reply.data)


routes = [
    Route("/", product_list),
    Route("/products/{product_id:uuid}", product_page),
]
