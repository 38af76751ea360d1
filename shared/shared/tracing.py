"""W3C trace context across every process, and spans that are exported only when asked to.

Each hop is one span: a gateway request, an RPC worker, an event handler, a timer run. A hop
starts its span in the caller's trace (`traceparent` in, a new span id out) and hands its own
`traceparent` to whatever it calls or publishes, so one request can be followed through every
process's log lines (`trace_id`, `span_id`) and, with a collector, as one trace.

    span = start_span("catalog.get_product", SERVER, incoming_traceparent)
    ... forward span.traceparent ...
    span.end(error=None)        # exported if OTLP is configured and the trace is sampled

Without OTEL_EXPORTER_OTLP_ENDPOINT (or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) nothing is
imported, allocated per span beyond the Span itself, or sent: `configure()` only reads the
environment. With it, `shared.otlp` posts finished spans as OTLP/HTTP JSON from a background
thread. OTEL_SDK_DISABLED=true turns export off; OTEL_TRACES_SAMPLER / OTEL_TRACES_SAMPLER_ARG
choose how many new traces are sampled (a caller's sampled flag is always followed).
"""

from __future__ import annotations

import logging
import os
import random
import re
import time
from typing import Any, Protocol

log = logging.getLogger(__name__)

# OTLP span kinds.
INTERNAL, SERVER, CLIENT, PRODUCER, CONSUMER = 1, 2, 3, 4, 5

# version-traceid-parentid-flags; a future version may append fields after another dash.
_TRACEPARENT = re.compile(r"([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?")
_TRACE_ID = re.compile(r"[0-9a-f]{32}")
_ZERO_TRACE, _ZERO_SPAN = "0" * 32, "0" * 16
ENDPOINT_VARIABLES = ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT")


class Exporter(Protocol):
    def add(self, span: Span, end_ns: int, error: str | None,
            attributes: dict[str, Any] | None) -> None: ...


class _Config:
    exporter: Exporter | None = None
    root_ratio = 1.0  # share of new traces that are sampled
    configured = False


def parse_traceparent(value: str | None) -> tuple[str, str, bool] | None:
    """(trace_id, parent span id, sampled) of a valid W3C `traceparent`; None otherwise."""
    if not value or len(value) < 55:
        return None
    match = _TRACEPARENT.fullmatch(value.strip())
    if match is None:
        return None
    version, trace_id, span_id, flags, rest = match.groups()
    if version == "ff" or (version == "00" and rest is not None):
        return None
    if trace_id == _ZERO_TRACE or span_id == _ZERO_SPAN:
        return None
    return trace_id, span_id, bool(int(flags, 16) & 1)


def valid_trace_id(value: object) -> bool:
    return isinstance(value, str) and value != _ZERO_TRACE and bool(_TRACE_ID.fullmatch(value))


def new_trace_id() -> str:
    # Random ids, as the W3C recommends; `random` is reseeded in forked children.
    return _ids()[0]


def new_span_id() -> str:
    return _ids()[1]


def _ids() -> tuple[str, str]:
    """A new trace id and span id from one call (randbytes + hex: cheaper than formatting two
    getrandbits); never the all-zero ids W3C calls invalid."""
    digits = random.randbytes(24).hex()
    trace_id, span_id = digits[:32], digits[32:]
    if trace_id == _ZERO_TRACE or span_id == _ZERO_SPAN:
        return _ids()
    return trace_id, span_id


class Span:
    """One hop. `traceparent` is what this hop sends on (its own span id as the parent)."""

    __slots__ = ("kind", "name", "parent_id", "sampled", "service", "span_id", "start_ns",
                 "trace_id")

    def __init__(self, name: str, kind: int, trace_id: str, parent_id: str | None,
                 sampled: bool, service: str, span_id: str | None = None) -> None:
        self.name, self.kind, self.service = name, kind, service
        self.trace_id, self.parent_id, self.sampled = trace_id, parent_id, sampled
        self.span_id = span_id or new_span_id()
        self.start_ns = time.time_ns() if _Config.exporter is not None else 0

    @property
    def traceparent(self) -> str:
        # Made when something is called (a cached answer never needs it), not per span.
        return f"00-{self.trace_id}-{self.span_id}-{'01' if self.sampled else '00'}"

    @property
    def recording(self) -> bool:
        return self.sampled and _Config.exporter is not None and self.start_ns != 0

    def end(self, error: str | None = None, attributes: dict[str, Any] | None = None) -> None:
        """Finish the span: exported when recording, otherwise this does nothing."""
        exporter = _Config.exporter
        if exporter is not None and self.sampled and self.start_ns:
            exporter.add(self, time.time_ns(), error, attributes)


def start_span(name: str, kind: int, traceparent: str | None = None,
               trace_id: str | None = None, service: str = "-") -> Span:
    """A span in the trace of `traceparent` if it is valid; else in trace `trace_id` if that is
    a valid W3C trace id (a caller that only sent one); else the first span of a new trace."""
    parent = parse_traceparent(traceparent)
    if parent is not None:
        return Span(name, kind, parent[0], parent[1], parent[2], service)
    sampled = _Config.root_ratio >= 1.0 or random.random() < _Config.root_ratio
    if valid_trace_id(trace_id):
        assert trace_id is not None
        return Span(name, kind, trace_id, None, sampled, service)
    new_trace, span_id = _ids()
    return Span(name, kind, new_trace, None, sampled, service, span_id)


def exporting() -> bool:
    return _Config.exporter is not None


def configure(environ: dict[str, str] | None = None) -> None:
    """Read the OTEL_* variables once per process; start the exporter if an endpoint is set."""
    if _Config.configured:
        return
    env = os.environ if environ is None else environ
    _Config.configured = True
    _Config.root_ratio = _root_ratio(env)
    if env.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return
    if not any(env.get(name) for name in ENDPOINT_VARIABLES):
        return
    from shared import otlp  # only now: no import cost when export is off

    _Config.exporter = otlp.from_environment(env)


def shutdown() -> None:
    """Flush and stop the exporter (tests, and processes that exit on purpose)."""
    exporter, _Config.exporter = _Config.exporter, None
    _Config.configured = False
    close = getattr(exporter, "shutdown", None)
    if close is not None:
        close()


def _root_ratio(env: Any) -> float:
    sampler = env.get("OTEL_TRACES_SAMPLER", "parentbased_always_on").strip().lower()
    if sampler in ("always_off", "parentbased_always_off"):
        return 0.0
    if sampler in ("traceidratio", "parentbased_traceidratio"):
        try:
            return min(1.0, max(0.0, float(env.get("OTEL_TRACES_SAMPLER_ARG", "1.0"))))
        except ValueError:
            log.warning("OTEL_TRACES_SAMPLER_ARG is not a number; sampling every trace")
    return 1.0
