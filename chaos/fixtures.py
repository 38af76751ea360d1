"""Before the faults: an admin token, products with known initial stock, customer accounts."""

from __future__ import annotations

import asyncio
import random
import secrets
from dataclasses import dataclass, field
from typing import Any

import httpx

PASSWORD_BYTES = 18


@dataclass
class Customer:
    email: str
    password: str
    token: str = ""
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


@dataclass
class World:
    products: dict[str, int]  # product id -> initial stock
    customers: list[Customer]
    admin: Customer


async def call(client: httpx.AsyncClient, method: str, path: str, tries: int = 30,
               **kwargs: Any) -> httpx.Response:
    """For setup only (no faults yet): retry transient failures, return the first answer."""
    for attempt in range(tries):
        try:
            response = await client.request(method, path, **kwargs)
            if response.status_code < 500:
                return response
        except httpx.TransportError:
            pass
        await asyncio.sleep(min(0.2 * 2 ** attempt, 2.0))
    raise RuntimeError(f"{method} {path}: no answer during setup")


async def login(client: httpx.AsyncClient, email: str, password: str) -> dict[str, Any]:
    response = await call(client, "POST", "/auth/login",
                          json={"email": email, "password": password})
    response.raise_for_status()
    return dict(response.json())


async def make_world(client: httpx.AsyncClient, admin: tuple[str, str], rng: random.Random,
                     products: int, customers: int, scarce_stock: int) -> World:
    boss = Customer(*admin)
    boss.token = (await login(client, *admin))["access_token"]
    auth = {"Authorization": f"Bearer {boss.token}"}
    stocks: dict[str, int] = {}
    for n in range(products):
        # One scarce product runs out during the run: out-of-stock answers are exercised too.
        stock = scarce_stock if n == 0 else 1_000_000
        body = {"sku": f"CHAOS-{n}-{secrets.token_hex(3).upper()}", "name": f"Chaos item {n}",
                "price": rng.randrange(100, 20_000), "stock": stock, "category": "chaos"}
        response = await call(client, "POST", "/products", json=body, headers=auth)
        response.raise_for_status()
        stocks[response.json()["id"]] = stock
    people: list[Customer] = []
    for n in range(customers):
        person = Customer(f"customer{n}-{secrets.token_hex(3)}@chaos.test",
                          secrets.token_urlsafe(PASSWORD_BYTES))
        response = await call(client, "POST", "/auth/register",
                              json={"email": person.email, "password": person.password})
        response.raise_for_status()
        person.token = (await login(client, person.email, person.password))["access_token"]
        people.append(person)
    return World(stocks, people, boss)
