"""W3C trace context, spans, OTLP export through the SDK and the gateway's edge (no suite)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from concurrent import futures

import grpc
import pytest
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2_grpc
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from starlette.requests import Request
from starlette.testclient import TestClient

from gateway.app import create_app
from gateway.config import GatewaySettings
from gateway.upstream import context_of
from shared import tracing
from shared.nameko.backlog import owned_dead_letter_queues
from shared.nameko.metrics import metrics_port
from tests.observability.support import Collector, eventually, span_of

TRACE, SPAN = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
VALID = f"00-{TRACE}-{SPAN}-01"


@pytest.mark.parametrize(("value", "expected"), [
    (VALID, (TRACE, SPAN, True)),
    (f"00-{TRACE}-{SPAN}-00", (TRACE, SPAN, False)),
    (f"00-{TRACE}-{SPAN}-03", (TRACE, SPAN, True)),  # unknown flags: only "sampled" counts
    (f"cc-{TRACE}-{SPAN}-01-future-fields", (TRACE, SPAN, True)),  # a later version
    (f" {VALID} ", (TRACE, SPAN, True)),
])
def test_a_valid_traceparent_is_read(value, expected):
    assert tracing.parse_traceparent(value) == expected


@pytest.mark.parametrize("value", [
    None, "", "garbage", VALID[:-1], f"{VALID}-extra",  # version 00 has exactly four fields
    f"ff-{TRACE}-{SPAN}-01", f"00-{'0' * 32}-{SPAN}-01", f"00-{TRACE}-{'0' * 16}-01",
    f"00-{TRACE.upper()}-{SPAN}-01", f"00-{TRACE}-{SPAN}-0g", f"00_{TRACE}_{SPAN}_01",
    f"0-{TRACE}-{SPAN}-01", f"00-{TRACE}1-{SPAN}-01", f"cc-{TRACE}-{SPAN}-01x",
])
def test_a_malformed_traceparent_is_refused(value):
    assert tracing.parse_traceparent(value) is None


def test_a_span_continues_the_callers_trace_with_a_new_span_id():
    span = tracing.start_span("payments.checkout", tracing.SERVER, VALID)
    assert (span.trace_id, span.parent_id, span.sampled) == (TRACE, SPAN, True)
    assert re.fullmatch(r"[0-9a-f]{16}", span.span_id) and span.span_id != SPAN
    assert span.traceparent == f"00-{TRACE}-{span.span_id}-01"
    child = tracing.start_span("catalog.reserve_stock", tracing.SERVER, span.traceparent)
    assert (child.trace_id, child.parent_id) == (TRACE, span.span_id)
    unsampled = tracing.start_span("x", tracing.SERVER, f"00-{TRACE}-{SPAN}-00")
    assert unsampled.traceparent.endswith("-00")


def test_without_a_valid_traceparent_a_new_trace_starts():
    first = tracing.start_span("x", tracing.SERVER, "nonsense")
    second = tracing.start_span("x", tracing.SERVER, None)
    assert first.parent_id is None and re.fullmatch(r"[0-9a-f]{32}", first.trace_id)
    assert first.trace_id != second.trace_id
    # A caller that sent only a W3C trace id keeps it; anything else is not a trace id.
    assert tracing.start_span("x", tracing.SERVER, None, trace_id=TRACE).trace_id == TRACE
    assert tracing.start_span("x", tracing.SERVER, None, trace_id="t-1").trace_id != "t-1"


def test_without_an_endpoint_the_sdk_is_not_even_imported():
    script = ("import os, sys; from shared import tracing; tracing.configure('x'); "
              "s = tracing.start_span('x', tracing.SERVER); s.end(); "
              "from opentelemetry import trace; "
              "print(tracing.exporting(), s.recording, s.otel is None, "
              "any(m.startswith(('opentelemetry.sdk', 'opentelemetry.instrumentation', "
              "'opentelemetry.exporter', 'shared.otlp')) for m in sys.modules), "
              "type(trace.get_tracer_provider()).__name__)")
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         check=True, timeout=60, env=env).stdout.split()
    assert out == ["False", "False", "True", "False", "ProxyTracerProvider"]


@pytest.fixture
def exported(monkeypatch: pytest.MonkeyPatch) -> Iterator[Collector]:
    with Collector() as collector:
        tracing.shutdown()
        for name, value in {"OTEL_EXPORTER_OTLP_ENDPOINT": collector.url + "/",
                            "OTEL_EXPORTER_OTLP_HEADERS": "x-api-key=s%3Dcret",
                            "OTEL_EXPORTER_OTLP_COMPRESSION": "gzip",
                            "OTEL_RESOURCE_ATTRIBUTES": "deployment.environment=test",
                            "OTEL_BSP_SCHEDULE_DELAY": "100"}.items():
            monkeypatch.setenv(name, value)
        tracing.configure("catalog")
        try:
            yield collector
        finally:
            tracing.shutdown()


def test_finished_spans_are_posted_as_otlp_protobuf(exported: Collector):
    span = tracing.start_span("catalog.get_product", tracing.SERVER, VALID)
    span.end("NotFound", {"suite.status": 404, "suite.request_id": "r-1", "none": None})
    unsampled = tracing.start_span("y", tracing.SERVER, f"00-{TRACE}-{SPAN}-00")
    unsampled.end()

    spans = eventually(exported.spans, timeout=10)
    assert exported.paths == ["/v1/traces"]
    assert exported.headers[0]["x-api-key"] == "s=cret"
    assert exported.headers[0]["content-type"] == "application/x-protobuf"
    assert exported.headers[0]["content-encoding"] == "gzip"
    (got,) = spans
    assert got["service"] == "catalog" and got["traceId"] == TRACE
    assert got["spanId"] == span.span_id and got["parentSpanId"] == SPAN
    assert got["kind"] == 2 and got["status"] == {"code": 2, "message": "NotFound"}
    assert got["endTimeUnixNano"] >= got["startTimeUnixNano"] > 0
    assert got["attributes"]["suite.status"] == 404 and "none" not in got["attributes"]
    assert got["resource"]["deployment.environment"] == "test"


def test_an_unknown_protocol_leaves_export_off_with_one_error(monkeypatch, caplog):
    tracing.shutdown()
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:1")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json")
    try:
        tracing.configure("catalog")
        assert not tracing.exporting()
        errors = [r.getMessage() for r in caplog.records if r.levelname == "ERROR"]
        assert errors == ["trace export off: OTLP protocol 'http/json' is not one of "
                          "http/protobuf, grpc"]
    finally:
        tracing.shutdown()


def test_metrics_port_per_service_then_global_then_default():
    assert metrics_port("catalog", {}) == 9102
    assert metrics_port("rpcprobe", {}) is None
    assert metrics_port("catalog", {"METRICS_PORT": "9200"}) == 9200
    assert metrics_port("catalog", {"METRICS_PORT": "0", "CATALOG_METRICS_PORT": "9300"}) == 9300
    assert metrics_port("auth", {"METRICS_PORT": "0", "CATALOG_METRICS_PORT": "9300"}) is None
    assert metrics_port("auth", {"AUTH_METRICS_PORT": ""}) is None
    with pytest.raises(ValueError, match="not a port"):
        metrics_port("auth", {"METRICS_PORT": "http"})


def test_a_service_watches_its_own_dead_letter_queues():
    assert owned_dead_letter_queues("auth") == ["rpc-auth.dlq"]
    assert set(owned_dead_letter_queues("catalog")) == {
        "rpc-catalog.dlq", "evt-payments-payment_succeeded--catalog.on_payment_succeeded.dlq",
        "evt-payments-payment_refunded--catalog.on_payment_refunded.dlq"}


def gateway_lines(capsys: pytest.CaptureFixture[str]) -> list[dict]:
    return [json.loads(line) for line in capsys.readouterr().out.splitlines()
            if line.startswith("{")]


@pytest.mark.parametrize("tracing_enabled", [True, False])
def test_the_gateway_logs_one_line_per_request_in_the_clients_trace(capsys, tracing_enabled):
    app = create_app(GatewaySettings(AMQP_URI="amqp://guest:guest@127.0.0.1:1/",
                                     GATEWAY_TRACING_ENABLED=tracing_enabled))
    client = TestClient(app)
    client.get("/healthz", headers={"traceparent": VALID, "X-Request-ID": "req-1"})
    client.get("/no/such/path", headers={"traceparent": "bogus"})

    first, second = [line for line in gateway_lines(capsys) if line["msg"].startswith("handled")]
    assert first["method"] == "GET /healthz" and first["status"] == 200
    assert first["request_id"] == "req-1" and first["service"] == "gateway"
    assert second["method"] == "GET unmatched" and second["status"] == 404
    if tracing_enabled:
        assert first["trace_id"] == TRACE and first["span_id"] != SPAN
        assert second["trace_id"] != TRACE and re.fullmatch(r"[0-9a-f]{32}", second["trace_id"])
    else:
        assert "trace_id" not in first and "trace_id" not in second


def test_the_services_span_is_a_child_of_the_gateways():
    span = tracing.start_span("HTTP", tracing.SERVER, VALID)
    request = Request({"type": "http", "state": {
        "request_id": "req-1", "span": span, "upstream_context": {"authorization": "tok"}}})
    assert context_of(request) == {"request_id": "req-1", "trace_id": TRACE,
                                   "traceparent": f"00-{TRACE}-{span.span_id}-01",
                                   "authorization": "tok"}


def test_spans_go_over_grpc_when_asked(monkeypatch):
    received: list[ExportTraceServiceRequest] = []

    class Receiver(trace_service_pb2_grpc.TraceServiceServicer):
        def Export(self, request, context):
            received.append(request)
            return ExportTraceServiceResponse()

    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    trace_service_pb2_grpc.add_TraceServiceServicer_to_server(Receiver(), server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    tracing.shutdown()
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", f"http://127.0.0.1:{port}")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")
    monkeypatch.setenv("OTEL_BSP_SCHEDULE_DELAY", "100")
    try:
        tracing.configure("payments")
        span = tracing.start_span("payments.checkout", tracing.SERVER, VALID)
        span.end()
        assert eventually(lambda: received, timeout=10), "no export reached the gRPC receiver"
    finally:
        tracing.shutdown()
        server.stop(None)
    (got,) = [span_of(s, r.resource.attributes) for request in received
              for r in request.resource_spans for scope in r.scope_spans for s in scope.spans]
    assert (got["service"], got["traceId"], got["spanId"]) == ("payments", TRACE, span.span_id)
