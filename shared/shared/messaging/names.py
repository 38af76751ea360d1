"""Names of every exchange and queue the suite declares: one place, so the relay, the consumers,
the ops CLI and operators all agree.

For a consuming queue Q:
- its dead letters go to exchange DLX with routing key Q, into queue `Q.dlq`;
- delayed retries go to exchange RETRY with routing key Q, into queue `Q.retry`, which
  dead-letters back to Q through exchange REQUEUE (key Q) when a message's TTL runs out: not
  through the default exchange, which no service user may write to (docs/security.md).
Parked messages carry the PARKED_* headers.
"""

from __future__ import annotations

RPC_EXCHANGE = "nameko-rpc"
DLX = "suite.dlx"
RETRY_EXCHANGE = "suite.retry"
REQUEUE_EXCHANGE = "suite.requeue"

PARKED_ERROR = "x-suite-error"
PARKED_ATTEMPTS = "x-suite-attempts"
PARKED_QUEUE = "x-suite-original-queue"
PARKED_EXCHANGE = "x-suite-original-exchange"
PARKED_ROUTING_KEY = "x-suite-original-routing-key"
PARKED_AT = "x-suite-parked-at"
# On a retried or parked copy (which the subscriber itself republishes): who published the
# original, as its verified `user_id` said.
ORIGINAL_USER = "x-suite-original-user"


def event_exchange(source_service: str) -> str:
    return f"{source_service}.events"


def handler_queue(source_service: str, event_type: str, service: str, method: str) -> str:
    # Same shape as nameko's own event handler queues, so operators recognise them.
    return f"evt-{source_service}-{event_type}--{service}.{method}"


def rpc_queue(service: str) -> str:
    return f"rpc-{service}"


def dead_letter_queue(queue: str) -> str:
    return f"{queue}.dlq"


def retry_queue(queue: str) -> str:
    return f"{queue}.retry"
