"""shared.nameko.principal.Principal in a service other than auth: the JWKS comes from
`auth.get_jwks` over RPC, the identity only from a token auth signed (in-process containers)."""

from __future__ import annotations

import uuid

import pytest

pytestmark = pytest.mark.eventlet

PASSWORD = "correct horse battery staple"
GUEST = "guest"  # the tests' broker user (tests/support/infra.create_vhost)


def _whoami_service():
    from shared.nameko.principal import Principal
    from shared.nameko.rpc import ServiceRpc, rpc

    class WhoAmIService:
        name = "whoami"
        principal = Principal()
        auth = ServiceRpc("auth", timeout=5)

        @rpc
        def whoami(self):
            identity = self.principal.identity()
            return {"user_id": identity.user_id, "roles": list(identity.roles)}

        @rpc
        def admin_only(self):
            return self.principal.require_role("admin").user_id

        @rpc
        def maybe(self):
            identity = self.principal.optional_identity()
            return identity.user_id if identity else None

        @rpc
        def me_via_auth(self):
            return self.auth.me()  # the caller's token travels on with the context

    return WhoAmIService


@pytest.fixture(scope="module")
def containers(amqp_uri, database_urls):
    import os

    os.environ["AUTH_DATABASE_URL"] = database_urls["auth"]
    os.environ["AMQP_URI"] = amqp_uri
    # Every container here, and this test's client, share the tests' one broker user: say so,
    # so that auth accepts its calls (it names the gateway as their caller) and whoami
    # believes auth's key set (shared.messaging.identity).
    os.environ["AUTH_BUS_USER"] = os.environ["GATEWAY_BUS_USER"] = GUEST
    from auth.config import settings

    settings.cache_clear()
    from nameko.containers import ServiceContainer

    from auth.service import AuthService

    config = {"AMQP_URI": amqp_uri, "serializer": "json", "max_workers": 10}
    started = [ServiceContainer(AuthService, config),
               ServiceContainer(_whoami_service(), config)]
    for container in started:
        container.start()
    yield config
    for container in started:
        container.stop()


@pytest.fixture
def call(containers):
    from nameko.rpc import ServiceProxy
    from nameko.standalone.rpc import ServiceRpcProxy

    class StampedRpcProxy(ServiceRpcProxy):
        """nameko's standalone proxy, publishing with user_id (the broker checks it)."""

        def __init__(self, service_name, *args, **kwargs):
            super().__init__(service_name, *args, **kwargs)
            self._proxy = ServiceProxy(self._worker_ctx, service_name, self._reply_listener,
                                       user_id=GUEST)

    def _call(service, method, context=None, **kwargs):
        with StampedRpcProxy(service, containers, context_data=context or {}, timeout=15) as p:
            return getattr(p, method)(**kwargs)

    return _call


@pytest.fixture
def token(call):
    email = f"p-{uuid.uuid4().hex[:10]}@example.com"
    user = call("auth", "register", email=email, password=PASSWORD)
    return user, call("auth", "login", email=email, password=PASSWORD)["access_token"]


def test_identity_from_the_forwarded_token(call, token):
    user, access = token
    assert call("whoami", "whoami", {"authorization": access}) == {
        "user_id": user["id"], "roles": ["customer"]}
    assert call("whoami", "maybe", {"authorization": access}) == user["id"]
    assert call("whoami", "maybe") is None


def test_no_token_or_forged_headers_are_unauthorized(call, token):
    from shared.errors import Unauthorized

    user, access = token
    for context in ({}, {"user_id": user["id"], "roles": ["admin"]},
                    {"authorization": access[:-3] + "AAA"}, {"authorization": "x"}):
        with pytest.raises(Unauthorized):
            call("whoami", "whoami", context)


def test_roles_are_enforced(call, token):
    from shared.errors import Forbidden

    _, access = token
    with pytest.raises(Forbidden):
        call("whoami", "admin_only", {"authorization": access})


def test_the_token_travels_on_to_nested_calls(call, token):
    user, access = token
    assert call("whoami", "me_via_auth", {"authorization": access})["id"] == user["id"]
