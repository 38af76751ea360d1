"""Auth through the gateway, against the whole suite (real broker, real database)."""

from __future__ import annotations

import jwt

PROBLEM = "application/problem+json"


def _problem(response, status):
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    body = response.json()
    assert body["status"] == status
    return body


def test_register_returns_the_user(http, new_email):
    email = new_email()
    response = http.post("/auth/register", json={"email": email, "password": "x" * 10,
                                                 "display_name": "Ada"})
    assert response.status_code == 201, response.text
    user = response.json()
    assert set(user) == {"id", "email", "display_name", "roles", "created_at"}
    assert user["email"] == email and user["display_name"] == "Ada"
    assert user["roles"] == ["customer"]
    assert user["created_at"].endswith("Z")


def test_duplicate_email_in_any_case_is_409(http, register, new_email):
    email = new_email()
    register(email)
    for variant in (email, email.upper(), email.capitalize(), f"  {email}  "):
        response = http.post("/auth/register", json={"email": variant, "password": "y" * 12})
        _problem(response, 409)


def test_password_length_and_email_are_validated_with_field_errors(http, new_email):
    cases = [({"email": new_email(), "password": "short"}, "password"),
             ({"email": new_email(), "password": "p" * 129}, "password"),
             ({"email": "not-an-email", "password": "long enough pw"}, "email"),
             ({"email": "a@b", "password": "long enough pw"}, "email"),
             ({"email": new_email(), "password": "long enough pw", "role": "admin"}, "role")]
    for body, field in cases:
        problem = _problem(http.post("/auth/register", json=body), 422)
        assert field in {error["field"] for error in problem["errors"]}, problem
        assert body["password"] not in str(problem)


def test_boundaries_of_password_length_are_accepted(register):
    register(password="p" * 10)
    register(password="p" * 128)


def test_login_issues_a_verifiable_access_token_and_a_refresh_token(http, register, login):
    user = register()
    pair = login(user["email"])
    assert pair["token_type"] == "Bearer" and pair["expires_in"] > 0
    assert pair["refresh_token"] and "." not in pair["refresh_token"]  # opaque
    header = jwt.get_unverified_header(pair["access_token"])
    assert header["alg"] == "EdDSA" and header["typ"] == "at+jwt"
    keys = http.get("/auth/jwks.json").json()["keys"]
    assert header["kid"] in {key["kid"] for key in keys}
    assert all("d" not in key for key in keys), "the JWKS must never carry private material"
    claims = jwt.decode(pair["access_token"], options={"verify_signature": False})
    assert set(claims) >= {"iss", "aud", "sub", "exp", "iat", "jti", "roles"}
    assert claims["sub"] == user["id"] and claims["roles"] == ["customer"]


def test_token_responses_are_not_cacheable(http, register, password):
    user = register()
    response = http.post("/auth/login", json={"email": user["email"], "password": password})
    assert response.headers["cache-control"] == "no-store"
    refreshed = http.post("/auth/refresh", json={"refresh_token": response.json()["refresh_token"]})
    assert refreshed.headers["cache-control"] == "no-store"


def test_login_is_case_insensitive_on_email(register, login):
    user = register()
    login(user["email"].upper())


