"""The per-IP budget on /auth/*, with rate limits on: a gateway of its own (RATE_LIMIT_ENABLED
=true, a budget of 5 a minute, a REDIS_PREFIX of its own so no other run shares its counters)
on the session suite's broker, so that its /auth/* calls reach the suite's auth service."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.security.test_bola_matrix import problem
from tests.support.suite import free_port

BUDGET = 5


@pytest.fixture(scope="module")
def limited_gateway(suite, suite_env, tmp_path_factory) -> Iterator[str]:
    port = free_port()
    env = {**suite_env, "RATE_LIMIT_ENABLED": "true", "RATE_LIMIT_AUTH_PER_MINUTE": str(BUDGET),
           "REDIS_PREFIX": f"security-{uuid.uuid4().hex}", "GATEWAY_HOST": "127.0.0.1",
           "GATEWAY_PORT": str(port)}
    log: Path = tmp_path_factory.mktemp("ratelimit") / "gateway.log"
    with log.open("wb") as out:
        process = subprocess.Popen([sys.executable, "-m", "gateway"], env=env, stdout=out,
                                   stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, log.read_text()[-3000:]
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                    break
            assert time.monotonic() < deadline, log.read_text()[-3000:]
            time.sleep(0.2)
        yield url
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def test_auth_routes_answer_429_once_the_ip_budget_is_spent(limited_gateway):
    with httpx.Client(base_url=limited_gateway, timeout=30) as http:
        answered = []
        for _ in range(3 * BUDGET):  # a window may turn over once in between: two budgets
            response = http.post("/auth/refresh", json={"refresh_token": "not-a-token"})
            answered.append(response.status_code)
            if response.status_code == 429:
                break
        assert answered[-1] == 429, answered
        assert answered.count(401) <= 2 * BUDGET, answered
        problem(response, 429)
        assert 0 < int(response.headers["retry-after"]) <= 60
        assert response.headers["ratelimit-limit"] == str(BUDGET)
        assert response.headers["ratelimit-remaining"] == "0"
        # Every /auth/* route shares the budget: sign-in too (before any password check).
        problem(http.post("/auth/login", json={"email": "a@example.com", "password": "x"}), 429)
        problem(http.get("/auth/jwks.json"), 429)
        # Other routes have their own, larger budget.
        assert http.get("/products").status_code == 200
