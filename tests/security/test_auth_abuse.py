"""Abuse of the sign-in and token routes, and oversized bodies.

JWT negatives (bad claims, alg none, HS256 with the public key, unknown kid, foreign key, wrong
typ, tampering, a forged admin claim) are covered against the whole suite by
gateway/tests/integration/test_security_tokens.py and the header forms by
tests/e2e/auth/test_auth_http.py::test_me_needs_a_valid_token; not repeated
here. Added: a refresh token or a token outside the Authorization header is no access token,
refresh reuse across a longer chain, lockout that spoofed client addresses do not reset, 413 on
every JSON route, and the per-IP budget on /auth/* (429) with rate limits on.
"""

from __future__ import annotations

import uuid

from tests.security.conftest import PASSWORD, Actor, login
from tests.security.test_bola_matrix import problem
from tests.security.test_mass_assignment import _json_bodies

LIMIT = 64 * 1024


def test_only_an_access_token_in_the_authorization_header_authenticates(http, fresh_customer):
    user: Actor = fresh_customer()
    assert http.get("/auth/me", headers=user.headers).status_code == 200
    problem(http.get("/auth/me", headers={"Authorization": f"Bearer {user.refresh_token}"}), 401)
    problem(http.get("/auth/me", params={"access_token": user.token}), 401)
    problem(http.get("/auth/me", cookies={"access_token": user.token}), 401)
    problem(http.get("/me/overview", headers={"X-Access-Token": user.token}), 401)


def test_reusing_any_spent_refresh_token_revokes_the_whole_family(http, fresh_customer):
    user: Actor = fresh_customer()
    chain = [user.refresh_token]
    for _ in range(3):
        response = http.post("/auth/refresh", json={"refresh_token": chain[-1]})
        assert response.status_code == 200, response.text
        chain.append(response.json()["refresh_token"])
    assert len(set(chain)) == 4
    problem(http.post("/auth/refresh", json={"refresh_token": chain[1]}), 401)  # a middle one
    for token in chain:  # the newest died with it; nothing of the family works any more
        problem(http.post("/auth/refresh", json={"refresh_token": token}), 401)
    other = login(http, user.email, PASSWORD)  # a new sign-in starts a new family
    assert http.post("/auth/refresh", json={"refresh_token": other["refresh_token"]}
                     ).status_code == 200


def test_lockout_after_five_failures_ignores_spoofed_client_addresses(http, fresh_customer):
    user: Actor = fresh_customer()
    for attempt in range(5):
        spoofed = {"X-Forwarded-For": f"198.51.100.{attempt}", "X-Real-IP": f"203.0.113.{attempt}"}
        problem(http.post("/auth/login", headers=spoofed,
                          json={"email": user.email, "password": f"wrong {attempt} password"}), 401)
    locked = http.post("/auth/login", headers={"X-Forwarded-For": "192.0.2.77"},
                       json={"email": user.email, "password": PASSWORD})
    problem(locked, 429)
    assert 0 < int(locked.headers["retry-after"]) <= 15 * 60
    assert "access_token" not in locked.text
    # The account's tokens from before keep working: a lockout is not a way to log someone out.
    assert http.get("/auth/me", headers=user.headers).status_code == 200


def test_every_json_route_refuses_a_body_over_64_kib_with_413(http, admin: Actor, product):
    document = http.get("/openapi.json").json()
    filler = {"id": str(uuid.uuid4()), "product_id": product["id"],
              "payment_id": str(uuid.uuid4())}
    body = b'{"name": "' + b"x" * LIMIT + b'"}'
    routes = sorted(_json_bodies(document))
    assert len(routes) >= 10
    for method, template in routes:
        headers = {**admin.headers, "Content-Type": "application/json",
                   "Idempotency-Key": uuid.uuid4().hex}
        response = http.request(method, template.format(**filler), content=body,
                                headers=headers)
        problem(response, 413)
        chunked = http.request(method, template.format(**filler), headers=headers,
                               content=iter([body[:LIMIT // 2], body[LIMIT // 2:]]))
        problem(chunked, 413)
    assert http.get(f"/products/{product['id']}").json()["name"] == product["name"]
