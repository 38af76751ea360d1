"""Edge authentication against the whole suite: only a token exactly as auth mints it passes.

The attacker tokens below are signed with the suite's real (development) signing key, read from
the auth database, so each one fails for the one reason it is built around, not the signature.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import create_engine, text

from shared.settings import token_settings

PASSWORD = "correct horse battery staple"


@pytest.fixture(scope="module")
def http(suite):
    with httpx.Client(base_url=suite.url, timeout=20) as client:
        yield client


@pytest.fixture(scope="module")
def signing_key(database_urls):
    engine = create_engine(database_urls["auth"])
    with engine.connect() as conn:
        row = conn.execute(text("SELECT kid, private_key_pem FROM signing_keys "
                                "ORDER BY created_at DESC, kid LIMIT 1")).one()
    engine.dispose()
    return row.kid, serialization.load_pem_private_key(row.private_key_pem.encode(), None)


@pytest.fixture(scope="module")
def user(http):
    email = f"edge-{uuid.uuid4().hex[:12]}@example.com"
    registered = http.post("/auth/register", json={"email": email, "password": PASSWORD})
    assert registered.status_code == 201, registered.text
    pair = http.post("/auth/login", json={"email": email, "password": PASSWORD}).json()
    return {**registered.json(), "access_token": pair["access_token"]}


def _claims(user_id, **changes):
    now = int(time.time())
    claims = {"iss": token_settings().auth_issuer, "aud": token_settings().auth_audience,
              "sub": user_id, "iat": now, "exp": now + 300, "jti": uuid.uuid4().hex,
              "roles": ["customer"]}
    claims.update(changes)
    return {key: value for key, value in claims.items() if value is not None}


def _sign(claims, key, kid, **header):
    return jwt.encode(claims, key, algorithm="EdDSA", headers={"kid": kid, "typ": "at+jwt",
                                                               **header})


def _b64(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _me(http, token):
    return http.get("/auth/me", headers={"Authorization": f"Bearer {token}"})


def _assert_401(response):
    assert response.status_code == 401, response.text
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert response.headers["content-type"].startswith("application/problem+json")


def test_a_token_minted_like_auth_does_passes(http, signing_key, user):
    kid, key = signing_key
    assert _me(http, user["access_token"]).status_code == 200
    assert _me(http, _sign(_claims(user["id"]), key, kid)).status_code == 200


@pytest.mark.parametrize("changes", [
    {"exp": int(time.time()) - 120, "iat": int(time.time()) - 1000},  # expired
    {"aud": "someone-else"}, {"aud": ["someone-else"]},
    {"iss": "https://evil.example"},
    {"sub": None}, {"exp": None}, {"iat": None}, {"jti": None}, {"roles": None},
    {"sub": "not-a-uuid"}, {"roles": "admin"},
    {"iat": int(time.time()) + 3600},  # issued in the future
], ids=["expired", "wrong-aud", "wrong-aud-list", "wrong-iss", "no-sub", "no-exp", "no-iat",
        "no-jti", "no-roles", "bad-sub", "roles-not-a-list", "future-iat"])
def test_bad_claims_are_401(http, signing_key, user, changes):
    kid, key = signing_key
    _assert_401(_me(http, _sign(_claims(user["id"], **changes), key, kid)))


def test_alg_none_is_401(http, user):
    header = _b64(json.dumps({"alg": "none", "typ": "at+jwt", "kid": "x"}).encode())
    payload = _b64(json.dumps(_claims(user["id"], roles=["customer", "admin"])).encode())
    _assert_401(_me(http, f"{header}.{payload}."))


def test_hs256_signed_with_the_public_key_is_401(http, signing_key, user):
    kid, key = signing_key
    public = key.public_key()
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    pem = public.public_bytes(serialization.Encoding.PEM,
                              serialization.PublicFormat.SubjectPublicKeyInfo)
    x = http.get("/auth/jwks.json").json()["keys"][0]["x"]
    for secret in (raw, pem, x.encode()):
        header = _b64(json.dumps({"alg": "HS256", "typ": "at+jwt", "kid": kid}).encode())
        payload = _b64(json.dumps(_claims(user["id"], roles=["admin"])).encode())
        signature = _b64(hmac.new(secret, f"{header}.{payload}".encode(),
                                  hashlib.sha256).digest())
        _assert_401(_me(http, f"{header}.{payload}.{signature}"))


def test_unknown_kid_and_foreign_key_are_401(http, signing_key, user):
    kid, _ = signing_key
    stranger = Ed25519PrivateKey.generate()
    _assert_401(_me(http, _sign(_claims(user["id"]), stranger, "made-up-kid")))
    _assert_401(_me(http, _sign(_claims(user["id"]), stranger, kid)))  # right kid, wrong key
    for bad_kid in ("../../etc/passwd", "x" * 500, "' OR 1=1 --"):
        _assert_401(_me(http, _sign(_claims(user["id"]), stranger, bad_kid)))


def test_wrong_type_header_is_401(http, signing_key, user):
    kid, key = signing_key
    _assert_401(_me(http, _sign(_claims(user["id"]), key, kid, typ="JWT")))
    _assert_401(_me(http, jwt.encode(_claims(user["id"]), key, algorithm="EdDSA",
                                     headers={"kid": kid})))


def test_tampered_token_is_401(http, user):
    header, payload, signature = user["access_token"].split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["roles"] = ["customer", "admin"]
    forged_payload = _b64(json.dumps(claims).encode())
    _assert_401(_me(http, f"{header}.{forged_payload}.{signature}"))
    flipped = signature[:-2] + ("AA" if signature[-2:] != "AA" else "BB")
    _assert_401(_me(http, f"{header}.{payload}.{flipped}"))
    _assert_401(_me(http, f"{header}.{payload}"))


def test_customer_token_on_admin_route_is_403_and_forged_admin_is_401(http, signing_key, user):
    response = http.put(f"/auth/users/{user['id']}/roles", json={"roles": ["admin"]},
                        headers={"Authorization": f"Bearer {user['access_token']}"})
    assert response.status_code == 403
    stranger = Ed25519PrivateKey.generate()
    forged = _sign(_claims(user["id"], roles=["customer", "admin"]), stranger, "kid-x")
    response = http.put(f"/auth/users/{user['id']}/roles", json={"roles": ["admin"]},
                        headers={"Authorization": f"Bearer {forged}"})
    assert response.status_code == 401
