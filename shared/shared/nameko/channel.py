"""One long-lived publishing channel per use per service process (RPC replies, RPC requests).

nameko's Publisher takes a producer from kombu's pool, wraps every publish in `ensure` and
serialises through kombu: py-spy put that at about a sixth of a trivial call's CPU in a service.
Green threads share this channel under a lock (a frame must go out whole, and a confirm must be
read by the thread that waits for it). Any error inside a publish, a timeout included, drops the
connection; the next publish opens a fresh one, and a publish that met a dead connection is
tried once more on a fresh one (a broker restart since the last publish).
No heartbeat: the channel only writes, and a dead connection shows up as an error on the next
write.
"""

from __future__ import annotations

import contextlib
from typing import Any

import amqp
import kombu.exceptions
from eventlet.semaphore import Semaphore
from kombu.connection import Connection
from nameko.constants import AMQP_SSL_CONFIG_KEY, AMQP_URI_CONFIG_KEY, LOGIN_METHOD_CONFIG_KEY

from shared.messaging.identity import connection_user

BROKER_ERRORS = (kombu.exceptions.OperationalError, amqp.exceptions.AMQPError, OSError)
CONNECT_TIMEOUT = 2.0


class Unroutable(Exception):
    """A mandatory message came back: no queue is bound for its routing key."""


class PublishChannel:
    def __init__(self, config: dict[str, Any], confirms: bool = False) -> None:
        self._config = config
        self._confirms = confirms
        self._lock = Semaphore()
        self._connection: Connection | None = None
        self._channel: Any = None
        self._returned = False
        # Stamped on every message; the broker checks it against the login (docs/security.md).
        self.user = connection_user(config[AMQP_URI_CONFIG_KEY])

    def publish(self, message: amqp.Message, exchange: str, routing_key: str,
                mandatory: bool = False) -> None:
        """Raises Unroutable (confirms + mandatory only) or one of BROKER_ERRORS."""
        message.properties["user_id"] = self.user
        with self._lock:
            try:
                self._publish(message, exchange, routing_key, mandatory)
            except BROKER_ERRORS:  # dropped already: once more on a fresh connection
                self._publish(message, exchange, routing_key, mandatory)

    def close(self) -> None:
        with self._lock:
            self._drop()

    def _publish(self, message: amqp.Message, exchange: str, routing_key: str,
                 mandatory: bool) -> None:
        self._returned = False
        try:
            channel = self._channel or self._open()
            if self._confirms:
                # RabbitMQ sends basic.return before the basic.ack of the same message.
                channel.basic_publish_confirm(message, exchange=exchange,
                                              routing_key=routing_key, mandatory=mandatory)
            else:
                channel.basic_publish(message, exchange=exchange, routing_key=routing_key,
                                      mandatory=mandatory)
        except BaseException:
            # Half opened, half a frame written or a confirm unread: never reuse it.
            self._drop()
            raise
        if self._returned:
            raise Unroutable(routing_key)

    def _open(self) -> Any:
        config = self._config
        self._connection = Connection(  # type: ignore[no-untyped-call]
            config[AMQP_URI_CONFIG_KEY], ssl=config.get(AMQP_SSL_CONFIG_KEY),
            login_method=config.get(LOGIN_METHOD_CONFIG_KEY), heartbeat=0,
            connect_timeout=CONNECT_TIMEOUT)
        self._channel = self._connection.default_channel
        if self._confirms:  # confirm mode is selected by the first basic_publish_confirm
            self._channel.events["basic_return"].add(self._on_return)
        return self._channel

    def _on_return(self, *_: Any) -> None:
        self._returned = True

    def _drop(self) -> None:
        connection, self._connection, self._channel = self._connection, None, None
        if connection is not None:
            with contextlib.suppress(*BROKER_ERRORS):
                connection.release()  # type: ignore[no-untyped-call]
