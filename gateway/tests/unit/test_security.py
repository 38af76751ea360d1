"""gateway.security: local verification, JWKS fetched over RPC sparingly, 401/403 problems."""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Annotated, Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi import Depends, Request
from starlette.testclient import TestClient

from gateway import upstream
from gateway.security import current_admin, current_user, optional_user
from gateway.verifier import EdgeVerifier
from shared.errors import ServiceUnavailable
from shared.settings import token_settings
from shared.tokens import Identity


class Key:
    def __init__(self, kid: str) -> None:
        self.kid = kid
        self.private = Ed25519PrivateKey.generate()

    def jwk(self) -> dict[str, str]:
        jwk = jwt.algorithms.OKPAlgorithm.to_jwk(self.private.public_key(), as_dict=True)
        return {**jwk, "kid": self.kid, "alg": "EdDSA", "use": "sig"}

    def token(self, roles=("customer",), user_id: str | None = None, **claims: Any) -> str:
        now = int(time.time())
        body = {"iss": token_settings().auth_issuer, "aud": token_settings().auth_audience,
                "sub": user_id or str(uuid.uuid4()), "iat": now, "exp": now + 300,
                "jti": uuid.uuid4().hex, "roles": list(roles), **claims}
        return jwt.encode(body, self.private, algorithm="EdDSA",
                          headers={"kid": self.kid, "typ": "at+jwt"})


class FakeRpc:
    """Answers auth.get_jwks with the published keys; anything else echoes the context."""

    def __init__(self, *keys: Key) -> None:
        self.published = list(keys)
        self.jwks_calls = 0
        self.down = False
        self.delay = 0.0

    async def call(self, service: str, method: str, *args: Any,
                   context: dict[str, str] | None = None, **kwargs: Any) -> Any:
        if (service, method) == ("auth", "get_jwks"):
            self.jwks_calls += 1
            await asyncio.sleep(self.delay)
            if self.down:
                raise ServiceUnavailable("auth is down")
            return {"keys": [key.jwk() for key in self.published]}
        return {"context": context}


@pytest.fixture
def key() -> Key:
    return Key("k1")


@pytest.fixture
def rpc(key: Key) -> FakeRpc:
    return FakeRpc(key)


@pytest.fixture
def fake_rpc(rpc: FakeRpc) -> FakeRpc:
    return rpc


@pytest.fixture
def client(app, rpc):

    @app.get("/test/me")
    async def me(request: Request, who: Annotated[Identity, Depends(current_user)]) -> Any:
        forwarded = await upstream.call(request, "svc", "whoami")
        return {"user_id": who.user_id, "roles": list(who.roles), **forwarded}

    @app.get("/test/admin")
    async def admin(who: Annotated[Identity, Depends(current_admin)]) -> Any:
        return {"user_id": who.user_id}

    @app.get("/test/maybe")
    async def maybe(who: Annotated[Identity | None, Depends(optional_user)]) -> Any:
        return {"user_id": who.user_id if who else None}

    return TestClient(app, raise_server_exceptions=False)


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_valid_token_passes_and_is_forwarded_upstream(client, key):
    user_id = str(uuid.uuid4())
    token = key.token(user_id=user_id)
    response = client.get("/test/me", headers=_bearer(token))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["user_id"] == user_id and body["roles"] == ["customer"]
    assert body["context"]["authorization"] == token


@pytest.mark.parametrize("header", [None, "", "Bearer", "Bearer  ", "Basic abc", "bearer a b",
                                    "Bearer not-a-jwt", "Token abc"])
def test_missing_or_malformed_credentials_are_401(client, header):
    headers = {} if header is None else {"Authorization": header}
    response = client.get("/test/me", headers=headers)
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["status"] == 401


def test_identity_never_comes_from_other_headers(client):
    response = client.get("/test/me", headers={"X-User-Id": str(uuid.uuid4()),
                                               "X-Roles": "admin", "X-Forwarded-User": "a"})
    assert response.status_code == 401


def test_admin_route(client, key):
    assert client.get("/test/admin", headers=_bearer(key.token())).status_code == 403
    assert client.get("/test/admin", headers=_bearer(
        key.token(roles=("customer", "admin")))).status_code == 200
    assert client.get("/test/admin").status_code == 401


def test_optional_user(client, key):
    assert client.get("/test/maybe").json() == {"user_id": None}
    user_id = str(uuid.uuid4())
    assert client.get("/test/maybe", headers=_bearer(key.token(user_id=user_id))
                      ).json() == {"user_id": user_id}
    assert client.get("/test/maybe", headers=_bearer("bad")).status_code == 401


def test_jwks_is_fetched_once_then_verification_is_local(client, key, rpc):
    for _ in range(5):
        assert client.get("/test/admin", headers=_bearer(key.token())).status_code == 403
    assert rpc.jwks_calls == 1


def test_unknown_kid_refetches_at_most_once_per_interval(client, key, rpc):
    client.get("/test/me", headers=_bearer(key.token()))
    stranger = Key("unknown")
    for _ in range(10):
        assert client.get("/test/me", headers=_bearer(stranger.token())).status_code == 401
    assert rpc.jwks_calls == 1  # the first fetch was just now: no second one yet


def test_rotated_key_is_picked_up(app, client, key, rpc):
    client.get("/test/me", headers=_bearer(key.token()))
    new = Key("k2")
    rpc.published = [new, key]
    app.state.gateway.verifier.verifier._next_refresh = 0.0  # the refresh interval has passed
    assert client.get("/test/me", headers=_bearer(new.token())).status_code == 200
    assert client.get("/test/me", headers=_bearer(key.token())).status_code == 200
    assert rpc.jwks_calls == 2


def test_auth_down_without_keys_is_503(client, key, rpc):
    rpc.down = True
    response = client.get("/test/me", headers=_bearer(key.token()))
    assert response.status_code == 503 and "retry-after" in response.headers


def test_concurrent_requests_share_one_fetch(key):
    rpc = FakeRpc(key)
    rpc.delay = 0.05
    verifier = EdgeVerifier(rpc)  # type: ignore[arg-type]

    async def scenario():
        return await asyncio.gather(*(verifier.verify(key.token()) for _ in range(20)))

    identities = asyncio.run(scenario())
    assert len(identities) == 20 and rpc.jwks_calls == 1


def test_openapi_declares_the_bearer_scheme(client):
    spec = client.get("/openapi.json").json()
    assert spec["components"]["securitySchemes"]["HTTPBearer"] == {
        "type": "http", "scheme": "bearer", "bearerFormat": "JWT",
        "description": "An access token from POST /auth/login."}
