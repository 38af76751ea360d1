"""suite-ops without a broker: ids, replay targets, header clean-up, queue names, tables."""

from __future__ import annotations

import pika
import pytest

from shared.messaging import names, topology
from shared.ops import Refusal
from shared.ops.parked import Parked
from shared.ops.queues import resolve_dlqs, suite_queues
from shared.ops.render import table

PARKED_RPC = {
    names.PARKED_ERROR: "the body is not valid JSON", names.PARKED_ATTEMPTS: 1,
    names.PARKED_QUEUE: "rpc-catalog", names.PARKED_EXCHANGE: "nameko-rpc",
    names.PARKED_ROUTING_KEY: "catalog.get_product", names.PARKED_AT: "2026-01-01T00:00:00Z",
}


def parked(queue="rpc-catalog.dlq", body=b"{", **props):
    return Parked(queue, 1, pika.BasicProperties(**props), body)


def test_the_id_is_message_id_else_correlation_id_else_a_stable_hash():
    assert parked(message_id="m", correlation_id="c").id == "m"
    assert parked(correlation_id="c").id == "c"
    anonymous = parked(headers=PARKED_RPC)
    assert anonymous.id.startswith("sha-") and anonymous.id == parked(headers=PARKED_RPC).id
    assert anonymous.id != parked(body=b"other", headers=PARKED_RPC).id


def test_replay_goes_where_the_parking_headers_say():
    assert parked(headers=PARKED_RPC).target() == ("nameko-rpc", "catalog.get_product")
    event = {**PARKED_RPC, names.PARKED_EXCHANGE: "", names.PARKED_ROUTING_KEY: "evt-q"}
    assert parked("evt-q.dlq", headers=event).target() == ("", "evt-q")


def test_a_message_the_broker_dead_lettered_goes_back_to_its_own_queue_only():
    dead = parked("evt-q.dlq", headers={"x-death": [{"queue": "evt-q", "exchange": "p.events"}]})
    assert dead.target() == ("", "evt-q")


def test_replay_keeps_the_original_message_but_not_its_parking_history():
    headers = {**PARKED_RPC, "nameko.request_id": "r-1", "x-death": [{"count": 3}],
               "x-first-death-queue": "q", "x-last-death-reason": "rejected"}
    props = parked(headers=headers, correlation_id="c", reply_to="rq", content_type=None,
                   priority=3, delivery_mode=2).replay_properties()
    assert props.headers == {"nameko.request_id": "r-1"}
    assert (props.correlation_id, props.reply_to, props.content_type) == ("c", "rq", None)
    assert props.priority == 3 and props.delivery_mode == 2


def test_summary_is_json_ready_even_for_binary_bodies():
    row = parked(body=b"\xff\x00", headers={**PARKED_RPC, "x-bytes": b"raw"}).summary()
    assert row["body_base64"] == "/wA=" and "body" not in row
    assert row["headers"]["x-bytes"] == "raw" and row["error"] == PARKED_RPC[names.PARKED_ERROR]


def test_queues_can_be_named_by_dlq_or_source_and_unknown_ones_are_refused():
    assert resolve_dlqs("rpc-catalog") == resolve_dlqs("rpc-catalog.dlq") == ["rpc-catalog.dlq"]
    assert resolve_dlqs(None) == topology.dead_letter_queues()
    for bad in ("rpc-nobody", "rpc-catalog.retry", ""):
        with pytest.raises(Refusal, match="unknown queue"):
            resolve_dlqs(bad)


def test_status_covers_every_queue_with_its_dlq_and_retry_queue():
    queues = suite_queues()
    assert queues[:2] == ["rpc-auth", "rpc-auth.dlq"]
    for queue in topology.all_queues():
        assert {queue, names.retry_queue(queue), names.dead_letter_queue(queue)} <= set(queues)
    assert set(topology.dead_letter_queues()) <= set(queues)


def test_tables_align_columns_and_show_missing_values_as_dashes():
    assert table(["A", "LONGER"], [["xyz", None], ["q", 12]]).splitlines() == [
        "A    LONGER", "xyz  -", "q    12"]
