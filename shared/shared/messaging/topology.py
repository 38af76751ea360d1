"""Every event subscription in the suite, and the broker topology they need, declared up front.

nameko declares a handler's queue only when the subscribing service starts, so an event published
before then is routed nowhere and lost. Here the whole topology is data: every service declares
ALL of it at startup, and `deploy/local/prepare.py` declares it before any service runs, so
whichever process comes first, every queue already exists.

Adding a subscription: add a `Subscription` row to `SUBSCRIPTIONS`, then decorate the method of
the same name with `@event_handler(source, event_type)` (shared.nameko.events) in the subscribing
service. A handler that is not listed here refuses to start.

Public API (the ops CLI relies on it): `SUBSCRIPTIONS`, `subscriptions()`, `find()`,
`event_exchanges()`, `all_queues()`, `dead_letter_queues()`, `declare_topology(connection)`.
"""

from __future__ import annotations

from dataclasses import dataclass

from kombu.connection import Connection
from kombu.entity import Exchange, Queue

from shared.messaging import names
from shared.messaging.queue_types import (
    DELIVERY_LIMIT,
    dead_letter_queue_arguments,
    retry_queue_arguments,
)
from shared.settings import QueueType, bus_queue_type

# Services that publish events (exchange `<svc>.events`) and serve RPC (queue `rpc-<svc>`).
SERVICES = ("auth", "catalog", "payments")


@dataclass(frozen=True)
class Subscription:
    source: str  # publishing service: exchange `<source>.events`
    event_type: str  # routing key
    service: str  # subscribing service
    method: str  # its handler method

    @property
    def exchange(self) -> str:
        return names.event_exchange(self.source)

    @property
    def queue(self) -> str:
        return names.handler_queue(self.source, self.event_type, self.service, self.method)


# EVERY subscription in the suite. Add new ones here (see the module docstring).
SUBSCRIPTIONS: tuple[Subscription, ...] = (
    # A payment that succeeded commits the stock reservation it paid for.
    Subscription("payments", "payment_succeeded", "catalog", "on_payment_succeeded"),
    # A refund with restock puts the items back.
    Subscription("payments", "payment_refunded", "catalog", "on_payment_refunded"),
    # payments may subscribe to catalog events later, e.g.
    # Subscription("catalog", "product_deleted", "payments", "on_product_deleted"),
)

# Only test-only services (shared/tests) add to this, through `register()`.
_extra: list[Subscription] = []


def register(subscription: Subscription) -> None:
    """For test-only services. Real subscriptions belong in SUBSCRIPTIONS, where prepare.py
    and every other service see them."""
    if subscription not in subscriptions():
        _extra.append(subscription)


def subscriptions() -> tuple[Subscription, ...]:
    return SUBSCRIPTIONS + tuple(_extra)


def find(source: str, event_type: str, service: str, method: str) -> Subscription:
    wanted = Subscription(source, event_type, service, method)
    if wanted not in subscriptions():
        raise LookupError(
            f"{service}.{method} handles {source}.events/{event_type} but is not in "
            f"shared.messaging.topology.SUBSCRIPTIONS; add {wanted!r} there")
    return wanted


def event_exchanges() -> list[str]:
    sources = set(SERVICES) | {s.source for s in subscriptions()}
    return sorted(names.event_exchange(source) for source in sources)


def all_queues() -> list[str]:
    """Every event handler queue (not the RPC queues, which nameko declares)."""
    return sorted({s.queue for s in subscriptions()})


def rpc_queues() -> list[str]:
    return [names.rpc_queue(service) for service in SERVICES]


def dead_letter_queues() -> list[str]:
    """Every DLQ: one per handler queue and one per RPC queue (`rpc-<svc>.dlq`)."""
    return sorted(names.dead_letter_queue(q) for q in all_queues() + rpc_queues())


def handler_queue_arguments(queue: str) -> dict[str, object]:
    # Identical on every declaration: RabbitMQ refuses a redeclaration with other arguments.
    return {"x-queue-type": "quorum", "x-delivery-limit": DELIVERY_LIMIT,
            "x-dead-letter-exchange": names.DLX, "x-dead-letter-routing-key": queue}


def exchange(name: str, kind: str = "topic") -> Exchange:
    return Exchange(name, type=kind, durable=True)  # type: ignore[no-untyped-call]


def handler_queue(sub: Subscription) -> Queue:
    """The kombu Queue of a subscription, as declared (consumers reuse it)."""
    return Queue(sub.queue, exchange(sub.exchange), routing_key=sub.event_type,  # type: ignore[no-untyped-call]
                 durable=True, queue_arguments=handler_queue_arguments(sub.queue))


def _queue(name: str, on: Exchange, key: str, arguments: dict[str, object] | None) -> Queue:
    return Queue(name, on, routing_key=key, durable=True,  # type: ignore[no-untyped-call]
                 queue_arguments=arguments)


def _entities(kind: QueueType) -> list[Exchange | Queue]:
    dlx, retry = exchange(names.DLX, "direct"), exchange(names.RETRY_EXCHANGE, "direct")
    requeue = exchange(names.REQUEUE_EXCHANGE, "direct")
    entities: list[Exchange | Queue] = [dlx, retry, requeue]
    entities += [exchange(name) for name in event_exchanges()]
    for sub in sorted(set(subscriptions()), key=lambda s: s.queue):
        entities.append(handler_queue(sub))
        # Also bound on the requeue exchange under its own name: where its retry queue returns
        # a message once the delay is over.
        entities.append(Queue(sub.queue, requeue, routing_key=sub.queue, durable=True,  # type: ignore[no-untyped-call]
                              queue_arguments=handler_queue_arguments(sub.queue)))
        # The retry queue holds a message for its per-message TTL, then dead-letters it back to
        # the handler queue through the requeue exchange.
        entities.append(_queue(names.retry_queue(sub.queue), retry, sub.queue,
                               retry_queue_arguments(sub.queue, kind)))
    for queue in all_queues() + rpc_queues():
        entities.append(_queue(names.dead_letter_queue(queue), dlx, queue,
                               dead_letter_queue_arguments(kind)))
    return entities


def declare_topology(connection: Connection, kind: QueueType | None = None) -> None:
    """Declare every exchange, handler queue, retry queue and DLQ (idempotent), as `kind`
    (default: BUS_QUEUE_TYPE)."""
    channel = connection.channel()  # type: ignore[no-untyped-call]
    try:
        for entity in _entities(kind or bus_queue_type()):
            entity.bind(channel).declare()
    finally:
        channel.close()
