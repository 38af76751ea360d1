"""Baseline for bench/run.py: the nameko-examples gateway pattern.

A nameko service with an `@http` entrypoint that calls the target service through `RpcProxy`,
exactly as nameko-examples' gateway does. It exposes the same path as the gateway's bench-only
route, `GET /_bench/ping/<service>`, and nothing of the suite beyond the services' names.
Run it alone in its own process (two `@http` services in one process split the port):

    cd bench/baselines && nameko run --config nameko_http_gateway.yaml \
        nameko_http_gateway:NamekoHttpGateway
"""

from __future__ import annotations

import json

from nameko.rpc import RpcProxy
from nameko.web.handlers import http
from werkzeug.wrappers import Request, Response


class NamekoHttpGateway:
    name = "bench_nameko_http_gateway"

    auth = RpcProxy("auth")
    catalog = RpcProxy("catalog")
    payments = RpcProxy("payments")

    @http("GET", "/_bench/ping/<string:service>")
    def ping(self, request: Request, service: str) -> Response:
        proxy = {"auth": self.auth, "catalog": self.catalog, "payments": self.payments}.get(service)
        if proxy is None:
            return Response(json.dumps({"error": "unknown service"}), status=404,
                            mimetype="application/json")
        return Response(json.dumps(proxy.ping()), mimetype="application/json")
