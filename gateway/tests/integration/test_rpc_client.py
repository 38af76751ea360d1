"""gateway.rpc.RpcClient against the real broker (throwaway vhost) and a real nameko service,
on asyncio's loop and on uvloop (what the gateway runs on); gateway.amqp.parameters."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import ssl
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import pika
import pytest
import uvloop

from gateway.amqp import HEARTBEAT, parameters
from gateway.rpc import RpcClient
from shared.errors import NotFound, ServiceUnavailable, SuiteError, UpstreamTimeout
from tests.support.faultproxy import FaultProxy

Scenario = Callable[[RpcClient], Awaitable[Any]]


def with_client(uri: str, scenario: Scenario, timeout: float = 5.0, loop: str = "asyncio") -> Any:
    async def main() -> Any:
        client = RpcClient(uri, timeout)
        await client.start()
        assert client.connected
        try:
            return await scenario(client)
        finally:
            await client.stop()

    return uvloop.run(main()) if loop == "uvloop" else asyncio.run(main())


async def timed(call: Awaitable[Any]) -> tuple[BaseException | None, float]:
    started = time.monotonic()
    try:
        await call
    except BaseException as error:  # the error is what the test inspects
        return error, time.monotonic() - started
    return None, time.monotonic() - started


def test_ping(amqp_uri, probe):
    reply = with_client(amqp_uri, lambda client: client.call("probe", "ping"))

    assert reply == {"service": "probe", "status": "ok"}


def test_arguments_cross_as_wire_json(amqp_uri, probe):
    ident = uuid.uuid4()
    moment = dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC)

    reply = with_client(amqp_uri, lambda client: client.call(
        "probe", "echo", ident, 1999, at=moment, tags={"a"}))

    assert reply == {"args": [str(ident), 1999],
                     "kwargs": {"at": "2026-01-02T03:04:05Z", "tags": ["a"]}}


def test_an_unknown_service_is_503_at_once(amqp_uri, probe):
    error, elapsed = with_client(amqp_uri, lambda client: timed(
        client.call("no_such_service", "ping", timeout=5.0)))

    assert isinstance(error, ServiceUnavailable)
    assert error.status == 503
    assert elapsed < 2.0  # not the 5 s timeout: the broker returned it (ms; slack for a busy box)


def test_a_call_past_its_timeout_is_504_at_the_timeout(amqp_uri, probe):
    async def scenario(client: RpcClient) -> tuple[Any, float, Any]:
        error, elapsed = await timed(client.call("probe", "sleep", 3, timeout=1.0))
        # The late reply (in 2 s) must not confuse the next calls.
        after = await client.call("probe", "echo", "next")
        return error, elapsed, after

    error, elapsed, after = with_client(amqp_uri, scenario)

    assert isinstance(error, UpstreamTimeout)
    assert error.status == 504
    assert 0.95 <= elapsed < 2.0
    assert after == {"args": ["next"], "kwargs": {}}


def test_the_client_default_timeout_applies(amqp_uri, probe):
    error, elapsed = with_client(
        amqp_uri, lambda client: timed(client.call("probe", "sleep", 3)), timeout=1.0)

    assert isinstance(error, UpstreamTimeout)
    assert 0.95 <= elapsed < 2.0


def test_a_typed_error_arrives_typed(amqp_uri, probe):
    error, _ = with_client(amqp_uri, lambda client: timed(client.call("probe", "find", "42")))

    assert type(error) is NotFound
    assert error.status == 404
    assert error.detail == "No product 42."


def test_any_other_error_arrives_as_a_bare_500(amqp_uri, probe):
    error, _ = with_client(amqp_uri, lambda client: timed(client.call("probe", "crash")))

    assert type(error) is SuiteError
    assert error.status == 500
    assert "hunter2" not in str(error.to_problem())


def test_an_unknown_method_is_an_error_answer_not_a_timeout(amqp_uri, probe):
    # The service's queue takes every `probe.*` key, so the service itself answers.
    error, elapsed = with_client(amqp_uri, lambda client: timed(
        client.call("probe", "no_such_method", timeout=5.0)))

    assert isinstance(error, SuiteError)
    assert error.status < 500 or type(error) is SuiteError  # a typed refusal or a bare 500
    assert elapsed < 2.0


def test_the_request_id_reaches_the_service(amqp_uri, probe):
    seen = with_client(amqp_uri, lambda client: client.call(
        "probe", "context_seen", context={"request_id": "req-abc-123", "trace_id": ""}))

    assert seen["request_id"] == "req-abc-123"
    assert seen["trace_id"] is None  # empty values are not sent


def test_the_request_id_is_in_the_service_log(amqp_uri, probe):
    with_client(amqp_uri, lambda client: client.call(
        "probe", "echo", context={"request_id": "req-in-the-log"}))

    assert '"request_id":"req-in-the-log"' in wait_for_log(probe, "req-in-the-log")


def wait_for_log(probe, text: str, timeout: float = 10.0) -> str:
    deadline = time.monotonic() + timeout
    while text not in probe.log() and time.monotonic() < deadline:
        time.sleep(0.1)
    return probe.log()


def test_concurrent_calls_each_get_their_own_reply(amqp_uri, probe):
    async def scenario(client: RpcClient) -> list[Any]:
        return await asyncio.gather(*(client.call("probe", "echo", i) for i in range(100)))

    replies = with_client(amqp_uri, scenario)

    assert [reply["args"] for reply in replies] == [[i] for i in range(100)]


@pytest.fixture
def proxy(amqp_uri):
    with FaultProxy.for_uri(amqp_uri) as running:
        yield running


def test_losing_the_broker_fails_calls_fast_and_the_client_reconnects(amqp_uri, probe, proxy):
    """The client talks to the broker through the proxy; the probe service talks to it directly."""

    async def scenario(client: RpcClient) -> dict[str, Any]:
        in_flight = asyncio.ensure_future(timed(client.call("probe", "sleep", 3, timeout=5.0)))
        await asyncio.sleep(0.5)
        await asyncio.to_thread(proxy.stop)
        result: dict[str, Any] = {"in_flight": await in_flight}
        result["while_down"] = await timed(client.call("probe", "ping"))
        await asyncio.to_thread(proxy.start)
        result["reconnected_after"] = await until(lambda: client.connected, 15.0)
        result["after"] = await client.call("probe", "ping")
        return result

    result = with_client(proxy.uri(amqp_uri), scenario)

    error, elapsed = result["in_flight"]
    assert isinstance(error, ServiceUnavailable)
    assert elapsed < 2.0  # the connection loss, not the 5 s timeout
    error, elapsed = result["while_down"]
    assert isinstance(error, ServiceUnavailable)
    assert elapsed < 0.5
    assert result["reconnected_after"] < 15.0
    assert result["after"] == {"service": "probe", "status": "ok"}


async def until(condition: Callable[[], bool], timeout: float) -> float:
    started = time.monotonic()
    while not condition():
        if time.monotonic() - started > timeout:
            raise AssertionError(f"not true within {timeout} s")
        await asyncio.sleep(0.05)
    return time.monotonic() - started


def test_a_stale_request_is_not_run_once_the_service_is_back(amqp_uri, make_probe):
    """nameko's rpc queue is durable: a request sent while the service is down waits in it.
    It expires with the caller's timeout instead of running later (a charge nobody awaits)."""
    name = f"probe_{uuid.uuid4().hex[:8]}"
    probe = make_probe(name)
    probe.start()  # declares the durable queue
    probe.stop()

    stale, elapsed = with_client(amqp_uri, lambda client: timed(
        client.call(name, "record", "stale", timeout=1.0)))
    assert isinstance(stale, UpstreamTimeout)  # queued, not returned: 504, not 503
    assert 0.95 <= elapsed < 2.0

    probe.start()  # answers a ping, so everything queued before the ping was delivered

    async def scenario(client: RpcClient) -> list[str]:
        await client.call(name, "record", "fresh")
        return await client.call(name, "recorded")

    assert with_client(amqp_uri, scenario) == ["fresh"]


