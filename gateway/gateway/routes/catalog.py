"""Catalog routes (http-api.md, Catalog): reads through the read cache, admin-only writes.

Every write invalidates this gateway's cache at once (read-your-writes); other gateways hear the
catalog's events (gateway.cache_events). `ETag` is the product's version, quoted; `If-Match` on
PATCH is checked by the catalog in the same UPDATE (no check-then-write race).
"""

from __future__ import annotations

import uuid
from functools import partial
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Header, Query, Request, Response

from gateway import upstream
from gateway.cache import ReadCache
from gateway.openapi_responses import BODY, UPSTREAM, body_example, problems, success
from gateway.product_reads import render
from gateway.routes.catalog_schemas import (
    NewProduct,
    Product,
    ProductChanges,
    ProductPage,
    StockChange,
)
from gateway.schemas import NO_NUL, PG_INTEGER_MAX
from gateway.security import current_admin
from gateway.state import Cache, Reads
from shared.errors import PreconditionFailed, ProductNotFound
from shared.tokens import Identity

router = APIRouter(tags=["catalog"])
Admin = Annotated[Identity, Depends(current_admin)]
WRITE = (*BODY, 401, 403, *UPSTREAM)
PRODUCT = success(200, "ETag")
JSON = "application/json"


def _id(product_id: str) -> str:
    try:
        return str(uuid.UUID(product_id))
    except ValueError:
        raise ProductNotFound("No such product.") from None


def _product(product: dict[str, Any], status: int = 200, **headers: str) -> Response:
    body, etag, _ = render(product)
    return Response(body, status, {"ETag": etag, **headers}, media_type=JSON)


def _wrote(cache: ReadCache | None, product_id: str) -> None:
    if cache is not None:
        cache.invalidate_product(product_id)


@router.get("/products", response_model=ProductPage, operation_id="listProducts",
            responses=problems(422, *UPSTREAM),
            summary="List products, newest first (or best match first with `q`)",
            description="Keyset pages of `limit` products: pass `next_cursor` back as "
                        "`cursor` for the next one. Deleted products are never listed.")
async def list_products(
        request: Request, limit: Annotated[int, Query(ge=1, le=100)] = 20,
        cursor: Annotated[str | None, Query(max_length=512)] = None,
        q: Annotated[str | None, Query(max_length=200, pattern=NO_NUL,
                                       description="Full-text search over "
                                       "name and description.")] = None,
        category: Annotated[str | None, Query(max_length=100, pattern=NO_NUL)] = None,
        *, cache: Cache,
) -> Response:
    async def load() -> bytes:
        page = await upstream.call(request, "catalog", "list_products", limit=limit,
                                   cursor=cursor, q=q, category=category)
        for item in page["items"]:
            item.pop("deleted", None)
        return orjson.dumps(page)

    if cache is None or cursor is not None:  # only first pages are cached
        return Response(await load(), media_type=JSON)
    return Response(await cache.listing((limit, q, category), load), media_type=JSON)


@router.get("/products/{product_id}", response_model=Product, operation_id="getProduct",
            responses={**PRODUCT, **success(304, "ETag", description="Not modified: "
                                                                     "If-None-Match matched"),
                       **problems(404, *UPSTREAM)}, summary="One product",
            description="With a strong `ETag` (the version). 404 for an unknown or deleted "
                        "product, and for an id that is not a UUID.")
async def get_product(request: Request, product_id: str, reads: Reads,
                      if_none_match: Annotated[str | None, Header()] = None) -> Response:
    body, etag, deleted = await reads.get(_id(product_id), partial(upstream.context_of, request))
    if deleted:
        raise ProductNotFound("No such product.")
    if if_none_match is not None and etag in _tags(if_none_match, weak_ok=True):
        return Response(status_code=304, headers={"ETag": etag})
    return Response(body, headers={"ETag": etag}, media_type=JSON)


