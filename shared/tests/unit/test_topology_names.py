"""The topology's public lists (what the ops CLI walks), without a broker."""

from __future__ import annotations

from shared.messaging import names, topology


def test_public_lists_name_every_queue():
    queues = topology.all_queues()
    assert {s.queue for s in topology.SUBSCRIPTIONS} <= set(queues)
    assert set(topology.dead_letter_queues()) >= {names.dead_letter_queue(q) for q in queues}
    assert "rpc-catalog.dlq" in topology.dead_letter_queues()
    assert "payments.events" in topology.event_exchanges()
