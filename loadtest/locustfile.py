"""Locust scenarios with the benchmark's mix, against any gateway: `--host https://...`.

    make loadtest-install
    .venv-loadtest/bin/locust -f loadtest/locustfile.py --host http://127.0.0.1:8000

Each simulated customer registers once (a fresh address), signs in, then browses, searches,
signs in again now and then, checks out with a fresh Idempotency-Key and reads its overview.
Checkouts need products in stock: with LOCUST_ADMIN_EMAIL and LOCUST_ADMIN_PASSWORD set, a few
are created at the start (LOCUST_PRODUCTS, stock LOCUST_STOCK each); otherwise the ones the
catalog already has (`make demo`) are used. The gateway's rate limits apply (429 counts as a
failure): run the suite with RATE_LIMIT_ENABLED=false, or raise its budgets, for heavy loads.
"""

from __future__ import annotations

import os
import random
import uuid
from typing import Any

from locust import HttpUser, between, events, task
from locust.env import Environment

PASSWORD = "locust-" + uuid.uuid4().hex  # every simulated customer's, for this run only
SEARCHES = ("chair", "oak", "kettle", "jacket", "lightweight", "tent")
products: list[dict[str, Any]] = []


@events.test_start.add_listener
def stock_the_shelves(environment: Environment, **_: Any) -> None:
    host = environment.host or ""
    email, password = os.environ.get("LOCUST_ADMIN_EMAIL"), os.environ.get("LOCUST_ADMIN_PASSWORD")
    import requests  # locust's own dependency; a plain client outside the measured requests

    with requests.Session() as http:
        if email and password:
            token = http.post(f"{host}/auth/login", json={"email": email, "password": password},
                              timeout=30).json()["access_token"]
            for _ in range(int(os.environ.get("LOCUST_PRODUCTS", "5"))):
                made = http.post(f"{host}/products", timeout=30,
                                 headers={"Authorization": f"Bearer {token}"},
                                 json={"sku": f"LOAD-{uuid.uuid4().hex[:12]}",
                                       "name": "Load test mug", "price": 999, "currency": "USD",
                                       "stock": int(os.environ.get("LOCUST_STOCK", "100000"))})
                made.raise_for_status()
                products.append(made.json())
        else:
            page = http.get(f"{host}/products?limit=100", timeout=30).json()
            products.extend(p for p in page["items"] if p.get("available", 0) > 0)


class Customer(HttpUser):
    wait_time = between(0.05, 0.3)

    def on_start(self) -> None:
        self.email = f"locust-{uuid.uuid4().hex}@example.com"
        self.client.post("/auth/register", json={"email": self.email, "password": PASSWORD},
                         name="/auth/register")
        self.sign_in()

    def sign_in(self) -> None:
        answer = self.client.post("/auth/login", json={"email": self.email, "password": PASSWORD},
                                  name="/auth/login")
        token = answer.json().get("access_token", "") if answer.ok else ""
        self.auth = {"Authorization": f"Bearer {token}"}

    @task(6)
    def browse(self) -> None:
        page = self.client.get("/products?limit=20", name="/products").json()
        if page.get("items"):
            product = random.choice(page["items"])
            self.client.get(f"/products/{product['id']}", name="/products/{id}")

    @task(2)
    def search(self) -> None:
        self.client.get(f"/products?q={random.choice(SEARCHES)}", name="/products?q=")

    @task(1)
    def login(self) -> None:
        self.sign_in()

    @task(2)
    def checkout(self) -> None:
        if not products:
            return
        product = random.choice(products)
        self.client.post("/payments", name="/payments",
                         headers={**self.auth, "Idempotency-Key": str(uuid.uuid4())},
                         json={"items": [{"product_id": product["id"], "quantity": 1}],
                               "payment_method": "tok_visa"})

    @task(2)
    def overview(self) -> None:
        self.client.get("/me/overview", headers=self.auth, name="/me/overview")
