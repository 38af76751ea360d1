"""Who sent a message: each component's broker user is its identity on the bus.

Every component connects with a RabbitMQ user of its own and stamps every message it publishes
with `user_id` = that user; RabbitMQ refuses a publish whose `user_id` is not the connection's
user, so a consumer can rely on the property (docs/security.md, ADR 0013).

The broker user of a component is its name (`auth`, `catalog`, `payments`, `gateway`), or
`<COMPONENT>_BUS_USER` where a deployment names them otherwise.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any
from urllib.parse import unquote, urlsplit

GUEST = "guest"  # kombu's and pika's default when the URI names no user


def connection_user(amqp_uri: str) -> str:
    """The user an AMQP URI logs in as: what the broker will accept as `user_id`."""
    user = urlsplit(amqp_uri).username
    return unquote(user) if user else GUEST


def component_user(component: str) -> str:
    """The broker user that `component` (a service or the gateway) must publish as."""
    return os.environ.get(f"{component.upper()}_BUS_USER") or component


def sender(properties: Mapping[str, Any] | None) -> str | None:
    """The verified publisher of a received message (None when it carries no `user_id`)."""
    user = (properties or {}).get("user_id")
    if isinstance(user, bytes):
        user = user.decode("utf-8", "replace")
    return user if isinstance(user, str) and user else None


# Named callers of the suite's non-public RPCs (`@rpc(callers=...)`, docs/security.md).
GATEWAY = ("gateway",)
PAYMENTS = ("payments",)
VERIFIERS = ("gateway", "catalog", "payments")  # whoever checks access tokens needs the keys
