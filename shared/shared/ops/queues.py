"""Which queues the suite declares (from the topology registry), and which of them are DLQs."""

from __future__ import annotations

from shared.messaging import names, topology
from shared.ops import Refusal


def suite_queues() -> list[str]:
    """Every queue, each consuming queue followed by its retry queue (if any) and its DLQ."""
    handler_queues = topology.all_queues()
    queues: list[str] = []
    for queue in topology.rpc_queues() + handler_queues:
        queues.append(queue)
        if queue in handler_queues:
            queues.append(names.retry_queue(queue))
        queues.append(names.dead_letter_queue(queue))
    return queues


def dead_letter_queues() -> list[str]:
    return topology.dead_letter_queues()


def resolve_dlqs(name: str | None) -> list[str]:
    """The DLQ an operator means (`rpc-catalog.dlq` or just `rpc-catalog`); all when None."""
    known = dead_letter_queues()
    if name is None:
        return known
    for candidate in (name, names.dead_letter_queue(name)):
        if candidate in known:
            return [candidate]
    raise Refusal(f"unknown queue {name!r}: not a dead-letter queue of the suite "
                  "(`suite-ops status` lists them)")
