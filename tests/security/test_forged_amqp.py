"""A plain AMQP client (pika, no nameko) on the suite's broker cannot claim an identity with
context headers: only `nameko.authorization` carrying a token auth signed counts.

tests/e2e/auth/test_forged_headers.py checks this for auth's RPCs; here the
catalog's admin RPC `create_product` and the payments' reads, and that nothing was created.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import pika
import pytest
from sqlalchemy import create_engine, text

from tests.security.conftest import Actor


class PlainRpc:
    """nameko's RPC wire format by hand: publish to `nameko-rpc`, read the reply queue."""

    def __init__(self, amqp_uri: str) -> None:
        params = pika.URLParameters(amqp_uri)
        self.user = str(params.credentials.username)  # stamped as user_id, as the broker wants
        self.connection = pika.BlockingConnection(params)
        self.channel = self.connection.channel()
        # Names the user may declare and bind (deploy/rabbitmq/permissions.json): the gateway's
        # reply keys are `gateway-<uuid>`, the services' (nameko's) a bare uuid.
        key = str(uuid.uuid4())
        self.reply_key = f"gateway-{key}" if self.user == "gateway" else key
        queue = f"rpc.reply-{self.user}-{key}"
        self.channel.queue_declare(queue, exclusive=True)
        self.channel.queue_bind(queue, "nameko-rpc", routing_key=self.reply_key)
        self.reply_queue = queue

    def call(self, service: str, method: str, headers: dict[str, Any], *args: Any,
             **kwargs: Any) -> dict[str, Any]:
        correlation_id = str(uuid.uuid4())
        self.channel.basic_publish(
            "nameko-rpc", f"{service}.{method}",
            json.dumps({"args": list(args), "kwargs": kwargs}).encode(),
            pika.BasicProperties(content_type="application/json", content_encoding="utf-8",
                                 reply_to=self.reply_key, correlation_id=correlation_id,
                                 headers=headers, user_id=self.user))
        for _, properties, body in self.channel.consume(self.reply_queue, auto_ack=True,
                                                        inactivity_timeout=20):
            assert properties is not None, "no reply within 20 s"
            if properties.correlation_id == correlation_id:
                self.channel.cancel()
                return dict(json.loads(body))
        raise AssertionError("unreachable")

    def close(self) -> None:
        self.connection.close()


@pytest.fixture
def plain_rpc(suite, component_uris: dict[str, str]) -> Iterator[PlainRpc]:
    # The gateway's real credentials: the one caller the catalog's admin RPCs accept, so only
    # the forged headers stand between this client and them.
    client = PlainRpc(component_uris["gateway"])
    yield client
    client.close()


def forged(admin: Actor) -> list[dict[str, Any]]:
    return [
        {"nameko.user_id": admin.id, "nameko.roles": ["admin"]},
        {"nameko.user_id": admin.id, "nameko.roles": "admin", "nameko.identity": "admin",
         "nameko.is_admin": True, "nameko.authorization": "Bearer admin"},
        {"nameko.authorization": admin.token[:-6] + "AAAAAA"},  # a tampered real token
    ]


def _products_named(database_url: str, sku: str) -> int:
    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            return int(conn.execute(text("SELECT count(*) FROM products WHERE sku = :s"),
                                    {"s": sku}).scalar_one())
    finally:
        engine.dispose()


def test_forged_identity_headers_cannot_create_a_product(plain_rpc, admin, database_urls):
    for headers in forged(admin):
        sku = f"FORGED-{uuid.uuid4().hex[:8]}"
        reply = plain_rpc.call("catalog", "create_product", headers,
                               {"sku": sku, "name": "forged", "price": 1})
        assert reply["result"] is None and reply["error"]["exc_type"] == "Unauthorized", reply
        assert _products_named(database_urls["catalog"], sku) == 0


def test_a_customers_real_token_with_forged_roles_is_forbidden(plain_rpc, alice, database_urls):
    sku = f"FORGED-{uuid.uuid4().hex[:8]}"
    headers = {"nameko.authorization": alice.token, "nameko.roles": ["admin"],
               "nameko.user_id": str(uuid.uuid4())}
    reply = plain_rpc.call("catalog", "create_product", headers,
                           {"sku": sku, "name": "forged", "price": 1})
    assert reply["error"]["exc_type"] == "Forbidden", reply
    assert _products_named(database_urls["catalog"], sku) == 0


def test_forged_headers_read_no_ones_payments(plain_rpc, admin, alice, alices_payment):
    for headers in forged(admin):
        reply = plain_rpc.call("payments", "get_payment", headers, alices_payment["id"])
        assert reply["result"] is None and reply["error"]["exc_type"] == "Unauthorized", reply
    # Alice's real token with a forged user id still reads as Alice: her own payments only.
    reply = plain_rpc.call("payments", "list_payments",
                           {"nameko.authorization": alice.token, "nameko.user_id": admin.id})
    assert reply["error"] is None
    assert {p["user_id"] for p in reply["result"]["items"]} == {alice.id}
