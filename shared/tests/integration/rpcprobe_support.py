"""Helpers for the RPC, shutdown and ops CLI tests: a raw AMQP RPC client (pika) and a
`nameko run` subprocess that is always stopped, even when a test fails.

Test modules import this after putting this directory on sys.path (pytest runs with
--import-mode=importlib, which does not).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import pika

from shared import wire

HERE = Path(__file__).resolve().parent
NAMEKO = Path(sys.executable).parent / "nameko"
ROOT = HERE.parents[2]
# `nameko run` argument -> service name
SERVICES = {"rpcprobe_service:ProbeService": "rpcprobe", "rpcprobe_service:PeerService": "rpcpeer"}
RELAY = "rpcprobe_service:RelayService"  # needs RPCPROBE_DATABASE_URL
CATALOG = "catalog.service:CatalogService"
CONFIGS = {CATALOG: ROOT / "services" / "catalog" / "config.yaml"}
NAMES = {**SERVICES, CATALOG: "catalog", RELAY: "rpcrelay"}


def eventually(predicate: Callable[[], bool], timeout: float = 30.0) -> bool:
    """Poll `predicate` until it holds or `timeout` runs out (the machine is shared: be patient)."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


class RawRpc:
    """Speaks nameko's RPC protocol byte for byte, so a test can also send what nameko would not."""

    def __init__(self, amqp_uri: str) -> None:
        self.connection = pika.BlockingConnection(pika.URLParameters(amqp_uri))
        self.channel = self.connection.channel()
        self.channel.exchange_declare("nameko-rpc", "topic", durable=True)
        self.reply_to = f"test-{uuid.uuid4().hex}"
        queue = self.channel.queue_declare(f"rpc.reply-{self.reply_to}", exclusive=True,
                                           auto_delete=True).method.queue
        self.channel.queue_bind(queue, "nameko-rpc", routing_key=self.reply_to)
        self.replies: dict[str, list[dict[str, Any]]] = {}
        self.channel.basic_consume(queue, self._on_reply, auto_ack=True)

    def _on_reply(self, channel, method, properties, body) -> None:
        self.replies.setdefault(properties.correlation_id, []).append(wire.loads(body))

    def send(self, routing_key: str, body: bytes, *, content_type: str | None = wire.CONTENT_TYPE,
             reply: bool = True, headers: dict[str, Any] | None = None,
             expiration: str | None = None) -> str:
        correlation_id = str(uuid.uuid4())
        properties = pika.BasicProperties(
            content_type=content_type, correlation_id=correlation_id, headers=headers,
            reply_to=self.reply_to if reply else None, delivery_mode=2, expiration=expiration)
        self.channel.basic_publish("nameko-rpc", routing_key, body, properties)
        return correlation_id

    def request(self, service: str, method: str, *args: Any, **kwargs: Any) -> str:
        body = wire.dumpb({"args": list(args), "kwargs": kwargs})
        return self.send(f"{service}.{method}", body)

    def wait(self, correlation_id: str, timeout: float = 30.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while correlation_id not in self.replies:
            if time.monotonic() > deadline:
                raise TimeoutError(f"no reply to {correlation_id} within {timeout} s")
            self.connection.process_data_events(time_limit=0.1)
        return self.replies[correlation_id][0]

    def call(self, service: str, method: str, *args: Any, timeout: float = 30.0) -> Any:
        reply = self.wait(self.request(service, method, *args), timeout)
        assert reply["error"] is None, reply["error"]
        return reply["result"]

    def pump(self, seconds: float) -> None:
        self.connection.process_data_events(time_limit=seconds)

    def depth(self, queue: str) -> int:
        return self.channel.queue_declare(queue, passive=True).method.message_count

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.connection.close()


def bus_users(amqp_uri: str) -> dict[str, str]:
    user = unquote(urlsplit(amqp_uri).username or "guest")
    return {f"{name.upper()}_BUS_USER": user for name in ("rpcprobe", "rpcpeer", "rpcrelay")}


class NamekoProcess:
    """`nameko run` of the probe services (or the catalog service), in its own session, logging
    to a file."""

    def __init__(self, env: dict[str, str], log: Path, services: tuple[str, ...] = tuple(SERVICES)):
        config = CONFIGS.get(services[0], HERE / "rpcprobe.yaml")
        self.log = log
        self.services = services
        self.env = env
        env = {**env, "PYTHONPATH": os.pathsep.join(filter(None, [str(HERE),
                                                                  env.get("PYTHONPATH")])),
               # The probe services run on the tests' broker user; callers must know that.
               **bus_users(env.get("AMQP_URI", ""))}
        with log.open("ab") as out:
            self.proc = subprocess.Popen(
                [str(NAMEKO), "run", "--config", str(config), *services],
                cwd=HERE, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)

    def alive(self) -> bool:
        return self.proc.poll() is None

    def wait_ready(self, rpc: RawRpc, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        pending = [NAMES[spec] for spec in self.services]
        while pending:
            assert self.alive(), f"nameko run exited: {self.log.read_text()[-3000:]}"
            assert time.monotonic() < deadline, f"not ready: {self.log.read_text()[-3000:]}"
            try:
                rpc.call(pending[0], "ping", timeout=2)
                pending.pop(0)
            except TimeoutError:
                pass

    def terminate(self, timeout: float = 20.0) -> float:
        """SIGTERM; returns how long the process took to exit."""
        started = time.monotonic()
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(timeout)
        return time.monotonic() - started

    def cleanup(self) -> None:
        if self.alive():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)


@contextlib.contextmanager
def running(env: dict[str, str], log: Path, rpc: RawRpc,
            services: tuple[str, ...] = tuple(SERVICES)) -> Iterator[NamekoProcess]:
    process = NamekoProcess(env, log, services)
    try:
        process.wait_ready(rpc)
        yield process
    finally:
        process.cleanup()


PROBE_QUEUES = ("rpc-rpcprobe", "rpc-rpcpeer", "rpc-rpcprobe.dlq", "rpc-rpcpeer.dlq")


def delete_probe_queues(amqp_uri: str) -> None:
    """Start from empty queues: the session's vhost is shared by every test module."""
    connection = pika.BlockingConnection(pika.URLParameters(amqp_uri))
    try:
        channel = connection.channel()
        for queue in PROBE_QUEUES:
            channel.queue_delete(queue)
    finally:
        connection.close()


def take_parked(rpc: RawRpc, dlq: str, correlation_id: str, timeout: float = 30.0):
    """Remove from `dlq` and return (properties, body) of the copy parked for `correlation_id`;
    every other message goes back to the queue."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found, last_tag = None, None
        while found is None:
            method, properties, body = rpc.channel.basic_get(dlq, auto_ack=False)
            if method is None:
                break
            if properties.correlation_id == correlation_id:
                rpc.channel.basic_ack(method.delivery_tag)
                found = (properties, body)
            else:
                last_tag = method.delivery_tag  # the last one not acked: nacked below
        if last_tag is not None:
            rpc.channel.basic_nack(last_tag, multiple=True, requeue=True)
        if found is not None:
            return found
        rpc.pump(0.2)
    raise TimeoutError(f"nothing parked in {dlq} for {correlation_id}")
