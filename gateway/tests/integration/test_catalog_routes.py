"""Catalog through the gateway of the whole running suite (`suite` fixture, like `make run`)."""

from __future__ import annotations

import asyncio
import uuid

import httpx
import pytest

from gateway.rpc import RpcClient
from tests.security.test_forged_amqp import PlainRpc


@pytest.fixture(scope="module")
def http(suite):
    with httpx.Client(base_url=suite.url, timeout=10) as client:
        yield client


def login(http, email, password):
    response = http.post("/auth/login", json={"email": email, "password": password})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


@pytest.fixture(scope="module")
def admin(http, suite_env):
    return login(http, suite_env["ADMIN_EMAIL"], suite_env["ADMIN_PASSWORD"])


@pytest.fixture(scope="module")
def customer(http):
    email, password = f"shopper-{uuid.uuid4().hex[:8]}@example.com", "correct horse battery"
    assert http.post("/auth/register", json={"email": email, "password": password}
                     ).status_code == 201
    return login(http, email, password)


def new_product(**fields):
    return {"sku": f"SKU-{uuid.uuid4().hex[:12]}", "name": "Walnut desk organiser",
            "description": "Keeps pens in line", "category": "office", "price": 2599,
            "stock": 3, **fields}


def create(http, admin, **fields):
    response = http.post("/products", json=new_product(**fields), headers=admin)
    assert response.status_code == 201, response.text
    return response.json()


def test_crud_with_etags_and_versions(http, admin):
    created = http.post("/products", json=new_product(), headers=admin)
    assert created.status_code == 201, created.text
    product = created.json()
    pid = product["id"]
    assert created.headers["location"] == f"/products/{pid}"
    assert set(product) == {"id", "sku", "name", "description", "category", "price",
                            "currency", "available", "version", "created_at", "updated_at"}
    assert (product["currency"], product["available"], product["version"]) == ("USD", 3, 1)

    got = http.get(f"/products/{pid}")
    assert got.status_code == 200 and got.headers["etag"] == '"1"'
    assert http.get(f"/products/{pid}", headers={"If-None-Match": '"1"'}).status_code == 304

    patched = http.patch(f"/products/{pid}", json={"price": 2999, "category": None},
                         headers={**admin, "If-Match": '"1"'})
    assert patched.status_code == 200, patched.text
    assert (patched.json()["version"], patched.json()["price"]) == (2, 2999)
    assert patched.json()["category"] is None and patched.headers["etag"] == '"2"'
    stale = http.patch(f"/products/{pid}", json={"name": "Late"},
                       headers={**admin, "If-Match": '"1"'})
    assert stale.status_code == 412
    assert stale.headers["content-type"].startswith("application/problem+json")
    # Read-your-writes through this gateway, cache or not.
    assert http.get(f"/products/{pid}").json()["version"] == 2

    assert http.delete(f"/products/{pid}", headers=admin).status_code == 204
    assert http.get(f"/products/{pid}").status_code == 404
    assert http.delete(f"/products/{pid}", headers=admin).status_code == 404
    listed = http.get("/products", params={"category": "office", "limit": 100}).json()["items"]
    assert pid not in {p["id"] for p in listed}


def test_writes_need_an_admin(http, admin, customer):
    pid = create(http, admin)["id"]
    attempts = [("POST", "/products", new_product()), ("PATCH", f"/products/{pid}", {"price": 1}),
                ("DELETE", f"/products/{pid}", None),
                ("POST", f"/products/{pid}/stock", {"delta": 1, "reason": "found"})]
    for method, path, body in attempts:
        anonymous = http.request(method, path, json=body)
        assert anonymous.status_code == 401, (method, path, anonymous.text)
        assert anonymous.headers["www-authenticate"].startswith("Bearer")
        assert http.request(method, path, json=body, headers=customer).status_code == 403
    assert http.get(f"/products/{pid}").json()["version"] == 1
    assert http.get(f"/products/{pid}", headers=customer).status_code == 200


def test_a_plain_amqp_client_cannot_create_products(suite_env):
    async def call():
        # The gateway's own credentials (a caller catalog accepts), but no access token.
        client = RpcClient(suite_env["GATEWAY_AMQP_URI"], timeout=5)
        await client.start()
        try:
            return await client.call("catalog", "create_product", new_product())
        finally:
            await client.stop()

    with pytest.raises(Exception) as caught:
        asyncio.run(call())
    assert type(caught.value).__name__ == "Unauthorized"


def test_bad_input(http, admin):
    sku = create(http, admin)["sku"]
    duplicate = http.post("/products", json=new_product(sku=sku), headers=admin)
    assert duplicate.status_code == 409
    for body in (new_product(owner="me"), new_product(price=19.99), new_product(price="1999"),
                 new_product(currency="usd"), {"name": "no sku", "price": 1}):
        bad = http.post("/products", json=body, headers=admin)
        assert bad.status_code == 422, (body, bad.text)
        assert bad.json()["errors"], bad.text
    assert http.get("/products", params={"limit": 0}).status_code == 422
    assert http.get("/products", params={"limit": 101}).status_code == 422
    assert http.get("/products", params={"cursor": "garbage"}).status_code == 422
    assert http.get(f"/products/{uuid.uuid4()}").status_code == 404
    assert http.get("/products/not-a-uuid").status_code == 404


def test_stock_adjustments_refuse_to_drop_below_reserved(http, admin, suite_env):
    pid = create(http, admin, stock=5)["id"]

    # As payments, the one caller catalog's reservation RPCs accept.
    client = PlainRpc(suite_env["PAYMENTS_AMQP_URI"])
    try:
        reply = client.call("catalog", "reserve_stock", {}, f"gw-{pid}",
                            [{"product_id": pid, "quantity": 4}])
    finally:
        client.close()
    assert reply["result"]["status"] == "active", reply
    assert http.get(f"/products/{pid}").json()["available"] == 1
    refused = http.post(f"/products/{pid}/stock", json={"delta": -2, "reason": "damaged"},
                        headers=admin)
    assert refused.status_code == 409, refused.text
    added = http.post(f"/products/{pid}/stock", json={"delta": 10, "reason": "delivery"},
                      headers=admin)
    assert added.status_code == 200 and added.json()["available"] == 11
    assert http.post(f"/products/{pid}/stock", json={"delta": 0, "reason": "x"},
                     headers=admin).status_code == 422


def test_listing_search_and_pages(http, admin):
    category = f"cat-{uuid.uuid4().hex[:8]}"
    word = f"qux{uuid.uuid4().hex[:6]}"
    ids = [create(http, admin, category=category, name=f"Lamp {i}")["id"] for i in range(5)]
    described = create(http, admin, category=category, description=f"glows like {word}")["id"]
    named = create(http, admin, category=category, name=f"{word} lantern")["id"]
    seen, cursor = [], None
    while True:
        params = {"category": category, "limit": 3, **({"cursor": cursor} if cursor else {})}
        page = http.get("/products", params=params).json()
        seen += [p["id"] for p in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [named, described, *ids[::-1]]
    found = http.get("/products", params={"q": word}).json()["items"]
    assert [p["id"] for p in found] == [named, described]
