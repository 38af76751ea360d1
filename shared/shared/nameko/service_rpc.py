"""Service-to-service RPC with a timeout (nameko's RpcProxy waits for a reply forever).

`catalog = ServiceRpc("catalog", timeout=2.0)`; in a worker `self.catalog.get_product(pid)`:
- returns the result, or raises the target's typed error (shared.errors) as that class;
- UpstreamTimeout when no reply arrives within the timeout (default: RPC_TIMEOUT, 5 s). The
  request carries the same TTL, so a request nobody picked up in time is never run later;
- ServiceUnavailable when nothing consumes `<target>.*` (mandatory publish + confirms, on one
  long-lived channel per process: shared.nameko.channel) or the broker cannot be reached;
  SuiteError (a bare 500) for any untyped error of the target.
The worker's context (request_id, trace ids, call_id_stack) travels as `nameko.*` headers.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

import amqp
import eventlet
from nameko.extensions import DependencyProvider
from nameko.messaging import HeaderEncoder
from nameko.rpc import ReplyListener, get_rpc_exchange

from shared import wire
from shared.errors import ServiceUnavailable, SuiteError, UpstreamTimeout, error_for_wire
from shared.messaging.identity import component_user, sender
from shared.nameko.channel import BROKER_ERRORS, PublishChannel, Unroutable
from shared.nameko.consumer import DrainingQueueConsumer
from shared.settings import ServiceSettings

log = logging.getLogger(__name__)

_TRANSIENT = 1  # a request outlives neither its TTL nor its caller's wait: nothing to persist


class TimedReplyListener(ReplyListener):  # type: ignore[misc]
    """nameko's reply listener, believing a reply only from the broker user it expects."""

    # Stops and dies within a quarter second, not one (shared.nameko.consumer).
    queue_consumer = DrainingQueueConsumer()

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._senders: dict[str, str] = {}

    def expect(self, correlation_id: str, service: str) -> Any:
        self._senders[correlation_id] = component_user(service)
        return self.get_reply_event(correlation_id)

    def handle_message(self, body: Any, message: Any) -> None:
        correlation_id = message.properties.get("correlation_id")
        expected = self._senders.get(correlation_id)
        if expected is not None and sender(message.properties) != expected:
            # Anyone may publish to a reply key; only the called service's answer counts.
            log.warning("dropped a reply from broker user %s; expected %s",
                        sender(message.properties) or "(none)", expected)
            self.queue_consumer.ack_message(message)
            return
        super().handle_message(body, message)

    def forget(self, correlation_id: str) -> None:
        # A call that timed out must not leave its event behind (nameko's never removes it).
        self._reply_events.pop(correlation_id, None)
        self._senders.pop(correlation_id, None)


class ServiceRpc(DependencyProvider):  # type: ignore[misc]
    reply_listener = TimedReplyListener()

    def __init__(self, target_service: str, timeout: float | None = None) -> None:
        self.target_service = target_service
        self.timeout = timeout
        self._channel: PublishChannel | None = None

    def setup(self) -> None:
        if self.timeout is None:
            self.timeout = ServiceSettings().rpc_timeout
        self._channel = PublishChannel(self.container.config, confirms=True)

    def stop(self) -> None:
        if self._channel is not None:
            self._channel.close()

    def get_dependency(self, worker_ctx: Any) -> ServiceProxy:
        return ServiceProxy(self, worker_ctx)

    def call(self, worker_ctx: Any, method: str, args: tuple[Any, ...],
             kwargs: dict[str, Any]) -> Any:
        assert self._channel is not None and self.timeout is not None, "used before setup()"
        target = f"{self.target_service}.{method}"
        correlation_id = str(uuid.uuid4())
        message = amqp.Message(
            wire.dumpb({"args": list(args), "kwargs": kwargs}), content_type=wire.CONTENT_TYPE,
            content_encoding=wire.CONTENT_ENCODING, correlation_id=correlation_id,
            reply_to=self.reply_listener.routing_key, expiration=str(int(self.timeout * 1000)),
            application_headers=_context_headers(worker_ctx), delivery_mode=_TRANSIENT)
        reply = self.reply_listener.expect(correlation_id, self.target_service)
        timer = eventlet.Timeout(self.timeout)
        try:
            self._channel.publish(message, get_rpc_exchange(self.container.config).name, target,
                                  mandatory=True)
            body = reply.wait()
        except eventlet.Timeout as exc:
            if exc is not timer:
                raise
            raise UpstreamTimeout(f"{target} did not answer within {self.timeout:g} s") from None
        except Unroutable:
            raise ServiceUnavailable(f"nothing serves {target}") from None
        except BROKER_ERRORS:
            raise ServiceUnavailable("message broker unreachable") from None
        finally:
            timer.cancel()
            self.reply_listener.forget(correlation_id)
        return _result(target, body)


class ServiceProxy:
    def __init__(self, provider: ServiceRpc, worker_ctx: Any) -> None:
        self._provider = provider
        self._worker_ctx = worker_ctx

    def __getattr__(self, method: str) -> MethodProxy:
        if method.startswith("_"):
            raise AttributeError(method)
        return MethodProxy(self._provider, self._worker_ctx, method)


class MethodProxy:
    def __init__(self, provider: ServiceRpc, worker_ctx: Any, method: str) -> None:
        self._provider, self._worker_ctx, self.method = provider, worker_ctx, method

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self._provider.call(self._worker_ctx, self.method, args, kwargs)

    def __repr__(self) -> str:
        return f"<ServiceRpc {self._provider.target_service}.{self.method}>"


def _context_headers(worker_ctx: Any) -> dict[str, Any]:
    # nameko's encoder, minus None values (which it would drop with a warning).
    data = {key: value for key, value in worker_ctx.context_data.items() if value is not None}
    return {f"{HeaderEncoder.header_prefix}.{key}": value for key, value in data.items()}


def _result(target: str, body: Any) -> Any:
    if not isinstance(body, dict):
        raise SuiteError(f"malformed reply from {target}")
    error = body.get("error")
    if not error:
        return body.get("result")
    if isinstance(error, dict) and str(error.get("exc_path", "")).startswith("shared.errors."):
        raise error_for_wire(error)
    # An untyped error stays a bare 500 (architecture.md); its type is worth a log line.
    log.warning("%s raised an untyped error", target,
                extra={"exc_type": error.get("exc_type") if isinstance(error, dict) else None})
    raise SuiteError()
