"""Helpers for the messaging tests: a throwaway vhost + database per test, the test-only
services (msgtest_service.py) as real `nameko run` processes, and raw broker access.

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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import pika
from msgtables import metadata, outbox
from sqlalchemy import Engine, Table, func, select
from sqlalchemy.orm import Session

from shared.db import make_engine
from shared.messaging.outbox import record_event
from tests.support import infra

HERE = Path(__file__).resolve().parent
NAMEKO = Path(sys.executable).parent / "nameko"

def succeeded(**extra: Any) -> dict[str, Any]:
    return {"payment_id": str(uuid.uuid4()), "user_id": str(uuid.uuid4()), "amount": 1999,
            "currency": "USD", "items": [{"product_id": str(uuid.uuid4()), "quantity": 1,
                                          "unit_price": 1999}], **extra}


def failed(decline_code: str = "card_declined") -> dict[str, Any]:
    return {"payment_id": str(uuid.uuid4()), "user_id": str(uuid.uuid4()),
            "decline_code": decline_code}


def wait_for(predicate: Callable[[], Any], timeout: float = 60.0, what: str = "condition",
             interval: float = 0.1) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(interval)


@dataclass
class MsgEnv:
    amqp_uri: str
    db_url: str
    engine: Engine
    tmp: Path
    processes: list[Service] = field(default_factory=list)

    def record(self, event_type: str, fields: dict[str, Any]) -> str:
        with Session(self.engine) as session, session.begin():
            return str(record_event(session, outbox, "payments", event_type, fields))

    def count(self, table: Table, **where: str) -> int:
        query = select(func.count()).select_from(table).where(
            *(table.c[key] == value for key, value in where.items()))
        with self.engine.connect() as conn:
            return int(conn.execute(query).scalar_one())

    def unpublished(self) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(outbox).where(
                outbox.c.published_at.is_(None))).scalar_one())

    def start(self, spec: str = "msgtest_service:MsgSubscriber", amqp_uri: str | None = None,
              **env: str) -> Service:
        service = Service(self, spec, amqp_uri or self.amqp_uri, env)
        self.processes.append(service)
        return service


class Service:
    """`nameko run <spec>` in its own session, logging to a file; always killed at teardown."""

    def __init__(self, msg: MsgEnv, spec: str, amqp_uri: str, env: dict[str, str]) -> None:
        self.log = msg.tmp / f"{spec.split(':')[1]}-{len(msg.processes)}.log"
        full_env = {**os.environ, "AMQP_URI": amqp_uri, "MSGTEST_DATABASE_URL": msg.db_url,
                    "PYTHONPATH": os.pathsep.join(filter(None, [str(HERE),
                                                                os.environ.get("PYTHONPATH")])),
                    "PYTHONWARNINGS": "ignore",
                    # The test publishers stand in for payments, on the tests' broker user.
                    "PAYMENTS_BUS_USER": unquote(urlsplit(amqp_uri).username or "guest"),
                    **env}
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                [str(NAMEKO), "run", "--config", str(HERE / "msgtest.yaml"), spec], cwd=HERE,
                env=full_env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)

    def alive(self) -> bool:
        return self.proc.poll() is None

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-4000:]

    def kill9(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(30)

    def terminate(self) -> None:
        if self.alive():
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.kill9()


class Broker:
    """A blocking pika client on the test's vhost, for raw publishing and inspection."""

    def __init__(self, amqp_uri: str) -> None:
        params = pika.URLParameters(amqp_uri)
        self.user = str(params.credentials.username)
        self.connection = pika.BlockingConnection(params)
        self.channel = self.connection.channel()
        self.channel.confirm_delivery()

    def publish(self, exchange: str, routing_key: str, body: bytes,
                properties: pika.BasicProperties) -> None:
        # As the publishing service would: user_id = the login (the broker checks it).
        properties.user_id = properties.user_id or self.user
        self.channel.basic_publish(exchange, routing_key, body, properties)

    def counts(self, queue: str) -> tuple[int, int]:
        """(messages ready, consumers)"""
        method = self.channel.queue_declare(queue, passive=True).method
        return method.message_count, method.consumer_count

    def take_all(self, queue: str) -> list[tuple[Any, bytes]]:
        """Every ready message of `queue` as (properties, body), acked."""
        taken = []
        while True:
            method, properties, body = self.channel.basic_get(queue, auto_ack=True)
            if method is None:
                return taken
            taken.append((properties, body))

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.connection.close()


def wait_consuming(broker: Broker, service: Service, queues: list[str],
                   timeout: float = 60.0) -> None:
    def ready() -> bool:
        assert service.alive(), f"service exited:\n{service.output()}"
        with contextlib.suppress(pika.exceptions.ChannelClosedByBroker):
            return all(broker.counts(queue)[1] > 0 for queue in queues)
        broker.channel = broker.connection.channel()  # a passive declare of a missing queue
        broker.channel.confirm_delivery()
        return False
    wait_for(ready, timeout, f"consumers on {queues}")


@contextlib.contextmanager
def msg_environment(tmp: Path) -> Iterator[MsgEnv]:
    name = infra.unique("msg")
    amqp_uri = infra.create_vhost(name)
    db_url = infra.create_database(name)
    engine = make_engine(db_url, pool_size=4)
    env = MsgEnv(amqp_uri, db_url, engine, tmp)
    try:
        metadata.create_all(engine)
        yield env
    finally:
        for process in env.processes:
            process.kill9()
        engine.dispose()
        infra.drop_database(name)
        infra.delete_vhost(name)
