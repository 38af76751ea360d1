"""Concurrent product reads through the running suite are coalesced (ADR 0008) and each request
still gets its own answer: the right product and ETag, 404 for unknown and deleted ids, and the
catalog's log line names every request id the batch served."""

from __future__ import annotations

import asyncio
import uuid

import httpx
import pytest

READERS = 24


@pytest.fixture(scope="module")
def admin(suite, suite_env):
    with httpx.Client(base_url=suite.url, timeout=10) as http:
        response = http.post("/auth/login", json={"email": suite_env["ADMIN_EMAIL"],
                                                  "password": suite_env["ADMIN_PASSWORD"]})
        assert response.status_code == 200, response.text
        return {"Authorization": f"Bearer {response.json()['access_token']}"}


def create_products(url, admin, count):
    with httpx.Client(base_url=url, timeout=10) as http:
        products = []
        for n in range(count):
            response = http.post("/products", headers=admin, json={
                "sku": f"BATCH-{uuid.uuid4().hex[:10]}", "name": f"Batch lamp {n}",
                "price": 1000 + n, "stock": n})
            assert response.status_code == 201, response.text
            products.append(response.json())
        deleted = products.pop()
        assert http.delete(f"/products/{deleted['id']}", headers=admin).status_code == 204
        return products, deleted


async def read_all(url, paths):
    async with httpx.AsyncClient(base_url=url, timeout=10,
                                 limits=httpx.Limits(max_connections=READERS)) as http:
        return await asyncio.gather(*(http.get(path, headers={"X-Request-ID": f"batch-{n}"})
                                      for n, path in enumerate(paths)))


def test_concurrent_reads_each_get_their_own_answer(suite, admin):
    products, deleted = create_products(suite.url, admin, 9)
    unknown = str(uuid.uuid4())
    wanted = [p["id"] for p in products] * 2 + [unknown, deleted["id"]]
    responses = asyncio.run(read_all(suite.url, [f"/products/{pid}" for pid in wanted]))

    by_id = {p["id"]: p for p in products}
    for pid, response in zip(wanted, responses, strict=True):
        if pid in by_id:
            assert response.status_code == 200, response.text
            assert response.json() == by_id[pid]
            assert response.headers["etag"] == f'"{by_id[pid]["version"]}"'
        else:
            assert response.status_code == 404, response.text
            assert response.headers["content-type"].startswith("application/problem+json")
    unknown_problem = responses[wanted.index(unknown)].json()
    assert unknown_problem["detail"] == f"No product {unknown}."
    assert unknown_problem["request_id"] == f"batch-{wanted.index(unknown)}"


def test_the_catalog_log_names_every_request_a_batch_served(suite, admin):
    products, _ = create_products(suite.url, admin, 8)
    for _ in range(20):  # coalescing needs requests in the same loop turn: retry until seen
        paths = [f"/products/{p['id']}" for p in products] * 3
        assert all(r.status_code == 200 for r in asyncio.run(read_all(suite.url, paths)))
        batched = [line for line in suite.log().splitlines()
                   if '"handled get_products"' in line and '"batch-' in line]
        if batched:
            break
    assert batched, "no coalesced read in 20 bursts of 24 concurrent requests"
    line = batched[-1]
    assert '"request_ids":"batch-' in line.replace(" ", "")
