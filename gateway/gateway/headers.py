"""Security headers on every response, HSTS over TLS, and CORS when configured.

- `X-Content-Type-Options: nosniff`, `Referrer-Policy: no-referrer`, `X-Frame-Options: DENY`.
- `Strict-Transport-Security` only on HTTPS (a browser ignores it over plain HTTP anyway).
- `Cache-Control: no-store` where a response says nothing itself and is an error or answers a
  request with credentials: neither may sit in a shared cache. A response that sets its own
  Cache-Control keeps it (the auth routes' no-store, the JWKS's max-age), and anonymous
  successful reads (catalog documents with their ETag) are left to the ETag and the route.
- CORS (Starlette's CORSMiddleware) only for the origins in `GATEWAY_CORS_ORIGINS`; off when
  empty. Bearer tokens, not cookies, so credentials mode stays off.
"""

from __future__ import annotations

from fastapi import FastAPI
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway.config import GatewaySettings

ALWAYS = ((b"x-content-type-options", b"nosniff"), (b"referrer-policy", b"no-referrer"),
          (b"x-frame-options", b"DENY"))
NO_STORE = (b"cache-control", b"no-store")
CORS_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")
CORS_REQUEST_HEADERS = ("Authorization", "Content-Type", "Idempotency-Key", "If-Match",
                        "If-None-Match", "X-Request-ID")
CORS_EXPOSED_HEADERS = ("ETag", "Location", "Retry-After", "RateLimit-Limit",
                        "RateLimit-Remaining", "RateLimit-Reset", "X-Request-ID",
                        "Idempotent-Replayed", "WWW-Authenticate")
CORS_MAX_AGE = 600


class SecurityHeadersMiddleware:
    def __init__(self, app: ASGIApp, hsts_max_age: int) -> None:
        self.app = app
        self.hsts = (b"strict-transport-security",
                     f"max-age={hsts_max_age}; includeSubDomains".encode())

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        https = scope.get("scheme") == "https"
        credentials = any(name == b"authorization" for name, _ in scope.get("headers", ()))

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", ()))
                present = {name.lower() for name, _ in headers}
                headers.extend(h for h in ALWAYS if h[0] not in present)
                if https:
                    headers.append(self.hsts)
                if b"cache-control" not in present and (credentials or message["status"] >= 400):
                    headers.append(NO_STORE)
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)


def cors_origins(config: GatewaySettings) -> list[str]:
    return [origin.strip() for origin in config.cors_origins.split(",") if origin.strip()]


def add_cors(app: FastAPI, config: GatewaySettings) -> None:
    origins = cors_origins(config)
    if origins:
        app.add_middleware(CORSMiddleware, allow_origins=origins, allow_methods=CORS_METHODS,
                           allow_headers=CORS_REQUEST_HEADERS, expose_headers=CORS_EXPOSED_HEADERS,
                           max_age=CORS_MAX_AGE)
