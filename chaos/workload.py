"""The workload: open-loop checkouts, logins and product reads at fixed rates (asyncio + httpx),
and admin refunds (with restock) of some payments right after they succeeded.

Checkouts and refunds carry a fresh Idempotency-Key and are retried with that same key until a
definite answer or the end of the workload (chaos.client); then they are indeterminate.
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

from chaos.client import ATTEMPT_TIMEOUT, login, post_until_definite
from chaos.fixtures import World
from chaos.history import History

METHODS = (["tok_visa"] * 17 + ["tok_chargeDeclined", "tok_chargeDeclinedInsufficientFunds"]
           + ["tok_processingError"])
REFUND_SHARE = 0.1  # of succeeded checkouts, refunded in full with restock at once
MAX_INFLIGHT = 64


@dataclass
class Rates:
    checkouts: float
    logins: float
    reads: float


# The stored 409s of a checkout: no stock, or (resumed late) its reservation lapsed.
REFUSALS = ("out_of_stock", "reservation_expired")


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
        status, body = await post_until_definite(self.client, op, "/payments", customer,
                                                 self.stopping, rng)
        if status is None:
            return  # no definite answer: indeterminate (History.close writes it)
        if status == 201:
            op.payment_id, op.result = body.get("id"), _payment(body)
            self.history.complete(op, "ok", status)
            if rng.random() < REFUND_SHARE:
                await self._refund(str(op.payment_id))
            return
        op.payment_id = body.get("payment_id")
        op.result = {k: body.get(k) for k in ("code", "decline_code", "payment_id")}
        if status != 402 and not (status == 409 and body.get("code") in REFUSALS):
            op.unexpected = f"HTTP {status}: {str(body)[:200]}"
        self.history.complete(op, "fail", status)

    async def _refund(self, payment_id: str) -> None:
        admin = self.world.admin
        op = self.history.new("refund", user=admin.email, key=str(uuid.uuid4()),
                              request={"restock": True}, payment_id=payment_id)
        status, body = await post_until_definite(
            self.client, op, f"/payments/{payment_id}/refunds", admin, self.stopping, self.rng)
        if status is None:
            return
        op.result = {k: body.get(k) for k in ("id", "amount", "restock", "code")}
        if status != 201:
            op.unexpected = f"refund of a succeeded payment: HTTP {status}: {str(body)[:200]}"
        self.history.complete(op, "ok" if status == 201 else "fail", status)

    async def _login(self) -> None:
        customer = self.rng.choice(self.world.customers)
        op = self.history.new("login", user=customer.email)
        op.attempts = 1
        response = await login(self.client, customer, op)
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
