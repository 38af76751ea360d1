"""Baseline for bench/catalog.py: an asyncio app that reads PostgreSQL directly (no broker, no
service): FastAPI on uvicorn (uvloop, httptools, as the gateway runs) with an asyncpg pool.

    BENCH_PG_DSN=postgresql://postgres@127.0.0.1:5432/catalog \
        uvicorn --factory asyncio_pg_catalog:create_app --loop uvloop --http httptools
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg
import orjson
from fastapi import FastAPI, HTTPException, Request, Response

SQL = ("SELECT id, sku, name, description, category, price, currency, on_hand, reserved, "
       "version, created_at, updated_at FROM products WHERE id = $1 AND deleted_at IS NULL")


def create_app() -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.pool = await asyncpg.create_pool(os.environ["BENCH_PG_DSN"], min_size=4,
                                                   max_size=10)
        yield
        await app.state.pool.close()

    app = FastAPI(lifespan=lifespan)

    @app.get("/products/{product_id}")
    async def get_product(request: Request, product_id: str) -> Response:
        try:
            pid = uuid.UUID(product_id)
        except ValueError:
            raise HTTPException(404) from None
        row = await request.app.state.pool.fetchrow(SQL, pid)
        if row is None:
            raise HTTPException(404)
        product = dict(row)
        product["id"] = str(product["id"])
        product["available"] = max(product.pop("on_hand") - product.pop("reserved"), 0)
        return Response(orjson.dumps(product), media_type="application/json",
                        headers={"ETag": f'"{product["version"]}"'})

    return app
