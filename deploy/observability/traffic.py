"""Shop traffic for the pictures (snapshot.py): an admin stocks products, customers read them and
check out (most succeed, some are declined, some find the product sold out), the admin refunds
a few. One checkout carries a known `traceparent`: its trace is the one drawn."""

from __future__ import annotations

import random
import time
import uuid
from typing import Any

import httpx

METHODS = ["tok_visa"] * 8 + ["tok_chargeDeclined", "tok_chargeDeclinedInsufficientFunds"]


class Shop:
    def __init__(self, url: str, admin_email: str, admin_password: str) -> None:
        self.http = httpx.Client(base_url=url, timeout=30)
        self.admin = self._login(admin_email, admin_password)
        self.products = [self._product(stock) for stock in (100000, 100000, 100000, 3)]
        self.customers = [self._customer() for _ in range(4)]
        self.paid: list[str] = []

    def _login(self, email: str, password: str) -> dict[str, str]:
        answer = self.http.post("/auth/login", json={"email": email, "password": password})
        answer.raise_for_status()
        return {"Authorization": f"Bearer {answer.json()['access_token']}"}

    def _product(self, stock: int) -> str:
        answer = self.http.post("/products", headers=self.admin, json={
            "sku": f"SNAP-{uuid.uuid4().hex[:8]}", "name": "Snapshot teapot", "price": 1999,
            "currency": "USD", "stock": stock})
        answer.raise_for_status()
        return str(answer.json()["id"])

    def _customer(self) -> dict[str, str]:
        email, password = f"snap-{uuid.uuid4().hex[:8]}@example.com", uuid.uuid4().hex
        self.http.post("/auth/register", json={"email": email, "password": password})
        return self._login(email, password)

    def checkout(self, method: str | None = None, product: str | None = None,
                 **headers: str) -> httpx.Response:
        answer = self.http.post("/payments", headers={
            **random.choice(self.customers), "Idempotency-Key": uuid.uuid4().hex, **headers},
            json={"items": [{"product_id": product or random.choice(self.products),
                             "quantity": 1}],
                  "payment_method": method or random.choice(METHODS)})
        if answer.status_code == 201:
            self.paid.append(answer.json()["id"])
        return answer

    def refund(self) -> None:
        if self.paid:
            self.http.post(f"/payments/{self.paid.pop()}/refunds", headers={
                **self.admin, "Idempotency-Key": uuid.uuid4().hex}, json={})

    def run(self, seconds: float) -> str:
        """Traffic for `seconds`; the trace id of the checkout sent with a traceparent."""
        trace_id, started, n = uuid.uuid4().hex, time.monotonic(), 0
        traced: Any = None
        while time.monotonic() - started < seconds:
            n += 1
            for _ in range(5):
                self.http.get(f"/products/{random.choice(self.products)}")
            self.http.get("/products?limit=20")
            if traced is None and n > 20:
                traced = self.checkout("tok_visa", self.products[0],
                                       traceparent=f"00-{trace_id}-{uuid.uuid4().hex[:16]}-01")
            else:
                self.checkout()
            if n % 12 == 0:
                self.refund()
            time.sleep(0.05)
        return trace_id
