"""A worker's span: started in the caller's trace, handed on to what the worker calls or records.

`RequestContext` (shared.nameko.context) calls `open_span` in worker_setup and `close_span` in
worker_result. Opening one:
- reads the caller's `traceparent` (and `trace_id`) from the worker's context data, i.e. the
  `nameko.traceparent` / `nameko.trace_id` headers of an RPC request or of an event (the outbox
  stored them when the event was recorded); a missing or malformed one starts a new trace;
- replaces `traceparent` in the worker's context data with the worker's own (same trace, new
  span id), so nested calls (`ServiceRpc` forwards the context data as headers) are its
  children, and sets `trace_id`;
- the caller binds the same values to the log context, where `record_event` finds them;
- while exporting, the span is the worker's current OpenTelemetry span (`Span.activate`), so
  the SQL and Redis spans of the instrumentations nest under it.
"""

from __future__ import annotations

from typing import Any

from nameko.rpc import Rpc
from nameko.timer import Timer
from opentelemetry.trace import SpanKind

from shared import tracing
from shared.errors import SuiteError
from shared.nameko.events import EventHandler
from shared.nameko.principal import Principal
from shared.tokens import Identity

_KINDS: dict[type, str] = {}
_SPAN_KINDS: dict[str, SpanKind] = {"rpc": tracing.SERVER, "event": tracing.CONSUMER}


def entrypoint_kind(entrypoint: Any) -> str:
    """`rpc`, `event`, `timer`, or the entrypoint's class name for anything else."""
    cls = type(entrypoint)
    kind = _KINDS.get(cls)
    if kind is None:
        if issubclass(cls, Rpc):
            kind = "rpc"
        elif issubclass(cls, EventHandler):
            kind = "event"
        elif issubclass(cls, Timer):
            kind = "timer"
        else:
            kind = cls.__name__.lower()
        _KINDS[cls] = kind
    return kind


def open_span(worker_ctx: Any) -> tracing.Span:
    data: dict[str, Any] = worker_ctx.data
    incoming_trace = data.get("trace_id")
    kind = entrypoint_kind(worker_ctx.entrypoint)
    span = tracing.start_span(
        f"{worker_ctx.service_name}.{worker_ctx.entrypoint.method_name}",
        _SPAN_KINDS.get(kind, tracing.INTERNAL), _str(data.get("traceparent")),
        _str(incoming_trace))
    # A caller that sent only a trace id of its own (not W3C) keeps it in the logs.
    keep = span.parent_id is None and isinstance(incoming_trace, str) and incoming_trace
    data["trace_id"] = incoming_trace if keep else span.trace_id
    data["traceparent"] = span.traceparent
    return span


def close_span(span: tracing.Span, worker_ctx: Any, exc_info: Any) -> None:
    if not span.recording:
        return
    error = None if exc_info is None else exc_info[0].__name__
    attributes: dict[str, Any] = {"suite.entrypoint": entrypoint_kind(worker_ctx.entrypoint),
                                  "suite.request_id": worker_ctx.data.get("request_id")}
    if exc_info is not None:
        attributes["suite.status"] = error_status(exc_info)
    span.end(error, attributes)


def error_status(exc_info: Any) -> int:
    """The HTTP status an error maps to: a typed error's own, 500 for anything else."""
    exc = exc_info[1]
    return exc.status if isinstance(exc, SuiteError) else 500


def verified_user_id(worker_ctx: Any) -> str | None:
    """The user of the access token this worker verified, if it verified one.

    Never verifies here (a log line must not cost a signature check, nor fetch keys): it reads
    the identity the worker's `Principal` caller cached when the method asked for it.
    """
    for provider in worker_ctx.container.dependencies:
        if isinstance(provider, Principal):
            caller = getattr(worker_ctx.service, provider.attr_name, None)
            identity = getattr(caller, "_identity", None)
            if isinstance(identity, Identity):
                return identity.user_id
    return None


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) else None
