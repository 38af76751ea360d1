"""Catalog events end to end in the running suite: payments' events commit and restock
reservations once; catalog events invalidate another gateway's cache."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import uuid

import aio_pika
import httpx
import pytest

from gateway.rpc import RpcClient
from shared import wire
from tests.support.suite import free_port

DEADLINE = 20.0


@pytest.fixture(scope="module")
def http(suite):
    with httpx.Client(base_url=suite.url, timeout=10) as client:
        yield client


@pytest.fixture(scope="module")
def admin(http, suite_env):
    response = http.post("/auth/login", json={"email": suite_env["ADMIN_EMAIL"],
                                              "password": suite_env["ADMIN_PASSWORD"]})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def create(http, admin, stock):
    response = http.post("/products", headers=admin, json={
        "sku": f"EVT-{uuid.uuid4().hex[:12]}", "name": "Event lamp", "price": 1500,
        "stock": stock})
    assert response.status_code == 201, response.text
    return response.json()


async def _rpc(amqp_uri, method, *args):
    client = RpcClient(amqp_uri, timeout=5)
    await client.start()
    try:
        return await client.call("catalog", method, *args)
    finally:
        await client.stop()


async def _publish(amqp_uri, event_type, payload, times):
    connection = await aio_pika.connect(amqp_uri)
    async with connection:
        channel = await connection.channel(publisher_confirms=True)
        exchange = await channel.declare_exchange("payments.events", "topic", durable=True)
        for _ in range(times):  # a republished event: byte-identical, same event_id
            await exchange.publish(aio_pika.Message(
                wire.dumpb(payload), content_type="application/json",
                message_id=payload["event_id"], delivery_mode=2), routing_key=event_type)


def event(**fields):
    return {"event_id": str(uuid.uuid4()), "occurred_at": wire.utcnow().isoformat(),
            "schema_version": 1, **fields}


def wait_for(check, what):
    deadline = time.monotonic() + DEADLINE
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.1)
    raise AssertionError(f"not within {DEADLINE} s: {what}")


def test_payment_events_commit_then_restock_once(http, admin, suite_env):
    uri = suite_env["AMQP_URI"]
    product = create(http, admin, stock=5)
    pid, payment = product["id"], str(uuid.uuid4())
    asyncio.run(_rpc(uri, "reserve_stock", payment, [{"product_id": pid, "quantity": 2}]))
    succeeded = event(payment_id=payment, user_id=str(uuid.uuid4()), amount=3000,
                      currency="USD", items=[{"product_id": pid, "quantity": 2,
                                              "unit_price": 1500}])
    asyncio.run(_publish(uri, "payment_succeeded", succeeded, times=3))

    def status():
        return asyncio.run(_rpc(uri, "get_reservation", payment))["status"]

    wait_for(lambda: status() == "committed", "payment_succeeded committed the reservation")
    assert http.get(f"/products/{pid}").json()["available"] == 3
    refunded = event(payment_id=payment, refund_id=str(uuid.uuid4()), amount=3000,
                     currency="USD", restock=True)
    asyncio.run(_publish(uri, "payment_refunded", refunded, times=3))
    wait_for(lambda: http.get(f"/products/{pid}").json()["available"] == 5,
             "the refund put the units back")
    time.sleep(1.5)  # the duplicates had time to be (not) applied
    assert asyncio.run(_rpc(uri, "get_product", pid))["available"] == 5


@pytest.fixture
def second_gateway(suite_env, tmp_path):
    """Another gateway process with a long TTL: only events can refresh its cache."""
    port = free_port()
    env = {**suite_env, "GATEWAY_PORT": str(port), "GATEWAY_CACHE_TTL": "60"}
    with (tmp_path / "gateway2.log").open("wb") as log:
        process = subprocess.Popen([sys.executable, "-m", "gateway"], env=env, stdout=log,
                                   stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: _ok(f"{url}/readyz"), "second gateway ready")
        yield url
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(15)


def _ok(url):
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def test_a_patch_through_one_gateway_reaches_another_gateways_cache(http, admin,
                                                                    second_gateway):
    pid = create(http, admin, stock=1)["id"]
    other = httpx.Client(base_url=second_gateway, timeout=10)
    assert other.get(f"/products/{pid}").json()["version"] == 1  # now cached there
    assert other.get(f"/products/{pid}").json()["version"] == 1
    patched = http.patch(f"/products/{pid}", json={"price": 1700}, headers=admin)
    assert patched.status_code == 200
    started = time.monotonic()
    wait_for(lambda: other.get(f"/products/{pid}").json()["version"] == 2,
             "the second gateway serves the new version")
    print(f"second gateway caught up in {1000 * (time.monotonic() - started):.0f} ms")
    listing = other.get("/products", params={"limit": 100}).json()["items"]
    assert any(p["id"] == pid and p["price"] == 1700 for p in listing)
    assert http.delete(f"/products/{pid}", headers=admin).status_code == 204
    wait_for(lambda: other.get(f"/products/{pid}").status_code == 404,
             "the second gateway forgets a deleted product")


def test_the_running_catalogs_sweeper_expires_reservations(http, admin, database_urls):
    """A reservation made with a 1 s TTL (straight through the use case, on the suite's
    database) is expired by the running catalog service's timer, which frees its units."""
    from catalog import reservations
    from catalog.db import CatalogTx
    from catalog.schemas import Reservation
    from shared.db import UnitOfWorkFactory, make_engine

    pid = create(http, admin, stock=2)["id"]
    engine = make_engine(database_urls["catalog"], pool_size=1)
    try:
        request = Reservation.model_validate({"reservation_id": f"ttl-{pid}", "items": [
            {"product_id": pid, "quantity": 2}]})
        with CatalogTx(UnitOfWorkFactory(engine)()) as tx:
            reservations.reserve_stock(tx, request, wire.utcnow(), ttl_seconds=1.0)
    finally:
        engine.dispose()
    assert http.get(f"/products/{pid}").json()["available"] == 0
    wait_for(lambda: http.get(f"/products/{pid}").json()["available"] == 2,
             "the sweeper gave the expired reservation's units back")
