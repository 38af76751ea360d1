"""Baseline for bench/catalog.py: `GET /products/<id>` the nameko-examples way.

A nameko `@http` entrypoint calling `catalog.get_product` through `RpcProxy` (the pattern of
bench/baselines/nameko_http_gateway.py, on the catalog route). Same settings file:

    cd bench/baselines && nameko run --config nameko_http_gateway.yaml \
        nameko_http_catalog:NamekoHttpCatalog
"""

from __future__ import annotations

import json

from nameko.rpc import RpcProxy
from nameko.web.handlers import http
from werkzeug.wrappers import Request, Response


class NamekoHttpCatalog:
    name = "bench_nameko_http_catalog"

    catalog = RpcProxy("catalog")

    @http("GET", "/products/<string:product_id>")
    def get_product(self, request: Request, product_id: str) -> Response:
        product = self.catalog.get_product(product_id)
        product.pop("deleted", None)
        return Response(json.dumps(product), mimetype="application/json",
                        headers={"ETag": f'"{product["version"]}"'})
