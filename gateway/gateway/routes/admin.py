"""Admin-only routes for the web console (docs/api-admin.md): the user directory and an ops view.

GET /admin/ops gathers, in parallel: each service's readiness (its `ping`), the depth and
consumers of every queue the suite declares, dead-letter queues included (passive declares on a
short-lived connection, shared.ops), each service's outbox lag (`outbox_lag`), and the
payments still pending. A part that cannot be read is `null` (or "unavailable"), never a 5xx:
the page is most useful exactly when something is down.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field

from gateway import upstream
from gateway.config import SERVICES
from gateway.openapi_responses import UPSTREAM, problems
from gateway.routes.auth import User
from gateway.schemas import NO_NUL
from gateway.security import current_admin
from gateway.state import State
from shared.errors import SuiteError
from shared.ops import broker, queues
from shared.tokens import Identity

log = logging.getLogger(__name__)

Admin = Annotated[Identity, Depends(current_admin)]
PART_TIMEOUT = 3.0
router = APIRouter(prefix="/admin", tags=["admin"])


class UserPage(BaseModel):
    items: list[User]
    next_cursor: str | None


class QueueDepth(BaseModel):
    queue: str
    exists: bool
    messages: int
    consumers: int


class OutboxLag(BaseModel):
    service: str
    pending: int | None = Field(description="Events committed but not yet published.")
    oldest_age_seconds: float | None


class Ops(BaseModel):
    broker: str
    services: dict[str, str] = Field(description="up, unavailable or timeout, per service.")
    queues: list[QueueDepth] | None = Field(description="Null when the broker is unreachable.")
    outbox: list[OutboxLag]
    pending_payments: list[dict[str, Any]] | None = Field(
        description="Oldest first (at most 20); null when payments did not answer.")
    pending_count: int | None


@router.get("/users", response_model=UserPage, operation_id="listUsers",
            summary="List or search users (admin)",
            responses=problems(401, 403, 422, *UPSTREAM),
            description="Newest first, keyset-paged. `q` matches a substring of the email or "
                        "the display name, case-insensitively.")
async def list_users(request: Request, _: Admin,
                     limit: Annotated[int, Query(ge=1, le=100)] = 20,
                     cursor: Annotated[str | None, Query(max_length=200)] = None,
                     q: Annotated[str | None, Query(max_length=200, pattern=NO_NUL)] = None
                     ) -> Any:
    return await upstream.call(request, "auth", "list_users", limit=limit, cursor=cursor, q=q)


def _queue_depths(amqp_uri: str) -> list[dict[str, Any]]:
    connection = broker.connect(amqp_uri)
    try:
        return [vars(s) for s in broker.stats(connection, queues.suite_queues())]
    finally:
        connection.close()


async def _queues(amqp_uri: str) -> list[dict[str, Any]] | None:
    try:
        return await asyncio.wait_for(asyncio.to_thread(_queue_depths, amqp_uri), PART_TIMEOUT)
    except Exception as error:  # the broker's own errors are many; the page shows "unknown"
        log.warning("ops: queue depths unavailable (%s)", type(error).__name__)
        return None


async def _outbox(request: Request, service: str) -> dict[str, Any]:
    try:
        lag = await upstream.call(request, service, "outbox_lag", timeout=PART_TIMEOUT)
    except SuiteError:
        return {"service": service, "pending": None, "oldest_age_seconds": None}
    return {"service": service, **lag}


async def _pending(request: Request) -> dict[str, Any] | None:
    try:
        result: dict[str, Any] = await upstream.call(request, "payments", "pending_payments",
                                                     timeout=PART_TIMEOUT)
    except SuiteError:
        return None
    return result


@router.get("/ops", response_model=Ops, operation_id="getOps",
            summary="Operations at a glance (admin)", responses=problems(401, 403),
            description="Each service's readiness, every suite queue's depth and consumers "
                        "(dead letters included), each outbox's lag and the oldest pending "
                        "payments. A part that cannot be read is null: still 200.")
async def ops(request: Request, _: Admin, state: State) -> Any:
    lags = asyncio.gather(*(_outbox(request, s) for s in SERVICES))
    # The same once-a-second readiness fan-out as /readyz (gateway.readiness).
    states, depth, outbox, pending = await asyncio.gather(
        state.readiness.result(), _queues(state.settings.amqp_uri), lags, _pending(request))
    return {"broker": "up" if state.rpc.connected else "down", "services": states, "queues": depth,
            "outbox": outbox, "pending_payments": pending["items"] if pending else None,
            "pending_count": pending["count"] if pending else None}
