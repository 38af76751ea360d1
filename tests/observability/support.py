"""Helpers for the observability tests: an OTLP/HTTP receiver, the suite's combined log, scrapes."""

from __future__ import annotations

import contextlib
import gzip
import json
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from prometheus_client.parser import text_string_to_metric_families


class Collector:
    """An OTLP/HTTP receiver on 127.0.0.1 that decodes (protobuf, gzip or not) and keeps every
    span it is sent, as the collector's own receiver would."""

    def __init__(self) -> None:
        self.requests: list[ExportTraceServiceRequest] = []
        self.paths: list[str] = []
        self.headers: list[dict[str, str]] = []
        collector = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", "0")))
                if self.headers.get("content-encoding") == "gzip":
                    body = gzip.decompress(body)
                collector.paths.append(self.path)
                collector.headers.append({k.lower(): v for k, v in self.headers.items()})
                collector.requests.append(ExportTraceServiceRequest.FromString(body))
                answer = ExportTraceServiceResponse().SerializeToString()
                self.send_response(200)
                self.send_header("content-type", "application/x-protobuf")
                self.send_header("content-length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Collector:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def spans(self) -> list[dict[str, Any]]:
        """Every span received (hex ids, kind and status as numbers, attributes as a dict),
        each with its resource's attributes and `service.name` as `service`."""
        return [span_of(span, resource.resource.attributes)
                for request in list(self.requests) for resource in request.resource_spans
                for scope in resource.scope_spans for span in scope.spans]


def attributes_of(attributes: Any) -> dict[str, Any]:
    return {a.key: getattr(a.value, a.value.WhichOneof("value") or "string_value")
            for a in attributes}


def span_of(span: Any, resource: Any) -> dict[str, Any]:
    resource_attributes = attributes_of(resource)
    return {"service": resource_attributes.get("service.name"), "resource": resource_attributes,
            "traceId": span.trace_id.hex(), "spanId": span.span_id.hex(),
            "parentSpanId": span.parent_span_id.hex() or None, "name": span.name,
            "kind": span.kind, "status": {"code": span.status.code,
                                          "message": span.status.message},
            "startTimeUnixNano": span.start_time_unix_nano,
            "endTimeUnixNano": span.end_time_unix_nano,
            "attributes": attributes_of(span.attributes)}


def log_lines(text: str) -> list[dict[str, Any]]:
    """The JSON lines of deploy/local/run.py's output (`name | {...}`), each with `process`."""
    lines = []
    for raw in text.splitlines():
        name, sep, rest = raw.partition(" | ")
        if not sep or not rest.startswith("{"):
            continue
        with contextlib.suppress(ValueError):
            lines.append({**json.loads(rest), "process": name.strip()})
    return lines


def scrape(url: str) -> dict[str, Any]:
    """name -> family of a /metrics endpoint, parsed as Prometheus does."""
    response = httpx.get(url, timeout=10)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return {family.name: family for family in text_string_to_metric_families(response.text)}


def sample_names(families: dict[str, Any]) -> set[str]:
    return {sample.name for family in families.values() for sample in family.samples}


SUFFIXES = {"counter": ("_total", "_created"), "histogram": ("_bucket", "_count", "_sum"),
            "summary": ("_count", "_sum")}


def declared_names(families: dict[str, Any]) -> set[str]:
    """Every series name a scrape declares, with or without samples yet (a labelled counter
    has none before its first increment)."""
    names = sample_names(families)
    for name, family in families.items():
        names.add(name)
        names.update(name + suffix for suffix in SUFFIXES.get(family.type, ()))
    return names


def total(families: dict[str, Any], sample: str, **labels: str) -> float:
    """The sum of the samples called `sample` whose labels include `labels`."""
    return sum(s.value for family in families.values() for s in family.samples
               if s.name == sample and labels.items() <= s.labels.items())


def eventually(check: Callable[[], Any], timeout: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.3)
