"""Writing events: services never publish directly, they add an outbox row in their transaction."""

from __future__ import annotations

import functools
import uuid
from typing import Any

from sqlalchemy import Select, Table, bindparam, func, insert, select
from sqlalchemy.orm import Session

from shared import logs
from shared.contracts.events import validate_event
from shared.wire import utcnow

# The relay LISTENs here; PostgreSQL delivers the NOTIFY when (and only if) the caller commits.
NOTIFY_CHANNEL = "outbox_recorded"


def record_event(session: Session, outbox: Table, source: str, event_type: str,
                 fields: dict[str, Any], schema_version: int = 1) -> uuid.UUID:
    """Add `event_type` from service `source` (exchange `<source>.events`) to the outbox.

    The row commits or rolls back with the caller's change; the relay publishes it later.
    Raises `shared.contracts.events.InvalidEvent` if the payload breaks the event's contract.
    """
    event_id = uuid.uuid4()
    payload = {**fields, "event_id": str(event_id), "occurred_at": utcnow(),
               "schema_version": schema_version}
    payload = _jsonable(payload)
    validate_event(f"{source}.events", event_type, payload)
    context = logs.current()
    headers = {f"nameko.{key}": context[key] for key in ("request_id", "trace_id", "traceparent")
               if key in context}
    session.execute(_recording(outbox), {
        "b_event_id": event_id, "b_exchange": f"{source}.events", "b_event_type": event_type,
        "b_payload": payload, "b_headers": headers})
    return event_id


@functools.cache
def _recording(outbox: Table) -> Select[Any]:
    """The row and the wake-up call in one statement (one round trip, not two), built once:
    building and compiling it per event cost three times the round trip itself."""
    recorded = insert(outbox).values(
        {name: bindparam(f"b_{name}", type_=outbox.c[name].type)
         for name in ("event_id", "exchange", "event_type", "payload", "headers")}
    ).returning(outbox.c.event_id).cte("recorded")
    return select(func.pg_notify(NOTIFY_CHANNEL, "")).select_from(recorded)


def _jsonable(payload: dict[str, Any]) -> Any:
    from shared import wire

    return wire.loads(wire.dumpb(payload))
