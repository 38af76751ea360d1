"""The published gateway, driven as a client would (tests/containers)."""

from __future__ import annotations

import secrets
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import httpx

TIMEOUT = 15.0


@dataclass
class Client:
    url: str

    def call(self, method: str, path: str, token: str | None = None, key: str | None = None,
             **kwargs: object) -> httpx.Response:
        headers = {}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        if key:
            headers["Idempotency-Key"] = key
        return httpx.request(method, f"{self.url}{path}", headers=headers, timeout=TIMEOUT,
                             **kwargs)  # type: ignore[arg-type]

    def login(self, email: str, password: str) -> str:
        reply = self.call("POST", "/auth/login", json={"email": email, "password": password})
        assert reply.status_code == 200, reply.text
        return reply.json()["access_token"]  # type: ignore[no-any-return]

    def new_customer(self) -> str:
        email, password = f"c-{secrets.token_hex(4)}@example.com", secrets.token_urlsafe(16)
        reply = self.call("POST", "/auth/register", json={"email": email, "password": password})
        assert reply.status_code == 201, reply.text
        return self.login(email, password)

    def new_product(self, admin: str, price: int = 1999, stock: int = 100) -> dict[str, Any]:
        reply = self.call("POST", "/products", token=admin, json={
            "sku": f"SKU-{secrets.token_hex(4)}", "name": "Container test mug",
            "description": "made in a container", "price": price, "currency": "USD",
            "stock": stock})
        assert reply.status_code == 201, reply.text
        return reply.json()  # type: ignore[no-any-return]

    def checkout(self, token: str, key: str, product_id: str) -> httpx.Response:
        return self.call("POST", "/payments", token=token, key=key, json={
            "items": [{"product_id": product_id, "quantity": 1}], "payment_method": "tok_visa"})


@dataclass
class ReadStream:
    """Catalog reads in a loop (uncached: a fresh `q` each time) until stopped; counts statuses."""

    client: Client
    statuses: Counter[int] = field(default_factory=Counter)
    without_retry_after: list[int] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        n = 0
        while not self._stop.is_set():
            n += 1
            try:
                reply = self.client.call("GET", f"/products?limit=5&q=mug{n}")
            except httpx.HTTPError:
                self.statuses[0] += 1  # no answer at all: counted as a failure
                continue
            self.statuses[reply.status_code] += 1
            if reply.status_code >= 500 and "Retry-After" not in reply.headers:
                self.without_retry_after.append(reply.status_code)
            time.sleep(0.02)

    def __enter__(self) -> ReadStream:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(30)
