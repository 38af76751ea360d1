"""X-Forwarded-For against a real gateway process and the real Redis (throwaway key prefix):
believed only from GATEWAY_TRUSTED_PROXIES, and then its right-most untrusted hop is the client
the per-IP budget is spent for. By default nobody is trusted: a fresh X-Forwarded-For on each
request is no fresh budget.
"""

from __future__ import annotations

import os
import sys
import uuid
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from edge_support import fresh_window, running_gateway

BUDGET = 5  # requests per minute per client address (under 120: counted exactly)


def limited_env(amqp_uri: str, **extra: str) -> dict[str, str]:
    return {**os.environ, "AMQP_URI": amqp_uri, "PYTHONUNBUFFERED": "1",
            "RATE_LIMIT_ENABLED": "true", "RATE_LIMIT_PER_MINUTE": str(BUDGET),
            "REDIS_URL": "redis://127.0.0.1:6379/0",
            "REDIS_PREFIX": f"xfftest-{uuid.uuid4().hex[:12]}", **extra}


def statuses(client: httpx.Client, forwarded: list[str]) -> list[int]:
    return [client.get("/openapi.json", headers={"X-Forwarded-For": hop}).status_code
            for hop in forwarded]


def test_a_fresh_forwarded_for_is_no_fresh_budget(amqp_uri, tmp_path):
    fresh_window()
    with running_gateway(limited_env(amqp_uri), tmp_path / "gateway.log") as gateway, \
            gateway.client(timeout=10) as client:
        spoofed = [f"198.51.100.{n}" for n in range(BUDGET + 3)]

        assert statuses(client, spoofed) == [200] * BUDGET + [429] * 3


def test_a_trusted_proxys_forwarded_for_names_the_client(amqp_uri, tmp_path):
    fresh_window()
    env = limited_env(amqp_uri, GATEWAY_TRUSTED_PROXIES="127.0.0.1/32, 10.0.0.0/8")
    with running_gateway(env, tmp_path / "gateway.log") as gateway, \
            gateway.client(timeout=10) as proxy:  # 127.0.0.1: a trusted proxy
        # The client's own claims come first; the proxies append what they saw, right-most
        # last. The right-most hop that is not a trusted proxy (10.0.0.0/8) is the client.
        chains = [f"192.0.2.{n}, 203.0.113.7, 10.1.2.3" for n in range(BUDGET + 1)]
        assert statuses(proxy, chains) == [200] * BUDGET + [429], "spent by 203.0.113.7"
        assert statuses(proxy, ["203.0.113.8"]) == [200], "another client, its own budget"

        direct = httpx.Client(base_url=gateway.url, timeout=10,
                              transport=httpx.HTTPTransport(local_address="127.0.0.2"))
        with direct:  # not a trusted proxy: its X-Forwarded-For is not read
            assert statuses(direct, [f"198.51.100.{n}" for n in range(BUDGET + 1)]) == \
                [200] * BUDGET + [429]
