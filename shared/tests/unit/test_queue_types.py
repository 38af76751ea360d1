"""BUS_QUEUE_TYPE: `classic` (the default) declares exactly what the suite declared before it;
`quorum` adds the quorum arguments; any other value stops the process with one line."""

from __future__ import annotations

import pytest

from shared.messaging import names
from shared.messaging.queue_types import (
    DELIVERY_LIMIT,
    dead_letter_queue_arguments,
    retry_queue_arguments,
    rpc_queue_arguments,
)
from shared.settings import ConfigurationError, bus_queue_type

QUEUE = "evt-payments-payment_succeeded--catalog.on_payment_succeeded"


def test_classic_is_the_default_and_declares_what_it_always_did(monkeypatch):
    monkeypatch.delenv("BUS_QUEUE_TYPE", raising=False)
    assert bus_queue_type() == "classic"
    assert rpc_queue_arguments() is None  # nameko's own declaration, untouched
    assert dead_letter_queue_arguments() is None
    assert retry_queue_arguments(QUEUE) == {"x-dead-letter-exchange": names.REQUEUE_EXCHANGE,
                                            "x-dead-letter-routing-key": QUEUE}


def test_quorum_makes_every_durable_queue_a_quorum_queue(monkeypatch):
    monkeypatch.setenv("BUS_QUEUE_TYPE", "quorum")
    assert rpc_queue_arguments() == {"x-queue-type": "quorum",
                                     "x-delivery-limit": DELIVERY_LIMIT}
    assert dead_letter_queue_arguments() == {"x-queue-type": "quorum"}
    retry = retry_queue_arguments(QUEUE)
    assert retry["x-queue-type"] == "quorum"
    assert retry["x-dead-letter-strategy"] == "at-least-once"
    assert retry["x-dead-letter-routing-key"] == QUEUE


def test_an_explicit_kind_wins_over_the_environment(monkeypatch):
    monkeypatch.setenv("BUS_QUEUE_TYPE", "quorum")
    assert rpc_queue_arguments("classic") is None


def test_an_unknown_queue_type_stops_the_process_naming_the_variable(monkeypatch):
    monkeypatch.setenv("BUS_QUEUE_TYPE", "mirrored")
    with pytest.raises(ConfigurationError, match="BUS_QUEUE_TYPE"):
        bus_queue_type()
