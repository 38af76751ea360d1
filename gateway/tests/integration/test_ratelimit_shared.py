"""Rate limits across two real gateway processes sharing the real Redis (under a throwaway key
prefix), per IP and per user; and a gateway whose Redis is unreachable keeps serving.

The services are the session's `suite` (its own gateway has rate limits off); the gateways
here are started by the tests on the same vhost, with low budgets.
"""

from __future__ import annotations

import sys
import uuid
from pathlib import Path

import httpx

from tests.support import infra

sys.path.insert(0, str(Path(__file__).resolve().parent))
from edge_support import fresh_window, running_gateway

DEAD_REDIS = "redis://127.0.0.1:1/0"


def limited_env(suite_env: dict[str, str], **budgets: str) -> dict[str, str]:
    return {**suite_env, "RATE_LIMIT_ENABLED": "true", "REDIS_PREFIX": infra.unique("rltest"),
            "REDIS_URL": "redis://127.0.0.1:6379/0", **budgets}


def token_for(suite_url: str) -> dict[str, str]:
    email, password = f"rl-{uuid.uuid4().hex[:10]}@suite.test", uuid.uuid4().hex
    with httpx.Client(base_url=suite_url, timeout=10) as http:
        assert http.post("/auth/register", json={"email": email, "password": password}
                         ).status_code == 201
        login = http.post("/auth/login", json={"email": email, "password": password})
        assert login.status_code == 200, login.text
    return {"Authorization": f"Bearer {login.json()['access_token']}"}


def assert_refused(response: httpx.Response) -> None:
    assert response.status_code == 429, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert 1 <= int(response.headers["retry-after"]) <= 60
    assert response.headers["ratelimit-remaining"] == "0"
    assert response.json()["status"] == 429


def test_two_gateways_spend_one_shared_per_ip_budget(suite, suite_env, tmp_path):
    env = limited_env(suite_env, RATE_LIMIT_AUTH_PER_MINUTE="6")
    with running_gateway(env, tmp_path / "a.log", ready_path="/readyz") as a, \
            running_gateway(env, tmp_path / "b.log", ready_path="/readyz") as b:
        fresh_window()
        with a.client(timeout=10) as first, b.client(timeout=10) as second:
            answers = [(first if i % 2 else second).get("/auth/jwks.json") for i in range(6)]
            assert [r.status_code for r in answers] == [200] * 6
            assert [int(r.headers["ratelimit-remaining"]) for r in answers] == [5, 4, 3, 2, 1, 0]
            assert_refused(first.get("/auth/jwks.json"))
            assert_refused(second.get("/auth/jwks.json"))
            assert first.get("/products").status_code == 200, "another budget outside /auth"
            assert second.get("/healthz").status_code == 200, "probes are never limited"
        assert (a.metric("gateway_rate_limited_total", budget="auth") or 0) >= 1


def test_two_gateways_spend_one_shared_per_user_budget(suite, suite_env, tmp_path):
    alice, bob = token_for(suite.url), token_for(suite.url)
    env = limited_env(suite_env, RATE_LIMIT_PER_MINUTE="1000", RATE_LIMIT_USER_PER_MINUTE="5")
    with running_gateway(env, tmp_path / "a.log", ready_path="/readyz") as a, \
            running_gateway(env, tmp_path / "b.log", ready_path="/readyz") as b:
        fresh_window()
        with a.client(timeout=10) as first, b.client(timeout=10) as second:
            answers = [(first if i % 2 else second).get("/payments", headers=alice)
                       for i in range(5)]
            assert [r.status_code for r in answers] == [200] * 5
            # The user's budget has less left than the IP's: the headers describe it.
            assert [r.headers["ratelimit-limit"] for r in answers] == ["5"] * 5
            assert [int(r.headers["ratelimit-remaining"]) for r in answers] == [4, 3, 2, 1, 0]
            assert_refused(first.get("/payments", headers=alice))
            assert_refused(second.get("/me/overview", headers=alice))
            assert second.get("/payments", headers=bob).status_code == 200, "per user"
            assert first.get("/auth/me", headers=alice).status_code == 200, "/auth/* is per IP"
            assert first.get("/products").status_code == 200, "anonymous: per IP only"
        assert (a.metric("gateway_rate_limited_total", budget="user") or 0) >= 1


def test_unreachable_redis_fails_open_and_is_counted(suite, suite_env, tmp_path):
    alice = token_for(suite.url)
    env = {**limited_env(suite_env, RATE_LIMIT_AUTH_PER_MINUTE="1",
                         RATE_LIMIT_PER_MINUTE="1", RATE_LIMIT_USER_PER_MINUTE="1"),
           "REDIS_URL": DEAD_REDIS}
    with running_gateway(env, tmp_path / "gw.log", ready_path="/readyz") as gateway, \
            gateway.client(timeout=10) as http:
        answers = [http.get("/products") for _ in range(5)]
        answers += [http.get("/payments", headers=alice) for _ in range(3)]
        answers += [http.get("/auth/jwks.json") for _ in range(3)]
        assert [r.status_code for r in answers] == [200] * 11, "budgets of 1 not enforced"
        assert (gateway.metric("gateway_rate_limit_fail_open_total") or 0) >= 11
        assert "Traceback" not in gateway.log()
