"""HTTP calls of the workload: a keyed POST retried with the same Idempotency-Key until a
definite answer, and sign-ins (an expired access token is renewed by signing in again)."""

from __future__ import annotations

import asyncio
import random
from typing import Any

import httpx

from chaos.fixtures import Customer
from chaos.history import Op

ATTEMPT_TIMEOUT = 8.0  # the gateway answers within its 5 s RPC timeout
IN_FLIGHT = "idempotency_key_in_use"


def retryable(status: int | None, body: dict[str, Any]) -> bool:
    """No definite answer: timeout or dropped connection, 5xx, 429, an expired token, or the
    same key still in flight (409 with that code; 409 out of stock is definite)."""
    return status is None or status >= 500 or status in (401, 429) or (
        status == 409 and body.get("code") == IN_FLIGHT)


async def post_until_definite(client: httpx.AsyncClient, op: Op, path: str, who: Customer,
                              stopping: asyncio.Event,
                              rng: random.Random) -> tuple[int | None, dict[str, Any]]:
    """(status, body) of the first definite answer; (None, {}) if the workload ended first."""
    backoff = 0.25
    while True:
        status, body = await _post(client, op, path, who)
        if not retryable(status, body):
            return status, body
        op.status = status
        if stopping.is_set():
            return None, {}
        await asyncio.sleep(backoff * (0.5 + rng.random()))
        backoff = min(backoff * 2, 3.0)


async def _post(client: httpx.AsyncClient, op: Op, path: str,
                who: Customer) -> tuple[int | None, dict[str, Any]]:
    op.attempts += 1
    headers = {"Idempotency-Key": op.key or "", "Authorization": f"Bearer {who.token}"}
    try:
        response = await client.post(path, json=op.request, headers=headers,
                                     timeout=ATTEMPT_TIMEOUT)
    except httpx.TimeoutException:
        op.statuses.append("timeout")
        return None, {}
    except httpx.TransportError as exc:
        op.statuses.append(type(exc).__name__)
        return None, {}
    op.statuses.append(str(response.status_code))
    if response.status_code == 401:
        await relogin(client, who)
    try:
        body = response.json()
    except ValueError:
        body = {"raw": response.text[:200]}
    return response.status_code, body if isinstance(body, dict) else {"raw": body}


async def login(client: httpx.AsyncClient, who: Customer,
                op: Op | None = None) -> httpx.Response | None:
    try:
        return await client.post("/auth/login", timeout=ATTEMPT_TIMEOUT,
                                 json={"email": who.email, "password": who.password})
    except httpx.HTTPError as exc:
        if op is not None:
            op.statuses.append(type(exc).__name__)
        return None


async def relogin(client: httpx.AsyncClient, who: Customer) -> None:
    async with who.lock:
        response = await login(client, who)
        if response is not None and response.status_code == 200:
            who.token = response.json()["access_token"]
