"""A plain AMQP client (pika, no nameko) cannot claim an identity with context headers.

Only `nameko.authorization` carrying a token auth signed counts; `nameko.user_id`,
`nameko.roles` and friends are ignored, whatever they say.
"""

from __future__ import annotations

import json
import uuid

import pika
import pytest


class PlainRpc:
    def __init__(self, amqp_uri):
        self.connection = pika.BlockingConnection(pika.URLParameters(amqp_uri))
        self.channel = self.connection.channel()
        self.reply_queue = f"forged-{uuid.uuid4().hex}"
        # Exclusive, not auto-delete: it survives between calls and dies with the connection.
        self.channel.queue_declare(self.reply_queue, exclusive=True)
        # nameko answers on its RPC exchange with routing key = reply_to.
        self.channel.queue_bind(self.reply_queue, "nameko-rpc", routing_key=self.reply_queue)

    def call(self, method, headers, **kwargs):
        correlation_id = str(uuid.uuid4())
        self.channel.basic_publish(
            "nameko-rpc", f"auth.{method}",
            json.dumps({"args": [], "kwargs": kwargs}).encode(),
            pika.BasicProperties(content_type="application/json", content_encoding="utf-8",
                                 reply_to=self.reply_queue, correlation_id=correlation_id,
                                 headers=headers))
        for _, properties, body in self.channel.consume(self.reply_queue, auto_ack=True,
                                                        inactivity_timeout=15):
            assert properties is not None, "no reply within 15 s"
            if properties.correlation_id == correlation_id:
                self.channel.cancel()
                return json.loads(body)
        raise AssertionError("unreachable")

    def close(self):
        self.connection.close()


@pytest.fixture
def plain_rpc(suite, amqp_uri):
    client = PlainRpc(amqp_uri)
    yield client
    client.close()


FORGED = [
    {"nameko.user_id": None, "nameko.roles": ["admin"]},
    {"nameko.user_id": None, "nameko.roles": "admin", "nameko.identity": "admin",
     "nameko.auth_token": "admin", "nameko.authorization": "Bearer admin"},
]


@pytest.mark.parametrize("forged", FORGED)
def test_forged_identity_headers_grant_nothing(plain_rpc, register, forged):
    victim = register()
    headers = {key: (victim["id"] if value is None else value) for key, value in forged.items()}
    reply = plain_rpc.call("me", headers)
    assert reply["result"] is None and reply["error"]["exc_type"] == "Unauthorized"
    reply = plain_rpc.call("set_roles", headers, user_id=victim["id"], roles=["admin"])
    assert reply["error"]["exc_type"] == "Unauthorized"


def test_the_access_token_header_is_what_counts(plain_rpc, register, login, http):
    user = register()
    token = login(user["email"])["access_token"]
    reply = plain_rpc.call("me", {"nameko.authorization": token})
    assert reply["error"] is None and reply["result"]["id"] == user["id"]
    # A customer's genuine token still can't change roles.
    reply = plain_rpc.call("set_roles", {"nameko.authorization": token},
                           user_id=user["id"], roles=["admin"])
    assert reply["error"]["exc_type"] == "Forbidden"
    assert http.get("/auth/me", headers={"Authorization": f"Bearer {token}"}
                    ).json()["roles"] == ["customer"]


def test_verify_token_rpc(plain_rpc, register, login):
    user = register()
    token = login(user["email"])["access_token"]
    reply = plain_rpc.call("verify_token", {}, token=token)
    assert reply["result"] == {"user_id": user["id"], "roles": ["customer"]}
    for bad in ("", "x.y.z", token[:-4] + "AAAA", 42):
        reply = plain_rpc.call("verify_token", {}, token=bad)
        assert reply["error"]["exc_type"] == "Unauthorized"


def test_get_user_rpc_validates_its_argument(plain_rpc, register):
    user = register()
    assert plain_rpc.call("get_user", {}, user_id=user["id"])["result"] == user
    assert plain_rpc.call("get_user", {}, user_id=str(uuid.uuid4()))["error"]["exc_type"] \
        == "NotFound"
    assert plain_rpc.call("get_user", {}, user_id="nope")["error"]["exc_type"] \
        == "ValidationFailed"
