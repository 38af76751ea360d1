"""The gateway's OpenAPI document: FastAPI's, finished with what the edge adds to every answer.

- the problem documents routes refer to (gateway.openapi_responses) and the shared headers,
  as components;
- `X-Request-ID` on every response, `RateLimit-*` on every one the rate limit covers;
- FastAPI's own 422 (`HTTPValidationError`) dropped: the gateway never sends that body. Routes
  that answer 422 declare it as a problem; on the others (ids are plain strings: a bad one is a
  404) FastAPI's would be a 422 the route never sends;
- a description for every tag.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI
from pydantic import BaseModel

from gateway.openapi_responses import ALWAYS_SENT, HEADERS, header_ref
from gateway.ratelimit import EXEMPT_PATHS

TAGS = [
    {"name": "auth", "description": "Accounts, tokens and roles (service: auth)."},
    {"name": "catalog", "description": "Products and stock: anyone reads, admins write "
                                       "(service: catalog)."},
    {"name": "payments", "description": "Checkout and refunds, both idempotent with an "
                                        "`Idempotency-Key` (service: payments)."},
    {"name": "composite", "description": "Answers assembled from several services; a slow or "
                                         "failed one degrades the answer, never hangs it."},
    {"name": "operations", "description": "Probes and metrics: never rate limited or shed."},
    {"name": "admin", "description": "The admin console's views: the user directory and "
                                     "operations at a glance (role admin)."},
]
_FASTAPI_422 = "#/components/schemas/HTTPValidationError"
_FASTAPI_SCHEMAS = ("HTTPValidationError", "ValidationError")
_RATE_LIMIT = ("RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset")


def install(app: FastAPI, models: tuple[type[BaseModel], ...]) -> None:
    """Make `app.openapi()` return the finished document; `models` are the component schemas
    routes refer to by name (the problem documents)."""
    build: Callable[[], dict[str, Any]] = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            finish(build(), models)
        return app.openapi_schema  # type: ignore[return-value]

    app.openapi = openapi  # type: ignore[method-assign]


def finish(document: dict[str, Any], models: tuple[type[BaseModel], ...]) -> None:
    components = document.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    for model in models:
        schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
        schemas.update(schema.pop("$defs", {}))
        schemas[model.__name__] = schema
    components["headers"] = {name: {**spec, "required": name in ALWAYS_SENT}
                             for name, spec in HEADERS.items()}
    for path, item in document["paths"].items():
        for operation in item.values():
            _finish_responses(operation["responses"], limited=path not in EXEMPT_PATHS)
    for name in _FASTAPI_SCHEMAS:
        schemas.pop(name, None)
    document["tags"] = TAGS


def _finish_responses(responses: dict[str, Any], limited: bool) -> None:
    fastapi_422 = responses.get("422", {}).get("content", {}).get("application/json", {})
    if fastapi_422.get("schema", {}).get("$ref") == _FASTAPI_422:
        del responses["422"]
    for response in responses.values():
        extra = response.setdefault("headers", {})
        extra["X-Request-ID"] = header_ref("X-Request-ID")
        if limited:
            extra.update({name: header_ref(name) for name in _RATE_LIMIT})
