"""A flood on a real gateway process with a low GATEWAY_MAX_INFLIGHT: the requests over the cap
get 503 + Retry-After at once, the rest keep their slots, nothing hangs, probes still answer.

The slow upstream is a queue bound to a service name with no consumer (on the session's
throwaway vhost), reached through the benchmark-only /_bench/ping/{service} route: each call
waits out the RPC timeout.
"""

from __future__ import annotations

import asyncio
import sys
import time
import uuid
from pathlib import Path

import httpx
from kombu import Connection, Exchange, Queue

sys.path.insert(0, str(Path(__file__).resolve().parent))
from edge_support import running_gateway

CAP = 4
FLOOD = 40
RPC_TIMEOUT = 4.0


def test_a_flood_over_the_cap_is_shed_quickly(amqp_uri, suite_env, tmp_path):
    service = f"silent{uuid.uuid4().hex[:8]}"
    # On the tests' own broker user: the gateway's may publish only the suite's RPCs, and this
    # one calls a made-up service.
    env = {**suite_env, "GATEWAY_AMQP_URI": amqp_uri,
           "GATEWAY_MAX_INFLIGHT": str(CAP), "GATEWAY_BENCH_ROUTES": "true",
           "GATEWAY_RPC_TIMEOUT": str(RPC_TIMEOUT), "GATEWAY_BREAKER_ENABLED": "false"}
    with Connection(amqp_uri) as conn, \
            running_gateway(env, tmp_path / "gateway.log") as gateway:
        exchange = Exchange("nameko-rpc", type="topic", durable=True)
        Queue(f"rpc-{service}", exchange, routing_key=f"{service}.*", auto_delete=True,
              queue_arguments={"x-expires": 60_000})(conn).declare()

        async def timed(client: httpx.AsyncClient, path: str) -> tuple[int, float, httpx.Response]:
            started = time.perf_counter()
            response = await client.get(path)
            return response.status_code, time.perf_counter() - started, response

        async def flood():
            limits = httpx.Limits(max_connections=FLOOD + 5)
            async with httpx.AsyncClient(base_url=gateway.url, timeout=20,
                                         limits=limits) as client:
                calls = [asyncio.create_task(timed(client, f"/_bench/ping/{service}"))
                         for _ in range(FLOOD)]
                await asyncio.sleep(1.0)
                probe = await timed(client, "/healthz")
                return await asyncio.gather(*calls), probe

        results, probe = asyncio.run(flood())
        shed = [(elapsed, r) for status, elapsed, r in results if status == 503]
        held = [status for status, _, _ in results if status != 503]
        assert probe[0] == 200 and probe[1] < RPC_TIMEOUT / 2, "probes are never shed"
        assert len(shed) >= FLOOD - 2 * CAP, "well over the cap: most are shed"
        assert set(held) <= {504} and len(held) <= 2 * CAP, "the admitted waited their timeout"
        for elapsed, response in shed:
            assert elapsed < RPC_TIMEOUT / 2, f"shed at once, not queued ({elapsed:.2f} s)"
            assert response.headers["retry-after"] == "1"
            assert response.headers["content-type"] == "application/problem+json"
        assert (gateway.metric("gateway_load_shed_total") or 0) == len(shed)
