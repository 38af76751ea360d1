"""Rendering: the Jinja2 environment, the page context every template gets, and forms with
their CSRF check."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from starlette.datastructures import FormData
from starlette.responses import HTMLResponse, RedirectResponse
from starlette.templating import Jinja2Templates

from web import csrf
from web.api import ApiError
from web.visit import Visit

templates = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))
templates.env.auto_reload = False  # templates change only with a deploy: no stat per render


def money(amount: int | None, currency: str = "USD") -> str:
    """Minor units as text (every currency the suite sells in has two decimals)."""
    if amount is None:
        return "-"
    sign = "-" if amount < 0 else ""
    units, cents = divmod(abs(int(amount)), 100)
    return f"{sign}{units:,}.{cents:02d} {currency}"


templates.env.filters["money"] = money


class CsrfRefused(Exception):
    """A form without the session's CSRF token."""


async def render(visit: Visit, name: str, status: int = 200, **context: Any) -> HTMLResponse:
    context.update(user=await visit.user(), csrf_token=visit.csrf_token,
                   request_id=visit.request_id, cart_count=await cart_count(visit))
    return templates.TemplateResponse(visit.request, name, context, status_code=status)


async def cart_count(visit: Visit) -> int:
    cart: dict[str, int] = (await visit.data()).get("cart", {})
    return sum(cart.values())


async def form(visit: Visit) -> FormData:
    data = await visit.request.form()
    if not csrf.valid(visit.secret, visit.sid, data.get(csrf.FIELD)):
        raise CsrfRefused
    return data


def see_other(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


def problem(error: ApiError) -> dict[str, Any]:
    """What an error box shows: a readable message and the request id to quote."""
    return {"message": error.message, "title": error.title, "status": error.status,
            "request_id": error.request_id}
