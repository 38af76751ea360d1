"""The arguments of the durable queues whose type follows BUS_QUEUE_TYPE (classic or quorum).

An existing queue cannot change type: RabbitMQ refuses a redeclaration with other arguments
(PRECONDITION_FAILED), so every process on a vhost must use the same value, and moving a vhost
from classic to quorum follows docs/operations.md. Handler queues are quorum in both modes
(shared.messaging.topology); reply queues are exclusive classic queues in both.
"""

from __future__ import annotations

from shared.messaging import names
from shared.settings import QueueType, bus_queue_type

# Broker-side safety net: a message redelivered this many times (its consumer died before acking,
# e.g. a handler that crashes the process) is dead-lettered instead of looping forever.
DELIVERY_LIMIT = 10


def rpc_queue_arguments(kind: QueueType | None = None) -> dict[str, object] | None:
    """nameko's `rpc-<svc>`. No dead-lettering: requests carry the caller's timeout as a TTL,
    and an expired request would land in the DLQ; past the limit a poison request is dropped."""
    quorum = {"x-queue-type": "quorum", "x-delivery-limit": DELIVERY_LIMIT}
    return quorum if (kind or bus_queue_type()) == "quorum" else None


def retry_queue_arguments(queue: str, kind: QueueType | None = None) -> dict[str, object]:
    arguments: dict[str, object] = {"x-dead-letter-exchange": names.REQUEUE_EXCHANGE,
                                    "x-dead-letter-routing-key": queue}
    if (kind or bus_queue_type()) == "quorum":
        # A delayed retry is the only copy of its message: hand it back at least once.
        arguments |= {"x-queue-type": "quorum", "x-dead-letter-strategy": "at-least-once",
                      "x-overflow": "reject-publish"}
    return arguments


def dead_letter_queue_arguments(kind: QueueType | None = None) -> dict[str, object] | None:
    return {"x-queue-type": "quorum"} if (kind or bus_queue_type()) == "quorum" else None