def test_a_service_is_back_soon_after_a_long_broker_outage(amqp_uri, make_probe, proxy):
    """The service talks to the broker through the proxy. kombu's default reconnect back-off
    grows to 30 s between attempts: without a cap, a service came back up to 30 s after the
    broker did (after a 13 s outage: 7 s), every call meanwhile a 504."""
    name = f"probe_{uuid.uuid4().hex[:8]}"
    probe = make_probe(name, proxy.uri(amqp_uri))
    probe.start()

    proxy.stop()
    time.sleep(13.0)  # kombu would retry at 2, 6, 12, then 20 s
    proxy.start()

    async def scenario(client: RpcClient) -> float:
        started = time.monotonic()
        while True:
            try:
                await client.call(name, "ping", timeout=0.5)
            except UpstreamTimeout:
                assert time.monotonic() - started < 20.0, probe.log()[-3000:]
                continue
            return time.monotonic() - started

    assert with_client(amqp_uri, scenario) < 5.0


class Capture:
    """A queue bound on nameko-rpc for `<service>.*`, read with a blocking pika connection:
    what the client publishes, and a way to answer it like nameko would (or not)."""

    def __init__(self, amqp_uri: str) -> None:
        self.service = f"capture_{uuid.uuid4().hex[:8]}"
        params = pika.URLParameters(amqp_uri)
        # A test-only service on the tests' broker user: the client believes its replies only
        # when told that is who the service is (shared.messaging.identity).
        self.user = str(params.credentials.username)
        os.environ[f"{self.service.upper()}_BUS_USER"] = self.user
        self.connection = pika.BlockingConnection(params)
        self.channel = self.connection.channel()
        self.channel.exchange_declare("nameko-rpc", "topic", durable=True)
        self.queue = self.channel.queue_declare("", exclusive=True).method.queue
        self.channel.queue_bind(self.queue, "nameko-rpc", routing_key=f"{self.service}.*")

    def take(self, timeout: float = 5.0) -> tuple[Any, Any, bytes]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            method, properties, body = self.channel.basic_get(self.queue, auto_ack=True)
            if method is not None:
                return method, properties, body
            time.sleep(0.02)
        raise AssertionError("no request published")

    def answer(self, properties: Any, body: bytes) -> None:
        self.channel.basic_publish("nameko-rpc", properties.reply_to, body, pika.BasicProperties(
            correlation_id=properties.correlation_id, content_type="application/json",
            user_id=self.user))

    def close(self) -> None:
        self.connection.close()


