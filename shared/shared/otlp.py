"""The OpenTelemetry SDK, started only when trace export is configured (shared.tracing).

Every OTEL_* variable means what the SDK documents, read by the SDK itself: endpoints
(OTEL_EXPORTER_OTLP_[TRACES_]ENDPOINT), OTEL_EXPORTER_OTLP_[TRACES_]PROTOCOL (`http/protobuf`,
the default, or `grpc`), headers, timeout, compression (gzip), certificate (custom CA) and
client certificates, the batch processor (OTEL_BSP_*), the sampler (OTEL_TRACES_SAMPLER[_ARG])
and OTEL_RESOURCE_ATTRIBUTES / OTEL_SERVICE_NAME. The exporters retry with backoff as the SDK
does; a batch that still fails is dropped with a warning (tracing never slows a request).

Besides the suite's own spans (the gateway's requests, RPC workers, event handlers),
instrumentations record SQL statements (psycopg2) and Redis commands (redis-py). The gateway's
request span is EdgeMiddleware's, not the ASGI instrumentation's (ADR 0024 has the cost).
"""

from __future__ import annotations

import logging
import os
from typing import Any

from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter

log = logging.getLogger(__name__)

PROTOCOLS = ("http/protobuf", "grpc")
SCOPE = "suite"


class _Installed:
    provider: TracerProvider | None = None
    instrumentors: list[Any] = []


def protocol(env: Any = os.environ) -> str:
    chosen = (env.get("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL")
              or env.get("OTEL_EXPORTER_OTLP_PROTOCOL") or "http/protobuf").strip().lower()
    if chosen not in PROTOCOLS:
        raise ValueError(f"OTLP protocol {chosen!r} is not one of {', '.join(PROTOCOLS)}")
    return chosen


def exporter(chosen: str) -> SpanExporter:
    if chosen == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import (
            OTLPSpanExporter as GrpcExporter,
        )

        return GrpcExporter()
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    return OTLPSpanExporter()


def start(service: str) -> trace.Tracer | None:
    """Set the SDK's tracer provider and the instrumentations; the suite's tracer, or None
    (and one error line) when the configuration is unusable."""
    try:
        span_exporter = exporter(protocol())
    except ValueError as exc:
        log.error("trace export off: %s", exc)
        return None
    # OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES are merged in by Resource.create.
    resource = Resource.create({"service.name": os.environ.get("OTEL_SERVICE_NAME") or service})
    provider = TracerProvider(resource=resource)
    provider.add_span_processor(BatchSpanProcessor(span_exporter))
    trace.set_tracer_provider(provider)
    _Installed.provider = provider
    _instrument(provider)
    return provider.get_tracer(SCOPE)


def _instrument(provider: TracerProvider) -> None:
    from opentelemetry.instrumentation.psycopg2 import Psycopg2Instrumentor
    from opentelemetry.instrumentation.redis import RedisInstrumentor

    for instrumentor in (Psycopg2Instrumentor(), RedisInstrumentor()):
        # skip_dep_check: psycopg2-binary and redis are pinned by us, not by the instrumentor.
        instrumentor.instrument(tracer_provider=provider, skip_dep_check=True)
        _Installed.instrumentors.append(instrumentor)


def stop() -> None:
    """Flush what is batched and undo the instrumentations."""
    for instrumentor in _Installed.instrumentors:
        instrumentor.uninstrument()
    _Installed.instrumentors = []
    provider, _Installed.provider = _Installed.provider, None
    if provider is not None:
        provider.shutdown()
