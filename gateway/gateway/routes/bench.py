"""Benchmark-only routes, mounted only when GATEWAY_BENCH_ROUTES=true (bench/run.py sets it).

`GET /_bench/ping/{service}` makes exactly one `<service>.ping` RPC through the same path a
public route uses (`upstream.call`), so bench/run.py can compare the gateway with a baseline on
a trivial RPC. Hidden from the OpenAPI document and never mounted by default.
"""

from __future__ import annotations

import orjson
from fastapi import APIRouter, Request, Response

from gateway import upstream

router = APIRouter(prefix="/_bench", include_in_schema=False)


@router.get("/ping/{service}")
async def ping(request: Request, service: str) -> Response:
    # A Response of its own (the bytes FastAPI's ORJSONResponse made of the answer): nothing
    # left for FastAPI to serialise, so the route qualifies for the fast lane (gateway.routing).
    return Response(orjson.dumps(await upstream.call(request, service, "ping")),
                    media_type="application/json")
