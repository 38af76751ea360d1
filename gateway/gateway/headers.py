"""Security headers on every response, HSTS over TLS, and CORS when configured.

gateway.middleware.EdgeMiddleware adds them (`decorate`) in its one `send` wrapper.

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

from typing import Any

from fastapi import FastAPI
from starlette.middleware.cors import CORSMiddleware

from gateway import ratelimit
from gateway.config import GatewaySettings

ALWAYS = ((b"x-content-type-options", b"nosniff"), (b"referrer-policy", b"no-referrer"),
          (b"x-frame-options", b"DENY"))
ALWAYS_NAMES = frozenset(name for name, _ in ALWAYS)
NO_STORE = (b"cache-control", b"no-store")
CORS_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")
CORS_REQUEST_HEADERS = ("Authorization", "Content-Type", "Idempotency-Key", "If-Match",
                        "If-None-Match", "X-Request-ID")
CORS_EXPOSED_HEADERS = ("ETag", "Location", "Retry-After", "RateLimit-Limit",
                        "RateLimit-Remaining", "RateLimit-Reset", "X-Request-ID",
                        "Idempotent-Replayed", "WWW-Authenticate")
CORS_MAX_AGE = 600


def hsts(max_age: int) -> tuple[bytes, bytes]:
    return (b"strict-transport-security", f"max-age={max_age}; includeSubDomains".encode())


def decorate(raw: Any, status: int, state: dict[str, Any], id_header: tuple[bytes, bytes],
             hsts_header: tuple[bytes, bytes] | None,
             credentials: bool) -> list[tuple[bytes, bytes]]:
    """The response's headers plus the edge's, in this order: RateLimit-*, X-Request-ID, the
    security headers (those the response did not set itself), HSTS on HTTPS, and
    `Cache-Control: no-store` where it applies."""
    out = list(raw)
    present = {name.lower() for name, _ in out}
    limited = ratelimit.chosen_headers(state)
    if limited is not None:
        out.extend(limited)
    out.append(id_header)
    if present.isdisjoint(ALWAYS_NAMES):  # the usual case: all three, as one extend
        out.extend(ALWAYS)
    else:
        out.extend(h for h in ALWAYS if h[0] not in present)
    if hsts_header is not None:
        out.append(hsts_header)
    if b"cache-control" not in present and (credentials or status >= 400):
        out.append(NO_STORE)
    return out


def cors_origins(config: GatewaySettings) -> list[str]:
    return [origin.strip() for origin in config.cors_origins.split(",") if origin.strip()]


def add_cors(app: FastAPI, config: GatewaySettings) -> None:
    origins = cors_origins(config)
    if origins:
        app.add_middleware(CORSMiddleware, allow_origins=origins, allow_methods=CORS_METHODS,
                           allow_headers=CORS_REQUEST_HEADERS, expose_headers=CORS_EXPOSED_HEADERS,
                           max_age=CORS_MAX_AGE)