def test_me_needs_a_valid_token(http, register, login):
    user = register()
    token = login(user["email"])["access_token"]
    response = http.get("/auth/me", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200 and response.json() == user
    for headers in ({}, {"Authorization": "Bearer"}, {"Authorization": f"Basic {token}"},
                    {"Authorization": "Bearer not.a.jwt"}, {"X-User-Id": user["id"]}):
        response = http.get("/auth/me", headers=headers)
        _problem(response, 401)
        assert response.headers["www-authenticate"].startswith("Bearer")


def test_unknown_email_and_wrong_password_answer_identically(http, register, new_email):
    user = register()
    wrong = http.post("/auth/login", json={"email": user["email"], "password": "wrong pw 123"})
    unknown = http.post("/auth/login", json={"email": new_email(), "password": "wrong pw 123"})
    bodies = []
    for response in (wrong, unknown):
        body = _problem(response, 401)
        body.pop("request_id")
        bodies.append(body)
        assert response.headers["www-authenticate"].startswith("Bearer")
    assert bodies[0] == bodies[1]


def test_refresh_rotates_and_reuse_revokes_the_family(http, register, login):
    user = register()
    first = login(user["email"])
    response = http.post("/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert response.status_code == 200, response.text
    second = response.json()
    assert second["refresh_token"] != first["refresh_token"]
    assert jwt.decode(second["access_token"], options={"verify_signature": False})["sub"] \
        == user["id"]
    third = http.post("/auth/refresh", json={"refresh_token": second["refresh_token"]}).json()
    # The spent first token comes back: the whole family dies, the newest token included.
    _problem(http.post("/auth/refresh", json={"refresh_token": first["refresh_token"]}), 401)
    _problem(http.post("/auth/refresh", json={"refresh_token": third["refresh_token"]}), 401)
    # Another login (another family) is unaffected.
    other = login(user["email"])
    assert http.post("/auth/refresh", json={"refresh_token": other["refresh_token"]}
                     ).status_code == 200


def test_logout_revokes_the_family(http, register, login):
    user = register()
    pair = login(user["email"])
    rotated = http.post("/auth/refresh", json={"refresh_token": pair["refresh_token"]}).json()
    response = http.post("/auth/logout", json={"refresh_token": rotated["refresh_token"]})
    assert response.status_code == 204 and response.content == b""
    _problem(http.post("/auth/refresh", json={"refresh_token": rotated["refresh_token"]}), 401)
    # Idempotent, and no oracle for unknown tokens.
    assert http.post("/auth/logout", json={"refresh_token": rotated["refresh_token"]}
                     ).status_code == 204
    assert http.post("/auth/logout", json={"refresh_token": "nonsense"}).status_code == 204


def test_unknown_refresh_token_is_401(http):
    _problem(http.post("/auth/refresh", json={"refresh_token": "made-up"}), 401)


def test_lockout_after_five_failures_for_one_email(http, register, new_email, password):
    user = register()
    variants = [user["email"], user["email"].upper()]  # counted per normalised email
    for attempt in range(5):
        body = {"email": variants[attempt % 2], "password": "wrong password"}
        _problem(http.post("/auth/login", json=body), 401)
    locked = http.post("/auth/login", json={"email": user["email"], "password": password})
    _problem(locked, 429)
    assert 0 < int(locked.headers["retry-after"]) <= 15 * 60
    # Another account is not affected.
    other = register()
    assert http.post("/auth/login", json={"email": other["email"], "password": password}
                     ).status_code == 200


def test_lockout_counts_unknown_emails_too(http, new_email):
    email = new_email("ghost")
    for _ in range(5):
        _problem(http.post("/auth/login", json={"email": email, "password": "whatever 123"}),
                 401)
    locked = http.post("/auth/login", json={"email": email, "password": "whatever 123"})
    _problem(locked, 429)
    assert int(locked.headers["retry-after"]) > 0


def test_success_resets_the_failure_count(http, register, login, password):
    user = register()
    for _ in range(4):
        _problem(http.post("/auth/login", json={"email": user["email"], "password": "nope nope"}),
                 401)
    login(user["email"])
    for _ in range(4):
        _problem(http.post("/auth/login", json={"email": user["email"], "password": "nope nope"}),
                 401)
    login(user["email"])


def test_huge_body_is_413(http):
    response = http.post("/auth/register", content=b'{"email": "' + b"a" * 70_000 + b'"}',
                         headers={"content-type": "application/json"})
    _problem(response, 413)


def test_non_json_and_malformed_bodies(http):
    _problem(http.post("/auth/login", content=b"email=a", headers={
        "content-type": "application/x-www-form-urlencoded"}), 415)
    _problem(http.post("/auth/login", content=b"{", headers={
        "content-type": "application/json"}), 400)


def test_openapi_documents_the_auth_routes(http):
    spec = http.get("/openapi.json").json()
    assert spec["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"
    paths = spec["paths"]
    assert {"/auth/register", "/auth/login", "/auth/refresh", "/auth/logout", "/auth/me",
            "/auth/jwks.json", "/auth/users/{id}/roles"} <= set(paths)
    assert {"401", "429"} <= set(paths["/auth/login"]["post"]["responses"])
    assert {"401", "403", "404", "422"} <= set(paths["/auth/users/{id}/roles"]["put"]["responses"])
    assert paths["/auth/me"]["get"]["security"] == [{"HTTPBearer": []}]
