"""GET /me/overview (http-api.md, Composite): one answer from three services, never a hang.

auth (the user) and payments (the 5 most recent payments, and what was spent) are asked in
parallel, each call with its own timeout; then the catalog for the current names of the items.
A service that fails or is too slow leaves its part `null` (for the catalog: the names recorded
at checkout stay) and is named in `degraded`; the answer is still 200.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field

from gateway import upstream
from gateway.openapi_responses import problems
from gateway.routes.auth import User
from gateway.routes.payments_schemas import Money, Payment
from gateway.security import current_user
from shared.errors import SuiteError
from shared.tokens import Identity

log = logging.getLogger(__name__)

RECENT = 5
CALL_TIMEOUT = 2.0  # per backing call; the whole answer stays well inside the 5 s budget

router = APIRouter(tags=["composite"])


class Overview(BaseModel):
    user: User | None
    recent_payments: list[Payment] | None = Field(
        description=f"The last {RECENT}, newest first; item names from the catalog.")
    total_spent: list[Money] | None = Field(
        description="Captured minus refunded, one entry per currency.")
    degraded: list[str] = Field(description="Services that did not answer; their part is null.")


async def _ask(request: Request, degraded: set[str], service: str, method: str,
               *args: Any, **kwargs: Any) -> Any:
    try:
        return await upstream.call(request, service, method, *args, timeout=CALL_TIMEOUT,
                                   **kwargs)
    except SuiteError as error:
        log.warning("overview degraded", extra={"upstream": service, "status": error.status})
        degraded.add(service)
        return None


async def _rename(request: Request, degraded: set[str], payments: list[dict[str, Any]]) -> None:
    ids = sorted({item["product_id"] for p in payments for item in p["items"]})
    if not ids:
        return
    products = await _ask(request, degraded, "catalog", "get_products", ids)
    names = {product["id"]: product["name"] for product in products or []}
    for payment in payments:
        for item in payment["items"]:
            item["name"] = names.get(item["product_id"], item["name"])


@router.get("/me/overview", response_model=Overview, operation_id="getOverview",
            summary="The caller at a glance", responses=problems(401),
            description="The user, the last 5 payments and what was spent, from three "
                        "services at once. A service that fails or is slow leaves its part "
                        "null and is named in `degraded`: still 200.")
async def overview(request: Request, me: Annotated[Identity, Depends(current_user)]) -> Any:
    degraded: set[str] = set()
    user, page, spent = await asyncio.gather(
        _ask(request, degraded, "auth", "get_user", me.user_id),
        _ask(request, degraded, "payments", "list_payments", limit=RECENT),
        _ask(request, degraded, "payments", "spent_totals"))
    recent = page["items"] if page is not None else None
    if recent:
        await _rename(request, degraded, recent)
    return {"user": user, "recent_payments": recent, "total_spent": spent,
            "degraded": sorted(degraded)}
