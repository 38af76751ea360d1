"""W3C trace context in every process; spans recorded by the OpenTelemetry SDK only when asked to.

Each hop is one span: a gateway request, an RPC worker, an event handler, a timer run. A hop
starts its span in the caller's trace (`traceparent` in) and hands its own `traceparent` to
whatever it calls or publishes, so one request can be followed through every process's log
lines (`trace_id`, `span_id`) and, with a collector, as one trace.

    span = start_span("catalog.get_product", SERVER, incoming_traceparent)
    ... forward span.traceparent ...
    span.end(error=None)        # recorded if OTLP export is configured and the trace sampled

Without OTEL_EXPORTER_OTLP_ENDPOINT (or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT), the default, the
SDK is never imported: a span is its ids (for the logs), no tracer provider is set and no
instrumentation installed. With it, `shared.otlp` starts the SDK (ADR 0024).
"""

from __future__ import annotations

import logging
import os
import random
import re
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import SpanKind, Status, StatusCode

log = logging.getLogger(__name__)

INTERNAL, SERVER, CLIENT = SpanKind.INTERNAL, SpanKind.SERVER, SpanKind.CLIENT
PRODUCER, CONSUMER = SpanKind.PRODUCER, SpanKind.CONSUMER
ENDPOINT_VARIABLES = ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT")
# version-traceid-parentid-flags; a future version may append fields after another dash.
_TRACEPARENT = re.compile(r"([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?")
_TRACE_ID = re.compile(r"[0-9a-f]{32}")
_ZERO_TRACE, _ZERO_SPAN = "0" * 32, "0" * 16
_OFF = ("always_off", "parentbased_always_off")


class _State:
    tracer: trace.Tracer | None = None  # the SDK's, only while exporting
    root_ratio = 1.0  # share of new traces marked sampled when not exporting
    configured = False


def parse_traceparent(value: str | None) -> tuple[str, str, bool] | None:
    """(trace_id, parent span id, sampled) of a valid W3C `traceparent`; None otherwise.
    Ours, not the API propagator's, which costs more on every hop (ADR 0024 has the figures)."""
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


def _hex(value: int, digits: int) -> str:
    return format(value, f"0{digits}x")


def _ids() -> tuple[str, str]:
    """A new trace id and span id from one call; never the all-zero ids W3C calls invalid.
    Random, as the W3C recommends (`random` is reseeded in forked children)."""
    digits = random.randbytes(24).hex()
    if digits[:32] == _ZERO_TRACE or digits[32:] == _ZERO_SPAN:
        return _ids()
    return digits[:32], digits[32:]


class Span:
    """One hop. `traceparent` is what this hop sends on (its own span id as the parent);
    `otel` is the SDK's span while exporting, else None."""

    __slots__ = ("name", "otel", "parent_id", "sampled", "span_id", "trace_id")

    def __init__(self, name: str, trace_id: str, span_id: str, parent_id: str | None,
                 sampled: bool, otel: Any = None) -> None:
        self.name, self.trace_id, self.span_id = name, trace_id, span_id
        self.parent_id, self.sampled, self.otel = parent_id, sampled, otel

    @property
    def traceparent(self) -> str:
        # Made when something is called (a cached answer never needs it), not per span.
        return f"00-{self.trace_id}-{self.span_id}-{'01' if self.sampled else '00'}"

    @property
    def recording(self) -> bool:
        return self.otel is not None and self.otel.is_recording()

    def activate(self) -> object | None:
        """Make this the current span (SQL and Redis spans nest under it); a token or None."""
        if self.otel is None:
            return None
        return otel_context.attach(trace.set_span_in_context(self.otel))

    def end(self, error: str | None = None, attributes: dict[str, Any] | None = None) -> None:
        """Finish the span: recorded when exporting, otherwise this does nothing."""
        otel = self.otel
        if otel is None or not otel.is_recording():
            return
        otel.update_name(self.name)
        if attributes:
            otel.set_attributes({k: v for k, v in attributes.items() if v is not None})
        if error:
            otel.set_status(Status(StatusCode.ERROR, error))
        otel.end()


def deactivate(token: object | None) -> None:
    if token is not None:
        otel_context.detach(token)  # type: ignore[arg-type]


def start_span(name: str, kind: SpanKind, traceparent: str | None = None,
               trace_id: str | None = None) -> Span:
    """A span in the trace of `traceparent` if it is valid; else in trace `trace_id` if that is
    a valid W3C trace id (a caller that only sent one); else the first span of a new trace."""
    parent = parse_traceparent(traceparent)
    known_parent = parent is not None
    if parent is None and valid_trace_id(trace_id):
        assert trace_id is not None  # a caller's trace without its span: a remote root
        parent = (trace_id, _ids()[1], _root_sampled())
    tracer = _State.tracer
    if tracer is not None:
        return _recorded(tracer, name, kind, parent)
    new_trace, span_id = _ids()
    if parent is not None:
        return Span(name, parent[0], span_id, parent[1] if known_parent else None, parent[2])
    return Span(name, new_trace, span_id, None, _root_sampled())


def _recorded(tracer: trace.Tracer, name: str, kind: SpanKind,
              parent: tuple[str, str, bool] | None) -> Span:
    # A hop's span is a child of its caller's only: never of whatever span is current here.
    context = otel_context.Context()
    if parent is not None:
        remote = trace.SpanContext(int(parent[0], 16), int(parent[1], 16), True,
                                   trace.TraceFlags(1 if parent[2] else 0))
        context = trace.set_span_in_context(trace.NonRecordingSpan(remote))
    otel = tracer.start_span(name, context, kind)
    own = otel.get_span_context()
    parent_id = getattr(otel, "parent", None)
    return Span(name, _hex(own.trace_id, 32), _hex(own.span_id, 16),
                None if parent_id is None else _hex(parent_id.span_id, 16),
                own.trace_flags.sampled, otel)


def _root_sampled() -> bool:
    return _State.root_ratio >= 1.0 or random.random() < _State.root_ratio


def exporting() -> bool:
    return _State.tracer is not None


def configure(service: str) -> None:
    """Read the OTEL_* variables once per process; start the SDK if an endpoint is set."""
    if _State.configured:
        return
    env = os.environ
    _State.configured = True
    _State.root_ratio = _root_ratio(env)
    if env.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return
    if not any(env.get(name) for name in ENDPOINT_VARIABLES):
        return
    from shared import otlp  # only now: no SDK import, provider or instrumentation when off

    _State.tracer = otlp.start(service)


def shutdown() -> None:
    """Flush and stop the SDK (tests, and processes that exit on purpose)."""
    if _State.tracer is not None:
        from shared import otlp

        otlp.stop()
    _State.tracer = None
    _State.configured = False


def _root_ratio(env: Any) -> float:
    sampler = env.get("OTEL_TRACES_SAMPLER", "parentbased_always_on").strip().lower()
    if sampler in _OFF:
        return 0.0
    if sampler in ("traceidratio", "parentbased_traceidratio"):
        try:
            return min(1.0, max(0.0, float(env.get("OTEL_TRACES_SAMPLER_ARG", "1.0"))))
        except ValueError:
            log.warning("OTEL_TRACES_SAMPLER_ARG is not a number; sampling every trace")
    return 1.0
