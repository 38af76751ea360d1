"""ServiceRpc: bounded waits, typed errors across hops, context propagation (`nameko run`).

rpcprobe calls rpcpeer with `ServiceRpc("rpcpeer", timeout=1.0)` and `ServiceRpc("rpcpeer")`
(RPC_TIMEOUT), and a service nobody runs.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))  # importlib mode: helpers beside us
from rpcprobe_support import RawRpc, delete_probe_queues, running

TIMEOUT = 1.0
DEFAULT_TIMEOUT = 2.0  # RPC_TIMEOUT, for ServiceRpc("rpcpeer") without a timeout


@pytest.fixture(scope="module")
def probe(suite_env, amqp_uri, tmp_path_factory):
    delete_probe_queues(amqp_uri)
    env = {**suite_env, "RPCPROBE_LEDGER": str(tmp_path_factory.mktemp("rpc") / "ledger"),
           "RPCPROBE_PEER_TIMEOUT": str(TIMEOUT), "RPC_TIMEOUT": str(DEFAULT_TIMEOUT)}
    rpc = RawRpc(amqp_uri)
    log = tmp_path_factory.mktemp("logs") / "rpcprobe.log"
    try:
        with running(env, log, rpc) as process:
            yield rpc, process
    finally:
        rpc.close()
        delete_probe_queues(amqp_uri)


def test_no_reply_within_the_timeout_raises_upstream_timeout_at_about_the_timeout(probe):
    rpc, process = probe
    outcome = rpc.call("rpcprobe", "timed", "peer", "sleep", 5)
    assert outcome["error"] == "UpstreamTimeout"
    assert "rpcpeer.sleep" in outcome["detail"]
    # Never early; late only by scheduling noise on a busy machine, and well before the peer's 5 s.
    assert TIMEOUT <= outcome["elapsed"] < TIMEOUT + 2.5
    # The late reply, when it comes, is dropped and the proxy keeps working.
    rpc.pump(5.0)
    assert rpc.call("rpcprobe", "timed", "peer", "sleep", 0)["result"] == 0
    assert process.alive()


def test_a_timed_out_call_reaches_the_caller_as_a_typed_504(probe):
    rpc, _ = probe
    error = rpc.wait(rpc.request("rpcprobe", "relay", "sleep", 5))["error"]
    assert error["exc_path"] == "shared.errors.UpstreamTimeout"


def test_a_service_nobody_runs_is_service_unavailable_at_once(probe):
    rpc, _ = probe
    outcome = rpc.call("rpcprobe", "timed", "nobody", "anything")
    assert outcome["error"] == "ServiceUnavailable"
    assert outcome["elapsed"] < TIMEOUT  # answered by the broker's return, not the timer


def test_typed_errors_cross_two_hops_as_the_same_class(probe):
    rpc, _ = probe
    error = rpc.wait(rpc.request("rpcprobe", "relay", "missing", "sock"))["error"]
    assert error["exc_path"] == "shared.errors.NotFound"
    assert error["exc_args"] == ["no sock here", [{"field": "thing", "message": "unknown"}], {}]


def test_an_untyped_error_becomes_a_bare_suite_error_without_its_text(probe):
    rpc, _ = probe
    error = rpc.wait(rpc.request("rpcprobe", "relay", "broken"))["error"]
    assert error["exc_path"] == "shared.errors.SuiteError"
    assert "internal detail" not in str(error)


def test_the_callers_context_travels_to_the_target(probe):
    rpc, _ = probe
    correlation_id = rpc.send("rpcprobe.relay", b'{"args": ["whoami"], "kwargs": {}}',
                              headers={"nameko.request_id": "req-7", "nameko.trace_id": "t-1"})
    reply = rpc.wait(correlation_id)
    assert reply["error"] is None
    assert reply["result"]["request_id"] == "req-7"
    assert reply["result"]["trace_id"] == "t-1"


def test_without_a_timeout_argument_rpc_timeout_applies(probe):
    rpc, _ = probe
    outcome = rpc.call("rpcprobe", "timed", "peer_default", "sleep", 6)
    assert outcome["error"] == "UpstreamTimeout"
    assert DEFAULT_TIMEOUT <= outcome["elapsed"] < DEFAULT_TIMEOUT + 2.5