@router.post("/products", status_code=201, response_model=Product, operation_id="createProduct",
             responses={**success(201, "ETag", "Location"), **problems(*WRITE, 409)},
             summary="Create a product (admin)",
             description="409 if the SKU is taken by a product that is not deleted.",
             openapi_extra=body_example({"sku": "MUG-001", "name": "Enamel mug",
                                         "description": "Holds 350 ml.", "category": "kitchen",
                                         "price": 1299, "currency": "EUR", "stock": 40}))
async def create_product(request: Request, body: NewProduct, admin: Admin,
                         cache: Cache) -> Response:
    product = await upstream.call(request, "catalog", "create_product",
                                  body.model_dump(exclude_unset=True))
    _wrote(cache, product["id"])
    return _product(product, 201, Location=f"/products/{product['id']}")


@router.patch("/products/{product_id}", response_model=Product, operation_id="updateProduct",
              responses={**PRODUCT, **problems(*WRITE, 404, 412)},
              summary="Change a product (admin)",
              description="Only the fields sent change; the version goes up by one. With "
                          "`If-Match`, 412 unless it names the current version.",
              openapi_extra=body_example({"price": 1499}))
async def update_product(request: Request, product_id: str, body: ProductChanges, admin: Admin,
                         cache: Cache, if_match: Annotated[str | None, Header()] = None,
                         ) -> Response:
    pid = _id(product_id)
    expected = await _expected_version(request, pid, if_match)
    product = await upstream.call(request, "catalog", "update_product", pid,
                                  body.model_dump(exclude_unset=True), expected)
    _wrote(cache, pid)
    return _product(product)


@router.delete("/products/{product_id}", status_code=204, response_class=Response,
               operation_id="deleteProduct", responses=problems(401, 403, 404, *UPSTREAM),
               summary="Delete a product (admin): no longer listed or sold",
               description="Payments that sold it keep their record of it.")
async def delete_product(request: Request, product_id: str, admin: Admin,
                         cache: Cache) -> Response:
    pid = _id(product_id)
    await upstream.call(request, "catalog", "delete_product", pid)
    _wrote(cache, pid)
    return Response(status_code=204)


@router.post("/products/{product_id}/stock", response_model=Product,
             operation_id="adjustStock", responses={**PRODUCT, **problems(*WRITE, 404, 409)},
             summary="Adjust stock on hand (admin)",
             description="409 if stock on hand would drop below what is reserved or rise "
                         "above 1 000 000 000 units.",
             openapi_extra=body_example({"delta": 25, "reason": "Delivery from the supplier"}))
async def adjust_stock(request: Request, product_id: str, body: StockChange,
                       admin: Admin, cache: Cache) -> Response:
    pid = _id(product_id)
    product = await upstream.call(request, "catalog", "adjust_stock", pid, body.delta,
                                  body.reason)
    _wrote(cache, pid)
    return _product(product)


def _tags(header: str, weak_ok: bool = False) -> set[str]:
    tags = {tag.strip() for tag in header.split(",")}
    return {tag[2:] if weak_ok and tag.startswith("W/") else tag for tag in tags}


_MAX_TAG = len(str(PG_INTEGER_MAX)) + 2  # longer digit strings are never int()-ed


def _version(tag: str) -> int | None:
    """The version an entity tag names: ASCII digits only (int() takes any script's) and within
    the version column (integer); any other tag matches no product."""
    digits = tag[1:-1]
    if (2 < len(tag) <= _MAX_TAG and tag[0] == tag[-1] == '"' and digits.isascii()
            and digits.isdigit() and 0 < int(digits) <= PG_INTEGER_MAX):
        return int(digits)
    return None


async def _expected_version(request: Request, pid: str, if_match: str | None) -> int | None:
    """The version If-Match asks for (strong comparison); None without a header or with `*`."""
    if if_match is None or if_match.strip() == "*":
        return None
    versions = {v for tag in _tags(if_match) if (v := _version(tag)) is not None}
    if len(versions) == 1:
        return versions.pop()
    if versions:
        current = (await upstream.call(request, "catalog", "get_product", pid))["version"]
        if current in versions:
            return int(current)
    raise PreconditionFailed("If-Match does not match the product's current ETag.")
