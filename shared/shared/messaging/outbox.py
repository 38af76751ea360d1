"""Writing events: services never publish directly, they add an outbox row in their transaction."""

from __future__ import annotations

import functools
import uuid
from typing import Any

from sqlalchemy import BindParameter, Select, Table, bindparam, func, insert, select
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
    row = new_event(source, event_type, fields, schema_version)
    session.execute(_recording(outbox), row)
    event_id: uuid.UUID = row["b_event_id"]
    return event_id


def new_event(source: str, event_type: str, fields: dict[str, Any],
              schema_version: int = 1) -> dict[str, Any]:
    """The outbox row of an event, as the values `event_columns` binds (`b_event_id`, ...): for
    a statement that records the change and its event together, in one round trip."""
    event_id = uuid.uuid4()
    payload = {**fields, "event_id": str(event_id), "occurred_at": utcnow(),
               "schema_version": schema_version}
    payload = _jsonable(payload)
    validate_event(f"{source}.events", event_type, payload)
    context = logs.current()
    headers = {f"nameko.{key}": context[key] for key in ("request_id", "trace_id", "traceparent")
               if key in context}
    return {"b_event_id": event_id, "b_exchange": f"{source}.events",
            "b_event_type": event_type, "b_payload": payload, "b_headers": headers}


_COLUMNS = ("event_id", "exchange", "event_type", "payload", "headers")


def event_columns(outbox: Table) -> list[BindParameter[Any]]:
    """The typed bind parameters of `new_event`'s values, for a text() statement that inserts
    `(event_id, exchange, event_type, payload, headers)` from `:b_event_id, ...`."""
    return [bindparam(f"b_{name}", type_=outbox.c[name].type) for name in _COLUMNS]


@functools.cache
def _recording(outbox: Table) -> Select[Any]:
    """The row and the wake-up call in one statement (one round trip, not two), built once:
    building and compiling it per event cost three times the round trip itself."""
    values = {param.key[2:]: param for param in event_columns(outbox)}
    recorded = insert(outbox).values(values).returning(outbox.c.event_id).cte("recorded")
    return select(func.pg_notify(NOTIFY_CHANNEL, "")).select_from(recorded)


def _jsonable(payload: dict[str, Any]) -> Any:
    from shared import wire

    return wire.loads(wire.dumpb(payload))
