"""Sign up, sign in (a new session id: no fixation), sign out, and "My orders"."""

from __future__ import annotations

import contextlib
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from web import sessions
from web.api import ApiError
from web.pages import form, problem, render, see_other
from web.visit import Visit, keep_tokens


def _local(target: Any) -> str:
    """Only a path on this site: never an open redirect."""
    text = str(target or "/")
    return text if text.startswith("/") and not text.startswith(("//", "/\\")) else "/"


async def signup(request: Request) -> Response:
    visit = Visit(request)
    if request.method == "GET":
        return await render(visit, "signup.html", values={})
    data = await form(visit)
    values = {"email": str(data.get("email", "")),
              "display_name": str(data.get("display_name", ""))}
    body: dict[str, Any] = {"email": values["email"], "password": str(data.get("password", ""))}
    if values["display_name"].strip():
        body["display_name"] = values["display_name"].strip()
    try:
        await visit.public("POST", "/auth/register", json=body)
        return await _sign_in(visit, values["email"], body["password"], "/")
    except ApiError as error:
        return await render(visit, "signup.html", 200 if error.status < 500 else error.status,
                            values=values, error=problem(error))


async def signin(request: Request) -> Response:
    visit = Visit(request)
    target = _local(request.query_params.get("next"))
    if request.method == "GET":
        return await render(visit, "signin.html", values={}, next=target)
    data = await form(visit)
    email = str(data.get("email", ""))
    try:
        return await _sign_in(visit, email, str(data.get("password", "")),
                              _local(data.get("next")))
    except ApiError as error:
        return await render(visit, "signin.html", 200 if error.status < 500 else error.status,
                            values={"email": email}, next=target, error=problem(error))


async def _sign_in(visit: Visit, email: str, password: str, target: str) -> Response:
    pair = (await visit.public("POST", "/auth/login",
                               json={"email": email, "password": password})).data
    user = (await visit.public("GET", "/auth/me", token=pair["access_token"])).data
    old = await visit.data()
    await visit.store.delete(visit.sid)
    visit.request.state.sid = sessions.new_sid()
    visit.request.state.sid_changed = True
    data = {"cart": old.get("cart", {}), "user": {k: user[k] for k in (
        "id", "email", "display_name", "roles")}}
    keep_tokens(data, pair)
    visit._data = data
    await visit.save()
    await visit.store.save_tokens(visit.sid, data)
    return see_other(target)


async def signout(request: Request) -> Response:
    visit = Visit(request)
    await form(visit)
    refresh = (await visit.data()).get("refresh")
    if refresh:
        # The session ends here anyway; an unrevoked family expires on its own.
        with contextlib.suppress(ApiError):
            await visit.public("POST", "/auth/logout", json={"refresh_token": refresh})
    await visit.store.delete(visit.sid)
    visit.request.state.sid = sessions.new_sid()
    visit.request.state.sid_changed = True
    return see_other("/")


async def orders(request: Request) -> Response:
    visit = Visit(request)
    await visit.require_user()
    overview = (await visit.call("GET", "/me/overview")).data
    page = (await visit.call("GET", "/payments", params={
        "limit": 20, "cursor": request.query_params.get("cursor")})).data
    return await render(visit, "orders.html", overview=overview, payments=page["items"],
                        next_cursor=page["next_cursor"],
                        placed=request.query_params.get("placed"))


routes = [
    Route("/signup", signup, methods=["GET", "POST"]),
    Route("/signin", signin, methods=["GET", "POST"]),
    Route("/signout", signout, methods=["POST"]),
    Route("/orders", orders),
]