@pytest.fixture
def capture(amqp_uri):
    running = Capture(amqp_uri)
    yield running
    running.close()


@pytest.mark.parametrize("loop", ["asyncio", "uvloop"])
def test_the_request_on_the_wire_and_the_replies_it_may_get(amqp_uri, capture, loop):
    async def scenario(client: RpcClient) -> dict[str, Any]:
        out: dict[str, Any] = {"reply_to": client.reply_to}
        call = asyncio.ensure_future(timed(client.call(
            capture.service, "do", 1, "a", x=None, timeout=2.5,
            context={"request_id": "req-1", "call_id_stack": ""})))
        out["request"] = await asyncio.to_thread(capture.take)
        properties = out["request"][1]
        await asyncio.to_thread(capture.answer, properties, b"{not json")
        out["malformed"] = await call
        call = asyncio.ensure_future(client.call(capture.service, "do"))
        _, properties, _ = await asyncio.to_thread(capture.take)
        await asyncio.to_thread(capture.answer, properties, b'{"result": 7, "error": null}')
        out["answered"] = await call
        return out

    out = with_client(amqp_uri, scenario, loop=loop)

    method, properties, body = out["request"]
    assert method.exchange == "nameko-rpc" and method.routing_key == f"{capture.service}.do"
    assert properties.content_type == "application/json"
    assert properties.content_encoding == "utf-8"
    assert properties.user_id == capture.user  # who is calling, as the broker verified
    assert properties.correlation_id and properties.message_id == properties.correlation_id
    assert properties.reply_to == out["reply_to"]
    assert properties.headers == {"nameko.request_id": "req-1"}  # empty values left out
    assert properties.expiration == "2500"  # the timeout: not run later by anyone
    assert properties.delivery_mode == 1
    assert body == b'{"args":[1,"a"],"kwargs":{"x":null}}'
    error, elapsed = out["malformed"]
    assert type(error) is SuiteError and error.status == 500 and elapsed < 2.0
    assert out["answered"] == 7


