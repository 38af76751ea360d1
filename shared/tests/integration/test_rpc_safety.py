"""A request nameko cannot run is parked and answered; the service keeps serving (`nameko run`)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))  # importlib mode: helpers beside us
from rpcprobe_support import (
    RawRpc,
    delete_probe_queues,
    eventually,
    running,
    take_parked,
)

from shared.messaging import names

DLQ = "rpc-rpcprobe.dlq"
GOOD = b'{"args": [1, 2], "kwargs": {}}'


@pytest.fixture(scope="module")
def probe(suite_env, amqp_uri, tmp_path_factory):
    delete_probe_queues(amqp_uri)
    env = {**suite_env, "RPCPROBE_LEDGER": str(tmp_path_factory.mktemp("rpc") / "ledger")}
    rpc = RawRpc(amqp_uri)
    log = tmp_path_factory.mktemp("logs") / "rpcprobe.log"
    try:
        with running(env, log, rpc) as process:
            yield rpc, process
    finally:
        rpc.close()
        delete_probe_queues(amqp_uri)


def assert_serving(rpc, process):
    assert process.alive(), process.log.read_text()[-3000:]
    assert rpc.call("rpcprobe", "ping", timeout=30) == {"service": "rpcprobe", "status": "ok"}
    assert rpc.call("rpcprobe", "add", 2, 3, timeout=30) == 5


MALFORMED = {
    "no content_type": (GOOD, None, "no content_type"),
    "garbage JSON": (b'{"args": [1, 2', "application/json", "not valid JSON"),
    "unknown content_type": (GOOD, "application/x-python-serialize", "not supported"),
    "no args/kwargs": (b'{"a": 1}', "application/json", '"args"'),
    "not an object": (b"[1, 2]", "application/json", '"args"'),
    "not utf-8": (b'{"args": ["\xff"], "kwargs": {}}', "application/json", "not valid JSON"),
}


@pytest.mark.parametrize("case", list(MALFORMED))
def test_malformed_request_is_parked_answered_and_the_service_stays_up(probe, case):
    rpc, process = probe
    body, content_type, why = MALFORMED[case]
    correlation_id = rpc.send("rpcprobe.add", body, content_type=content_type,
                              headers={"nameko.request_id": "req-42"})

    reply = rpc.wait(correlation_id)
    assert reply["result"] is None
    assert reply["error"]["exc_type"] == "BadRequest"
    assert reply["error"]["exc_path"] == "shared.errors.BadRequest"
    assert why in reply["error"]["exc_args"][0]

    properties, parked_body = take_parked(rpc, DLQ, correlation_id)
    assert parked_body == body  # byte for byte
    assert properties.content_type == content_type
    assert properties.reply_to == rpc.reply_to
    headers = properties.headers
    assert headers["nameko.request_id"] == "req-42"  # the original headers are kept
    assert why in headers[names.PARKED_ERROR]
    assert headers[names.PARKED_QUEUE] == "rpc-rpcprobe"
    assert headers[names.PARKED_EXCHANGE] == "nameko-rpc"
    assert headers[names.PARKED_ROUTING_KEY] == "rpcprobe.add"
    assert headers[names.PARKED_AT].endswith("Z")
    assert properties.delivery_mode == 2
    assert_serving(rpc, process)


def test_malformed_request_without_reply_to_is_parked_and_nobody_is_answered(probe):
    rpc, process = probe
    correlation_id = rpc.send("rpcprobe.add", b"\x00garbage", content_type=None, reply=False)
    properties, body = take_parked(rpc, DLQ, correlation_id)
    assert body == b"\x00garbage" and properties.reply_to is None
    assert_serving(rpc, process)
    assert correlation_id not in rpc.replies


def test_a_bad_call_id_stack_header_is_parked_instead_of_killing_the_worker(probe):
    rpc, process = probe
    correlation_id = rpc.send("rpcprobe.add", GOOD, headers={"nameko.call_id_stack": 7})
    assert rpc.wait(correlation_id)["error"]["exc_type"] == "BadRequest"
    take_parked(rpc, DLQ, correlation_id)
    assert_serving(rpc, process)


def test_parked_copy_does_not_inherit_the_request_ttl(probe):
    rpc, _ = probe
    correlation_id = rpc.send("rpcprobe.add", b"nope", content_type=None, expiration="1500")
    rpc.wait(correlation_id)
    rpc.pump(3.0)  # well past the request's TTL
    properties, _ = take_parked(rpc, DLQ, correlation_id, timeout=5)
    assert properties.expiration is None


def test_wrong_arguments_and_unknown_methods_get_typed_errors_and_are_not_parked(probe):
    rpc, process = probe
    too_many = rpc.wait(rpc.request("rpcprobe", "add", 1, 2, 3))["error"]
    assert too_many["exc_path"] == "shared.errors.ValidationFailed"
    assert "add()" in too_many["exc_args"][0]
    unknown_kwarg = rpc.wait(rpc.request("rpcprobe", "add", 1, c=2))["error"]
    assert unknown_kwarg["exc_type"] == "ValidationFailed"
    no_method = rpc.wait(rpc.request("rpcprobe", "nope"))["error"]
    assert no_method["exc_path"] == "shared.errors.BadRequest"
    assert "nope" in no_method["exc_args"][0]
    assert rpc.depth(DLQ) == 0
    assert_serving(rpc, process)


def test_a_well_formed_request_without_reply_to_runs_and_does_not_crash(probe):
    rpc, process = probe
    rpc.send("rpcprobe.work", b'{"args": ["fire-and-forget", 0], "kwargs": {}}', reply=False)
    assert_serving(rpc, process)
    ledger = Path(process.env["RPCPROBE_LEDGER"]).with_suffix(".applied")
    assert eventually(lambda: ledger.exists() and "fire-and-forget" in ledger.read_text().split())
