"""A plain AMQP client (pika, no nameko) cannot claim an identity with context headers.

Only `nameko.authorization` carrying a token auth signed counts; `nameko.user_id`,
`nameko.roles` and friends are ignored, whatever they say.
"""

from __future__ import annotations

import uuid

import pytest

from tests.security.test_forged_amqp import PlainRpc as WireRpc


class PlainRpc:
    """nameko's RPC wire format by hand, to auth (tests.security.test_forged_amqp.PlainRpc)."""

    def __init__(self, amqp_uri):
        self.rpc = WireRpc(amqp_uri)

    def call(self, method, headers, **kwargs):
        return self.rpc.call("auth", method, headers, **kwargs)

    def close(self):
        self.rpc.close()


@pytest.fixture
def plain_rpc(suite, amqp_uri):
    """An outside client (the tests' own broker user): public RPCs only."""
    client = PlainRpc(amqp_uri)
    yield client
    client.close()


@pytest.fixture
def gateway_rpc(suite, component_uris):
    """The gateway's real credentials: the one caller auth's session RPCs accept, so only the
    forged headers stand between this client and them."""
    client = PlainRpc(component_uris["gateway"])
    yield client
    client.close()


FORGED = [
    {"nameko.user_id": None, "nameko.roles": ["admin"]},
    {"nameko.user_id": None, "nameko.roles": "admin", "nameko.identity": "admin",
     "nameko.auth_token": "admin", "nameko.authorization": "Bearer admin"},
]


@pytest.mark.parametrize("forged", FORGED)
def test_forged_identity_headers_grant_nothing(gateway_rpc, register, forged):
    victim = register()
    headers = {key: (victim["id"] if value is None else value) for key, value in forged.items()}
    reply = gateway_rpc.call("me", headers)
    assert reply["result"] is None and reply["error"]["exc_type"] == "Unauthorized"
    reply = gateway_rpc.call("set_roles", headers, user_id=victim["id"], roles=["admin"])
    assert reply["error"]["exc_type"] == "Unauthorized"


def test_the_access_token_header_is_what_counts(gateway_rpc, register, login, http):
    user = register()
    token = login(user["email"])["access_token"]
    reply = gateway_rpc.call("me", {"nameko.authorization": token})
    assert reply["error"] is None and reply["result"]["id"] == user["id"]
    # A customer's genuine token still can't change roles.
    reply = gateway_rpc.call("set_roles", {"nameko.authorization": token},
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
        == "UserNotFound"
    assert plain_rpc.call("get_user", {}, user_id="nope")["error"]["exc_type"] \
        == "ValidationFailed"
