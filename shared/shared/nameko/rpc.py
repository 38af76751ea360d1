"""RPC that cannot crash or hang a service: a drop-in for `nameko.rpc.rpc`, and `ServiceRpc`.

    from shared.nameko.rpc import ServiceRpc, rpc

    class CatalogService(HealthMixin):
        payments = ServiceRpc("payments")            # timeout: RPC_TIMEOUT (5 s)

        @rpc  # type: ignore[untyped-decorator]
        def get_product(self, product_id: str) -> dict[str, Any]: ...

        @rpc(callers=("payments",))  # type: ignore[untyped-decorator]
        def reserve_stock(self, ...) -> ...: ...

`callers` names the components (shared.messaging.identity) whose broker user may call a
method; any other caller gets a typed Forbidden and a warning naming it, and the method is
never run. The service's own user always may (health probes run with it). Without `callers`
a method is public.

A request that cannot be run (no or unknown content_type, undecodable JSON, no `args`/`kwargs`,
a bad `nameko.call_id_stack` header) is parked in `rpc-<service>.dlq`, acked, and answered with
a typed BadRequest when it has a reply_to. Arguments that do not fit the method's signature are
answered with ValidationFailed, an unknown method with BadRequest; the service keeps serving.
All the entrypoints of a service must come from here: nameko's and these would both consume
`rpc-<service>` and answer each other's methods with MethodNotFound.
"""

from __future__ import annotations

import contextlib
import logging
from functools import partial
from typing import Any

import eventlet
from nameko.constants import AMQP_SSL_CONFIG_KEY, AMQP_URI_CONFIG_KEY, LOGIN_METHOD_CONFIG_KEY
from nameko.exceptions import BadRequest as NamekoBadRequest
from nameko.exceptions import IncorrectSignature, MethodNotFound
from nameko.rpc import Rpc, RpcConsumer

from shared.errors import BadRequest, Forbidden, SuiteError, ValidationFailed
from shared.messaging.identity import component_user, connection_user, sender
from shared.messaging.queue_types import rpc_queue_arguments
from shared.nameko import envelope, parking, replies
from shared.nameko.channel import BROKER_ERRORS
from shared.nameko.consumer import DrainingQueueConsumer
from shared.nameko.service_rpc import ServiceRpc
from shared.nameko.shutdown import StopDeadline

__all__ = ["ServiceRpc", "rpc"]

log = logging.getLogger(__name__)

# After a failed park (broker trouble) the message is requeued; wait first so it is not a hot loop.
PARK_RETRY_DELAY = 1.0


class RpcQueueConsumer(DrainingQueueConsumer):
    """Validates each request before kombu or nameko decode it; parks what cannot run."""

    def on_raw_message(self, provider: Any, message: Any) -> None:
        try:
            body = envelope.read_request(message)
        except envelope.Malformed as exc:
            self.container.spawn_managed_thread(
                partial(self._park, provider, message, str(exc)),
                identifier="park-rpc-request")
            return
        self.handle_message(provider, body, message)

    def _park(self, provider: Any, message: Any, reason: str) -> None:
        config = self.container.config
        queue = provider.queue.name
        info = message.delivery_info or {}
        log.warning("parking a malformed RPC request in %s.dlq: %s", queue, reason,
                    extra={"routing_key": info.get("routing_key"),
                           "correlation_id": (message.properties or {}).get("correlation_id")})
        try:
            parking.park(self.amqp_uri, queue, message, reason,
                         ssl=config.get(AMQP_SSL_CONFIG_KEY),
                         login_method=config.get(LOGIN_METHOD_CONFIG_KEY))
        except Exception:
            log.exception("could not park a request from %s; requeueing it", queue)
            eventlet.sleep(PARK_RETRY_DELAY)
            self.requeue_message(message)
            return
        try:
            replies.send_error(provider.reply_channel, message, BadRequest(reason))
        except Exception:
            # Parked already: the caller times out instead of hearing why; nothing is lost.
            log.exception("could not answer a parked request from %s", queue)
        self.ack_message(message)


class SafeRpcConsumer(RpcConsumer):  # type: ignore[misc]
    queue_consumer = RpcQueueConsumer()
    reply_channel: replies.ReplyChannel

    def setup(self) -> None:
        super().setup()
        # nameko's own `rpc-<svc>` declaration, with the bus's queue type (BUS_QUEUE_TYPE).
        self.queue.queue_arguments = rpc_queue_arguments()
        self.reply_channel = replies.ReplyChannel(self.container.config)

    def stop(self) -> None:
        super().stop()
        # Workers still running reopen it for their reply; the process exit closes that one.
        self.reply_channel.close()

    def handle_result(self, message: Any, result: Any, exc_info: Any) -> Any:
        result, exc_info = replies.send_reply(self.reply_channel, message, result, typed(exc_info))
        self.queue_consumer.ack_message(message)
        return result, exc_info


class SafeRpc(Rpc):  # type: ignore[misc]
    rpc_consumer = SafeRpcConsumer()
    stop_deadline = StopDeadline()

    def __init__(self, callers: tuple[str, ...] | None = None, **kwargs: Any) -> None:
        self.callers = callers
        self._allowed: frozenset[str] = frozenset()
        super().__init__(**kwargs)

    def setup(self) -> None:
        if self.callers is not None:
            own = connection_user(self.container.config[AMQP_URI_CONFIG_KEY])
            self._allowed = frozenset({own, *(component_user(c) for c in self.callers)})
        super().setup()

    def handle_message(self, body: Any, message: Any) -> None:
        caller = sender(message.properties)
        if self.callers is not None and caller not in self._allowed:
            self._refuse(message, caller)
            return
        super().handle_message(body, message)

    def _refuse(self, message: Any, caller: str | None) -> None:
        method = f"{self.container.service_name}.{self.method_name}"
        log.warning("refused %s from broker user %s: not an allowed caller", method,
                    caller or "(none)", extra={"caller": caller, "method": method})
        with contextlib.suppress(*BROKER_ERRORS):  # the caller then times out; nothing ran
            replies.send_error(self.rpc_consumer.reply_channel, message,
                               Forbidden(f"{caller or 'an anonymous caller'} may not call "
                                         f"{method}"))
        self.rpc_consumer.queue_consumer.ack_message(message)

    def stop(self) -> None:
        # The first thing container.stop() does; from here the stop is bounded in time.
        self.stop_deadline.arm()
        super().stop()


rpc = SafeRpc.decorator


def typed(exc_info: Any) -> Any:
    """nameko's request errors (IncorrectSignature, MethodNotFound, MalformedRequest) as ours."""
    if exc_info is None or not isinstance(exc_info[1], NamekoBadRequest):
        return exc_info
    exc = exc_info[1]
    error: SuiteError
    if isinstance(exc, IncorrectSignature):
        error = ValidationFailed(f"arguments do not match the method: {exc}")
    elif isinstance(exc, MethodNotFound):
        error = BadRequest(f"no such method: {exc}")
    else:
        error = BadRequest(str(exc))
    return (type(error), error, exc_info[2])
