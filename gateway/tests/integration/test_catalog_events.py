"""Catalog events end to end in the running suite: payments' events commit and restock
reservations once; catalog events invalidate another gateway's cache; the cache's subscription
survives a broker loss (cache off at once, back and emptied on reconnection)."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import uuid

import httpx
import pika
import pytest

from gateway.cache import ReadCache
from gateway.cache_events import CacheInvalidator
from shared import wire
from tests.security.test_forged_amqp import PlainRpc
from tests.support.faultproxy import FaultProxy
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
    # As payments, the one caller the reservation RPCs accept (its own broker user).
    def call():
        client = PlainRpc(amqp_uri)
        try:
            reply = client.call("catalog", method, {}, *args)
        finally:
            client.close()
        assert reply["error"] is None, reply
        return reply["result"]

    return await asyncio.to_thread(call)


async def _publish(amqp_uri, event_type, payload, times):
    await asyncio.to_thread(_publish_blocking, amqp_uri, event_type, payload, times)


def _publish_blocking(amqp_uri, event_type, payload, times):
    params = pika.URLParameters(amqp_uri)  # payments' own user, as its relay publishes
    connection = pika.BlockingConnection(params)
    try:
        channel = connection.channel()
        channel.confirm_delivery()
        channel.exchange_declare("payments.events", "topic", durable=True)
        for _ in range(times):  # a republished event: byte-identical, same event_id
            channel.basic_publish("payments.events", event_type, wire.dumpb(payload),
                                  pika.BasicProperties(content_type="application/json",
                                                       message_id=payload["event_id"],
                                                       delivery_mode=2,
                                                       user_id=params.credentials.username))
    finally:
        connection.close()


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
    uri = suite_env["PAYMENTS_AMQP_URI"]
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
    from catalog.postgres import PostgresStore
    from catalog.schemas import Reservation
    from shared.db import UnitOfWorkFactory, make_engine

    pid = create(http, admin, stock=2)["id"]
    engine = make_engine(database_urls["catalog"], pool_size=1)
    try:
        request = Reservation.model_validate({"reservation_id": f"ttl-{pid}", "items": [
            {"product_id": pid, "quantity": 2}]})
        with PostgresStore(UnitOfWorkFactory(engine)).transaction() as tx:
            reservations.reserve_stock(tx, request, wire.utcnow(), ttl_seconds=1.0)
    finally:
        engine.dispose()
    assert http.get(f"/products/{pid}").json()["available"] == 0
    wait_for(lambda: http.get(f"/products/{pid}").json()["available"] == 2,
             "the sweeper gave the expired reservation's units back")


def test_the_cache_is_off_while_its_events_connection_is_lost(amqp_uri):
    """The invalidator talks to the broker through a fault proxy: when the proxy drops the
    connection the cache is bypassed at once; once the subscription is back, the cache is
    emptied (events may have been missed) and live again, with no restart."""

    async def scenario(proxy):
        cache = ReadCache(ttl=60)
        invalidator = CacheInvalidator(proxy.uri(amqp_uri), cache)
        await invalidator.start()
        try:
            assert invalidator.subscribed and cache.live
            cache.store_product("p1", "v1", cache.epoch)
            await asyncio.to_thread(proxy.stop)
            await _until(lambda: not cache.live, 2.0)
            assert not invalidator.subscribed
            await asyncio.to_thread(proxy.start)
            await _until(lambda: invalidator.subscribed, 15.0)
            assert cache.live
            return cache.lookup_product("p1")  # emptied: a miss
        finally:
            await invalidator.stop()

    with FaultProxy.for_uri(amqp_uri) as proxy:
        assert asyncio.run(scenario(proxy)) == (None, False)


async def _until(condition, timeout):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"not true within {timeout} s"
        await asyncio.sleep(0.02)


def test_a_catalog_event_invalidates_the_product_it_names(amqp_uri):
    def publish(event_type, body):
        connection = pika.BlockingConnection(pika.URLParameters(amqp_uri))
        try:
            channel = connection.channel()
            channel.basic_publish("catalog.events", event_type, body,
                                  pika.BasicProperties(content_type="application/json"))
        finally:
            connection.close()

    async def scenario():
        cache = ReadCache(ttl=60)
        invalidator = CacheInvalidator(amqp_uri, cache)
        await invalidator.start()
        try:
            for product in ("p1", "p2"):
                cache.store_product(product, "v1", cache.epoch)
            assert _cached(cache, "p1") and _cached(cache, "p2")
            await asyncio.to_thread(publish, "product_updated",
                                    wire.dumpb(event(product_id="p1")))
            await _until(lambda: not _cached(cache, "p1"), 5.0)
            assert _cached(cache, "p2")  # only the named product
            await asyncio.to_thread(publish, "stock_changed", b"not json")
            await _until(lambda: not _cached(cache, "p2"), 5.0)  # which product? everything goes
        finally:
            await invalidator.stop()

    asyncio.run(scenario())


def _cached(cache, product_id):
    return product_id in cache._products.entries
