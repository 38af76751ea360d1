"""OTLP/HTTP JSON export of finished spans (imported by shared.tracing only when configured).

A background thread (a greenthread in nameko's patched processes) posts batches to
`<OTEL_EXPORTER_OTLP_ENDPOINT>/v1/traces`, or to OTEL_EXPORTER_OTLP_TRACES_ENDPOINT as given,
with OTEL_EXPORTER_OTLP_HEADERS (`k=v,k2=v2`, never logged). `service.name` is the suite's
process (gateway, auth, catalog, payments); OTEL_RESOURCE_ATTRIBUTES adds to it. Batching
follows the OTel SDK's variables: OTEL_BSP_SCHEDULE_DELAY (ms, 5000), OTEL_BSP_MAX_QUEUE_SIZE
(2048), OTEL_BSP_MAX_EXPORT_BATCH_SIZE (512), OTEL_EXPORTER_OTLP_TIMEOUT (ms, 10000). A full
queue drops the oldest spans; a failed post drops its batch (tracing must never slow or break
a request).
Only the http/json protocol is spoken: point it at a collector's OTLP/HTTP receiver (4318).
"""

from __future__ import annotations

import atexit
import collections
import logging
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Mapping
from typing import Any

import orjson

from shared.tracing import Span

log = logging.getLogger(__name__)

SCOPE = {"name": "suite", "version": "0.1.0"}
WARN_EVERY = 60.0  # seconds between two "export failed" lines


class OtlpExporter:
    def __init__(self, url: str, headers: dict[str, str], timeout: float = 10.0,
                 delay: float = 5.0, max_queue: int = 2048, max_batch: int = 512,
                 resource: dict[str, str] | None = None) -> None:
        self.url, self.timeout, self.delay, self.max_batch = url, timeout, delay, max_batch
        self.resource = resource or {}
        self._headers = {**headers, "Content-Type": "application/json"}
        self._queue: collections.deque[dict[str, Any]] = collections.deque(maxlen=max_queue)
        self._wake = threading.Event()
        self._stopping = False
        self._warned_at = -WARN_EVERY
        self.exported = self.failed = 0
        self._thread = threading.Thread(target=self._run, name="otlp-exporter", daemon=True)
        self._thread.start()
        atexit.register(self.shutdown)

    def add(self, span: Span, end_ns: int, error: str | None,
            attributes: dict[str, Any] | None) -> None:
        record: dict[str, Any] = {
            "service": span.service, "traceId": span.trace_id, "spanId": span.span_id,
            "name": span.name, "kind": span.kind, "startTimeUnixNano": str(span.start_ns),
            "endTimeUnixNano": str(end_ns),
            "status": {"code": 2, "message": error} if error else {"code": 1},
        }
        if span.parent_id:
            record["parentSpanId"] = span.parent_id
        if attributes:
            record["attributes"] = [_attribute(k, v) for k, v in attributes.items()
                                    if v is not None]
        self._queue.append(record)  # deque appends are atomic: safe from any thread
        if len(self._queue) >= self.max_batch:
            self._wake.set()

    def shutdown(self) -> None:
        if self._stopping:
            return
        self._stopping = True
        self._wake.set()
        self._thread.join(self.timeout + 1)

    def _run(self) -> None:
        while not self._stopping:
            self._wake.wait(self.delay)
            self._wake.clear()
            self._drain()
        self._drain()

    def _drain(self) -> None:
        while self._queue:
            batch: list[dict[str, Any]] = []
            while self._queue and len(batch) < self.max_batch:
                batch.append(self._queue.popleft())
            self._post(batch)

    def _post(self, batch: list[dict[str, Any]]) -> None:
        body = orjson.dumps(payload(batch, self.resource))
        request = urllib.request.Request(self.url, data=body,
                                         headers=self._headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                response.read()
            self.exported += len(batch)
        except Exception as exc:
            self.failed += len(batch)
            now = time.monotonic()
            if now - self._warned_at >= WARN_EVERY:
                self._warned_at = now
                # Neither the URL (it may hold credentials) nor the headers (API keys).
                log.warning("trace export failed (%s); dropped %d spans",
                            type(exc).__name__, len(batch))


def payload(batch: list[dict[str, Any]],
            resource: dict[str, str] | None = None) -> dict[str, Any]:
    """An ExportTraceServiceRequest in OTLP's JSON encoding, one resource per service."""
    by_service: dict[str, list[dict[str, Any]]] = {}
    for record in batch:
        span = dict(record)
        by_service.setdefault(span.pop("service"), []).append(span)
    extra = [_attribute(k, v) for k, v in (resource or {}).items() if k != "service.name"]
    return {"resourceSpans": [
        {"resource": {"attributes": [_attribute("service.name", service), *extra]},
         "scopeSpans": [{"scope": SCOPE, "spans": spans}]}
        for service, spans in by_service.items()]}


def _attribute(key: str, value: Any) -> dict[str, Any]:
    if isinstance(value, bool):
        return {"key": key, "value": {"boolValue": value}}
    if isinstance(value, int):
        return {"key": key, "value": {"intValue": str(value)}}
    if isinstance(value, float):
        return {"key": key, "value": {"doubleValue": value}}
    return {"key": key, "value": {"stringValue": str(value)}}


def traces_url(env: Mapping[str, str]) -> str:
    explicit = env.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "").strip()
    if explicit:
        return explicit
    return env.get("OTEL_EXPORTER_OTLP_ENDPOINT", "").strip().rstrip("/") + "/v1/traces"


def parse_pairs(value: str) -> dict[str, str]:
    """`k=v,k2=v2` (values URL-encoded), as OTEL_EXPORTER_OTLP_HEADERS and
    OTEL_RESOURCE_ATTRIBUTES are written."""
    headers: dict[str, str] = {}
    for item in value.split(","):
        key, sep, val = item.partition("=")
        if sep and key.strip():
            headers[urllib.parse.unquote(key.strip())] = urllib.parse.unquote(val.strip())
    return headers


def _number(env: Mapping[str, str], name: str, default: float) -> float:
    try:
        return float(env.get(name, "") or default)
    except ValueError:
        log.warning("%s is not a number; using %g", name, default)
        return default


def from_environment(env: Mapping[str, str]) -> OtlpExporter:
    protocol = (env.get("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL")
                or env.get("OTEL_EXPORTER_OTLP_PROTOCOL") or "http/json").strip().lower()
    if protocol != "http/json":
        log.warning("OTLP protocol %r is not supported; sending http/json (a collector's "
                    "OTLP/HTTP receiver takes it)", protocol)
    headers = parse_pairs(env.get("OTEL_EXPORTER_OTLP_TRACES_HEADERS")
                            or env.get("OTEL_EXPORTER_OTLP_HEADERS") or "")
    timeout_ms = _number(env, "OTEL_EXPORTER_OTLP_TIMEOUT", 10000)
    return OtlpExporter(traces_url(env), headers, timeout=timeout_ms / 1000,
                        delay=_number(env, "OTEL_BSP_SCHEDULE_DELAY", 5000) / 1000,
                        max_queue=int(_number(env, "OTEL_BSP_MAX_QUEUE_SIZE", 2048)),
                        max_batch=int(_number(env, "OTEL_BSP_MAX_EXPORT_BATCH_SIZE", 512)),
                        resource=parse_pairs(env.get("OTEL_RESOURCE_ATTRIBUTES", "")))
