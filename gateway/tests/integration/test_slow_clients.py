"""Slow clients against a real gateway process (`python -m gateway`, loopback only): a flood of
connections that each send half a body cannot take the in-flight budget from other clients;
a request whose headers or body do not arrive in time gets 408 and its connection closed.

The attacker connects from 127.0.0.1 and the other client from 127.0.0.2 (two client
addresses on the loopback interface). The gateway needs no service for these routes.
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from edge_support import running_gateway

FLOOD = 600  # the figure: more than GATEWAY_MAX_INFLIGHT's default 512
TIMEOUT = 4.0
HALF_A_BODY = (b"POST /products HTTP/1.1\r\nHost: gateway\r\nContent-Type: application/json\r\n"
               b"Content-Length: 1000\r\n\r\n" + b'{"sku": "' + b"x" * 490)


def gateway_env(amqp_uri: str, **extra: str) -> dict[str, str]:
    return {**os.environ, "AMQP_URI": amqp_uri, "RATE_LIMIT_ENABLED": "false",
            "PYTHONUNBUFFERED": "1", "GATEWAY_HEADER_TIMEOUT": str(TIMEOUT),
            "GATEWAY_BODY_TIMEOUT": str(TIMEOUT), **extra}


async def hold(port: int, request: bytes) -> tuple[float, bytes]:
    """Send `request` from 127.0.0.1 and wait for the gateway to answer or close: (when, what)."""
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port,
                                                       local_addr=("127.0.0.1", 0))
    except OSError:
        return time.monotonic(), b""
    try:
        writer.write(request)
        answer = await asyncio.wait_for(reader.read(), 3 * TIMEOUT + 10)
    except (OSError, TimeoutError):
        answer = b""
    finally:
        writer.close()
    return time.monotonic(), answer[:12]


async def flood_and_ask(url: str, port: int) -> tuple[list[tuple[float, bytes]],
                                                      list[tuple[float, int]]]:
    attack = [asyncio.create_task(hold(port, HALF_A_BODY)) for _ in range(FLOOD)]
    await asyncio.sleep(1.0)  # every connection open and its half body sent
    other: list[tuple[float, int]] = []
    transport = httpx.AsyncHTTPTransport(local_address="127.0.0.2")
    async with httpx.AsyncClient(base_url=url, transport=transport, timeout=5) as client:
        for _ in range(10):
            status = (await client.get("/openapi.json")).status_code
            other.append((time.monotonic(), status))
    return await asyncio.gather(*attack), other


def test_a_half_body_flood_leaves_other_clients_their_200s(amqp_uri, tmp_path):
    with running_gateway(gateway_env(amqp_uri), tmp_path / "gateway.log") as gateway:
        port = int(gateway.url.rsplit(":", 1)[1])
        attack, other = asyncio.run(flood_and_ask(gateway.url, port))

        assert [status for _, status in other] == [200] * 10, "the other client is served"
        timed_out = [when for when, answer in attack if answer.startswith(b"HTTP/1.1 408")]
        assert 0 < len(timed_out) <= 64, "at most the per-client cap held a slot, then 408"
        # The rest were refused at once: a 503, or a reset when the unread request was dropped.
        assert {answer for _, answer in attack} <= {b"HTTP/1.1 408", b"HTTP/1.1 503", b""}
        assert max(when for when, _ in other) < min(timed_out), "served while the flood held"
        assert gateway.metric("gateway_edge_refused_total",
                              reason="connections") == FLOOD - len(timed_out)
        assert gateway.metric("gateway_edge_refused_total",
                              reason="body_timeout") == len(timed_out)
        assert '"status":408' in gateway.log(), "the cut-off requests are logged as 408s"


async def slowloris(port: int) -> list[tuple[float, bytes]]:
    started = time.monotonic()
    results = await asyncio.gather(
        hold(port, b"GET /openapi.json HTTP/1.1\r\nHost: gateway\r\nX-Slow: "),  # headers
        hold(port, b""))  # an open connection that never sends a byte
    return [(when - started, answer) for when, answer in results]


def test_headers_that_do_not_arrive_in_time_are_a_408_and_idle_connections_are_closed(
        amqp_uri, tmp_path):
    with running_gateway(gateway_env(amqp_uri), tmp_path / "gateway.log") as gateway:
        port = int(gateway.url.rsplit(":", 1)[1])
        (partial_after, partial), (idle_after, idle) = asyncio.run(slowloris(port))

        assert partial.startswith(b"HTTP/1.1 408")
        assert idle.startswith(b"HTTP/1.1 408")
        for after in (partial_after, idle_after):
            assert TIMEOUT - 0.5 <= after <= TIMEOUT + 5, after
        assert gateway.metric("gateway_edge_refused_total", reason="header_timeout") == 2
