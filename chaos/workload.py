"""The workload: open-loop checkouts, logins and product reads at fixed rates (asyncio + httpx).

A checkout gets a fresh Idempotency-Key and is retried with that same key on a timeout, a 5xx,
a dropped connection or "same key still in flight" (409), until a definite answer (201, 402,
409 out of stock) or the end of the workload; then it is indeterminate.
"""

from __future__ import annotations

import asyncio
import hashlib
import random
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx

from chaos.fixtures import Customer, World
from chaos.history import History, Op

METHODS = (["tok_visa"] * 17 + ["tok_chargeDeclined", "tok_chargeDeclinedInsufficientFunds"]
           + ["tok_processingError"])
ATTEMPT_TIMEOUT = 8.0  # the gateway answers within its 5 s RPC timeout
MAX_INFLIGHT = 64


@dataclass
class Rates:
    checkouts: float
    logins: float
    reads: float


class Workload:
    def __init__(self, client: httpx.AsyncClient, world: World, history: History,
                 rng: random.Random) -> None:
        self.client, self.world, self.history, self.rng = client, world, history, rng
        self.stopping = asyncio.Event()
        self.tasks: set[asyncio.Task[None]] = set()
        self.slots = asyncio.Semaphore(MAX_INFLIGHT)

    async def run(self, rates: Rates, stop: asyncio.Event) -> None:
        """Until `stop` is set; then attempts under way get their answer (bounded)."""
        loops = [asyncio.ensure_future(self._every(1 / r, make)) for r, make in (
            (rates.checkouts, self._checkout), (rates.logins, self._login),
            (rates.reads, self._read)) if r > 0]
        await stop.wait()
        self.stopping.set()
        await asyncio.gather(*loops)
        if self.tasks:
            await asyncio.wait(self.tasks, timeout=ATTEMPT_TIMEOUT + 5)
        for task in list(self.tasks):
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)

    async def _every(self, period: float, make: Callable[[], Awaitable[None]]) -> None:
        loop = asyncio.get_running_loop()
        due = loop.time()
        while not self.stopping.is_set():
            task = asyncio.ensure_future(self._bounded(make))
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)
            due += period
            await asyncio.sleep(max(0.0, due - loop.time()))

    async def _bounded(self, make: Callable[[], Awaitable[None]]) -> None:
        async with self.slots:
            await make()

    async def _checkout(self) -> None:
        rng, customer = self.rng, self.rng.choice(self.world.customers)
        products = rng.sample(sorted(self.world.products), k=rng.choice((1, 1, 2)))
        request = {"items": [{"product_id": p, "quantity": rng.randint(1, 3)} for p in products],
                   "payment_method": rng.choice(METHODS)}
        op = self.history.new("checkout", user=customer.email, key=str(uuid.uuid4()),
                              request=request)
        backoff = 0.25
        while True:
            status, body = await self._post_checkout(op, customer)
            if status == 201:
                op.payment_id, op.result = body.get("id"), _payment(body)
                return self.history.complete(op, "ok", status)
            if status == 402 or (status == 409 and body.get("code") == "out_of_stock"):
                op.payment_id = body.get("payment_id")
                op.result = {k: body.get(k) for k in ("code", "decline_code", "payment_id")}
                return self.history.complete(op, "fail", status)
            if status is not None and status < 500 and status not in (401, 409, 429):
                op.unexpected = f"HTTP {status}: {str(body)[:200]}"
                return self.history.complete(op, "fail", status)
            op.status = status
            if self.stopping.is_set():
                return  # no definite answer: indeterminate (History.close writes it)
            await asyncio.sleep(backoff * (0.5 + self.rng.random()))
            backoff = min(backoff * 2, 3.0)

    async def _post_checkout(self, op: Op, customer: Customer) -> tuple[int | None,
                                                                        dict[str, Any]]:
        op.attempts += 1
        headers = {"Idempotency-Key": op.key or "", "Authorization": f"Bearer {customer.token}"}
        try:
            response = await self.client.post("/payments", json=op.request, headers=headers,
                                              timeout=ATTEMPT_TIMEOUT)
        except httpx.TimeoutException:
            op.statuses.append("timeout")
            return None, {}
        except httpx.TransportError as exc:
            op.statuses.append(type(exc).__name__)
            return None, {}
        op.statuses.append(str(response.status_code))
        if response.status_code == 401:
            await self._relogin(customer)
        try:
            body = response.json()
        except ValueError:
            body = {"raw": response.text[:200]}
        return response.status_code, body if isinstance(body, dict) else {"raw": body}

    async def _relogin(self, customer: Customer) -> None:
        async with customer.lock:
            response = await self._login_once(customer)
            if response is not None and response.status_code == 200:
                customer.token = response.json()["access_token"]

    async def _login(self) -> None:
        customer = self.rng.choice(self.world.customers)
        op = self.history.new("login", user=customer.email)
        op.attempts = 1
        response = await self._login_once(customer, op)
        if response is None:
            return  # indeterminate: a refresh-token family may or may not have been created
        op.statuses.append(str(response.status_code))
        if response.status_code == 200:
            token = response.json()["refresh_token"]
            op.result = {"refresh_token_sha256": hashlib.sha256(token.encode()).hexdigest()}
            self.history.complete(op, "ok", 200)
        elif response.status_code in (401, 429):  # the right password, never locked out
            op.unexpected = f"HTTP {response.status_code} for valid credentials"
            self.history.complete(op, "fail", response.status_code)
        else:
            op.status = response.status_code

    async def _login_once(self, customer: Customer, op: Op | None = None) -> httpx.Response | None:
        try:
            return await self.client.post("/auth/login", timeout=ATTEMPT_TIMEOUT, json={
                "email": customer.email, "password": customer.password})
        except httpx.HTTPError as exc:
            if op is not None:
                op.statuses.append(type(exc).__name__)
            return None

    async def _read(self) -> None:
        product_id = self.rng.choice(sorted(self.world.products))
        op = self.history.new("read", request={"product_id": product_id})
        op.attempts = 1
        try:
            response = await self.client.get(f"/products/{product_id}", timeout=ATTEMPT_TIMEOUT)
        except httpx.HTTPError as exc:
            op.statuses.append(type(exc).__name__)
            return
        op.statuses.append(str(response.status_code))
        if response.status_code != 200:
            if response.status_code == 404:
                op.unexpected = "404 for a product that exists"
            return self.history.complete(op, "fail", response.status_code)
        available = response.json().get("available")
        op.result = {"available": available}
        if not isinstance(available, int) or available < 0:
            op.unexpected = f"available = {available!r}"
        self.history.complete(op, "ok", 200)


def _payment(body: dict[str, Any]) -> dict[str, Any]:
    return {k: body.get(k) for k in ("id", "status", "amount", "currency", "items")}