def test_the_client_works_on_uvloop(amqp_uri, probe, proxy):
    """The gateway runs uvicorn --loop uvloop: pika's adapter uses add_reader/add_writer."""

    async def scenario(client: RpcClient) -> dict[str, Any]:
        result: dict[str, Any] = {"ping": await client.call("probe", "ping")}
        result["unknown"] = await timed(client.call("no_such_service", "ping"))
        result["timeout"] = await timed(client.call("probe", "sleep", 3, timeout=0.5))
        await asyncio.to_thread(proxy.stop)
        await until(lambda: not client.connected, 2.0)
        result["while_down"] = await timed(client.call("probe", "ping"))
        await asyncio.to_thread(proxy.start)
        await until(lambda: client.connected, 15.0)
        result["after"] = await client.call("probe", "echo", "again")
        return result

    result = with_client(proxy.uri(amqp_uri), scenario, loop="uvloop")

    assert result["ping"] == {"service": "probe", "status": "ok"}
    error, elapsed = result["unknown"]
    assert isinstance(error, ServiceUnavailable) and elapsed < 2.0
    error, elapsed = result["timeout"]
    assert isinstance(error, UpstreamTimeout) and 0.45 <= elapsed < 1.5
    error, elapsed = result["while_down"]
    assert isinstance(error, ServiceUnavailable) and elapsed < 0.5
    assert result["after"] == {"args": ["again"], "kwargs": {}}


def test_calls_with_no_broker_at_all_are_503_at_once():
    async def scenario() -> tuple[bool, tuple[BaseException | None, float]]:
        client = RpcClient("amqp://guest:guest@127.0.0.1:1/", timeout=5.0)
        await client.start(wait=0.5)
        try:
            return client.connected, await timed(client.call("probe", "ping"))
        finally:
            await client.stop()

    connected, (error, elapsed) = asyncio.run(scenario())

    assert not connected
    assert isinstance(error, ServiceUnavailable) and elapsed < 0.1


def test_parameters_from_the_uri():
    plain = parameters("amqp://u:p@broker:5673/v%2Fh?heartbeat=10&name=gw")
    assert (plain.host, plain.port, plain.virtual_host) == ("broker", 5673, "v/h")
    assert plain.credentials.username == "u" and plain.credentials.password == "p"
    assert plain.heartbeat == 10 and plain.ssl_options is None
    assert plain.client_properties == {"connection_name": "gw"}
    assert parameters("amqp://broker/").heartbeat == HEARTBEAT

    tls = parameters("amqps://broker/vh").ssl_options
    assert tls.context.verify_mode == ssl.CERT_REQUIRED and tls.context.check_hostname
    assert tls.server_hostname is None  # pika then checks the URI's host name
    assert parameters("amqps://broker/vh").port == 5671
    unchecked = parameters("amqps://broker/vh?no_verify_ssl=1").ssl_options.context
    assert unchecked.verify_mode == ssl.CERT_NONE and not unchecked.check_hostname
    with pytest.raises(ValueError):
        parameters("amqp://broker/vh?cafile=/ca.pem")  # TLS options without TLS
    with pytest.raises(FileNotFoundError):
        parameters("amqps://broker/vh?cafile=/no/such/ca.pem")  # at start-up, not later


def test_a_deleted_reply_queue_is_declared_again(amqp_uri, probe):
    """The broker cancels the consumer of a deleted queue; the client reconnects and declares
    its reply queue again instead of waiting for replies that can no longer arrive."""

    async def scenario(client: RpcClient) -> tuple[float, Any]:
        assert client._link.channel is not None
        client._link.channel.queue_delete(f"rpc.reply-{client.reply_to}")
        await until(lambda: not client.connected, 2.0)
        back_after = await until(lambda: client.connected, 5.0)
        return back_after, await client.call("probe", "ping")

    back_after, reply = with_client(amqp_uri, scenario)

    assert back_after < 5.0
    assert reply == {"service": "probe", "status": "ok"}
