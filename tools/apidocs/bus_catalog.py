"""What tools/apidocs/asyncapi.py documents beyond the event models: the public RPCs (their
arguments and results as pydantic types), the error reply, and the headers of the bus."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field

from auth.domain import ROLES
from gateway.routes.auth import User
from gateway.routes.catalog_schemas import Product
from gateway.routes.payments_schemas import Payment
from shared.errors import WIRE_ERRORS

Schema = Callable[[Any], dict[str, Any]]
ProductIds = Annotated[list[uuid.UUID], Field(max_length=100)]


class VerifiedToken(BaseModel):
    user_id: uuid.UUID
    roles: list[Literal[ROLES]]  # type: ignore[valid-type]


class RpcProduct(Product):
    """The product document of GET /products/{id}, with `deleted` (soft-deleted ones too)."""

    deleted: bool


class RpcError(BaseModel):
    """nameko's serialised exception: a `shared.errors` type, detail and field errors."""

    exc_type: Literal[tuple(WIRE_ERRORS)]  # type: ignore[valid-type]
    exc_path: str = Field(description="`shared.errors.<exc_type>`; any other path is an "
                                      "internal error (HTTP 500 at the gateway).")
    exc_args: list[Any] = Field(description="[detail, errors [{field, message}], extra]; "
                                            "`extra.retry_after` on TooManyRequests.")
    value: str = Field(description="The detail as text.")


@dataclass(frozen=True)
class RpcMethod:
    service: str
    method: str
    params: list[tuple[str, Any]]
    result: Any
    summary: str
    errors: list[str] = field(default_factory=list)
    description: str = ""

    def request_schema(self, schema: Schema) -> dict[str, Any]:
        """nameko's request body: arguments by position (`args`) or by name (`kwargs`)."""
        by_name = {name: schema(annotation) for name, annotation in self.params}
        return {"type": "object", "required": ["args", "kwargs"], "properties": {
            "args": {"type": "array", "maxItems": len(self.params),
                     "items": list(by_name.values()), "description": "By position."},
            "kwargs": {"type": "object", "properties": by_name, "additionalProperties": False,
                       "description": "By name."}}}


PUBLIC_RPCS = [
    RpcMethod("auth", "get_user", [("user_id", uuid.UUID)], User, "A user by id.",
              ["NotFound", "ValidationFailed"]),
    RpcMethod("auth", "verify_token", [("token", str)], VerifiedToken,
              "Check an access token (for callers that cannot verify it locally).",
              ["Unauthorized"], "Prefer verifying locally with the JWKS (`auth.get_jwks`)."),
    RpcMethod("catalog", "get_product", [("product_id", uuid.UUID)], RpcProduct,
              "A product by id, deleted ones too (flagged).", ["NotFound", "ValidationFailed"]),
    RpcMethod("catalog", "get_products", [("product_ids", ProductIds)], list[RpcProduct],
              "Up to 100 products in the order asked; unknown ids left out.",
              ["ValidationFailed"]),
    RpcMethod("payments", "get_payment", [("payment_id", uuid.UUID)], Payment,
              "A payment by id: the caller's own, or any for an admin.",
              ["Unauthorized", "NotFound"],
              "On a user's behalf: send their access token in `nameko.authorization`."),
]

_CONTEXT = {
    "nameko.request_id": {"type": "string", "description": "The HTTP request's X-Request-ID: "
                                                           "in every log line it causes."},
    "nameko.trace_id": {"type": "string", "description": "W3C trace id (32 hex digits)."},
    "nameko.traceparent": {"type": "string", "pattern": "^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}"
                                                        "-[0-9a-f]{2}$",
                           "description": "W3C traceparent of the sender's span."},
}
HEADERS: dict[str, Any] = {
    "EventHeaders": {"type": "object", "properties": _CONTEXT,
                     "description": "Trace context of the change that caused the event."},
    "RpcHeaders": {"type": "object", "properties": {
        **_CONTEXT,
        "nameko.authorization": {"type": "string", "description": (
            "The access token of the user the call is made for. The only identity a service "
            "believes besides the AMQP `user_id`: `nameko.user_id` or `nameko.roles` grant "
            "nothing.")},
        "nameko.call_id_stack": {"type": "array", "items": {"type": "string"},
                                 "description": "nameko's call chain; a list of strings."}},
        "description": "nameko context headers (the `nameko.` prefix), forwarded to nested "
                       "calls."},
}

_EVENTS = {
    "user_registered": "An account was created.",
    "user_roles_changed": "A user's roles were replaced.",
    "product_created": "A product was created.",
    "product_updated": "A product changed: its new version and the changed fields.",
    "product_deleted": "A product was deleted: no longer listed or sold.",
    "stock_changed": "A product's available stock changed.",
    "payment_succeeded": "A checkout was paid; its stock reservation is committed.",
    "payment_failed": "A checkout was declined; its reservation released.",
    "payment_refunded": "A payment was refunded, fully or in part.",
}


def event_description(exchange: str, event_type: str) -> str:
    return _EVENTS.get(event_type, f"{exchange} published {event_type}.")


def camel(snake: str) -> str:
    head, *rest = snake.split("_")
    return head + "".join(part.capitalize() for part in rest)
