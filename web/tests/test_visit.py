"""The token refresh of web.visit.Visit, with fakes of its two ports (session store, API)."""

from __future__ import annotations

import asyncio
import concurrent.futures
import time
from types import SimpleNamespace

import pytest

from web.api import ApiError, Reply
from web.visit import SignInRequired, Visit


def run(coroutine):
    """asyncio.run on a thread of its own: Playwright's sync API (the browser tests in this
    session) keeps an event loop running on the main thread."""
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


class FakeStore:
    def __init__(self) -> None:
        self.data: dict[str, dict] = {}
        self.locks: dict[str, asyncio.Lock] = {}

    async def load(self, sid):
        return dict(self.data.get(sid, {}))

    async def save(self, sid, data):
        tokens = {k: v for k, v in self.data.get(sid, {}).items()
                  if k in ("access", "access_exp", "refresh")}
        self.data[sid] = {**{k: v for k, v in data.items()
                             if k not in ("access", "access_exp", "refresh")}, **tokens}

    async def save_tokens(self, sid, data):
        self.data.setdefault(sid, {}).update(
            {k: data[k] for k in ("access", "access_exp", "refresh") if k in data})

    async def delete(self, sid):
        self.data.pop(sid, None)

    def refresh_lock(self, sid):
        return self.locks.setdefault(sid, asyncio.Lock())


class FakeApi:
    """Refresh tokens are single-use, as in auth: a spent one is a 401."""

    def __init__(self) -> None:
        self.refreshes = 0
        self.spent: set[str] = set()
        self.revoked_access: set[str] = set()
        self.calls: list[str] = []

    async def call(self, method, path, *, request_id, token=None, json=None, **_):
        if path == "/auth/refresh":
            await asyncio.sleep(0.01)
            presented = json["refresh_token"]
            if presented in self.spent or presented == "dead":
                raise ApiError(401, "Unauthorized", "spent", request_id)
            self.spent.add(presented)
            self.refreshes += 1
            return Reply(200, {"access_token": f"access-{self.refreshes}",
                               "refresh_token": f"refresh-{self.refreshes}",
                               "expires_in": 900}, {})
        if token in self.revoked_access:
            raise ApiError(401, "Unauthorized", "expired", request_id)
        self.calls.append(token)
        return Reply(200, {"ok": True}, {})


def _visit(store, api, sid="s" * 43):
    app = SimpleNamespace(state=SimpleNamespace(api=api, sessions=store,
                                                settings=SimpleNamespace(secret="x" * 32)))
    state = SimpleNamespace(sid=sid, sid_changed=False, request_id="req-12345678")
    return Visit(SimpleNamespace(app=app, state=state))


def _signed_in(store, expires_in, access="access-0", refresh="refresh-0", sid="s" * 43):
    store.data[sid] = {"user": {"id": "u"}, "access": access, "refresh": refresh,
                       "access_exp": time.time() + expires_in}


def test_an_expiring_token_is_refreshed_once_for_concurrent_pages():
    store, api = FakeStore(), FakeApi()
    _signed_in(store, expires_in=5)

    async def scenario():
        await asyncio.gather(*(_visit(store, api).call("GET", "/me/overview") for _ in range(5)))

    run(scenario())
    assert api.refreshes == 1  # the others waited for the lock and used the new token
    assert api.calls == ["access-1"] * 5
    assert store.data["s" * 43]["refresh"] == "refresh-1"


def test_a_fresh_token_is_used_as_is():
    store, api = FakeStore(), FakeApi()
    _signed_in(store, expires_in=600)
    run(_visit(store, api).call("GET", "/payments"))
    assert api.refreshes == 0 and api.calls == ["access-0"]


def test_a_401_forces_one_refresh_and_a_retry():
    store, api = FakeStore(), FakeApi()
    _signed_in(store, expires_in=600)
    api.revoked_access.add("access-0")
    run(_visit(store, api).call("GET", "/payments"))
    assert api.refreshes == 1 and api.calls == ["access-1"]


def test_a_failed_refresh_ends_the_session():
    store, api = FakeStore(), FakeApi()
    _signed_in(store, expires_in=1, refresh="dead")
    store.data["s" * 43]["cart"] = {"p": 1}
    with pytest.raises(SignInRequired):
        run(_visit(store, api).call("GET", "/payments"))
    assert "access" not in store.data["s" * 43] and "user" not in store.data["s" * 43]
    assert store.data["s" * 43]["cart"] == {"p": 1}  # the cart survives signing out


def test_saving_a_page_never_restores_a_spent_refresh_token():
    store, api = FakeStore(), FakeApi()
    _signed_in(store, expires_in=600)

    async def scenario():
        stale = _visit(store, api)
        await stale.data()  # read before the other request refreshes
        _signed_in(store, expires_in=1)
        await _visit(store, api).call("GET", "/payments")  # refreshes: refresh-0 spent
        (await stale.data())["cart"] = {"p": 2}
        await stale.save()

    run(scenario())
    assert store.data["s" * 43]["refresh"] == "refresh-1"
    assert store.data["s" * 43]["cart"] == {"p": 2}


def test_no_session_means_sign_in():
    with pytest.raises(SignInRequired):
        run(_visit(FakeStore(), FakeApi()).call("GET", "/payments"))
