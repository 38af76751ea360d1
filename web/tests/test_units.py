"""Unit tests of the web front end's pure parts: CSRF tokens, settings, the edge headers and
cookie, money, local redirects."""

from __future__ import annotations

import pytest
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from web import csrf, sessions
from web.config import BadConfig, settings
from web.edge import CSP, Edge
from web.pages import money
from web.routes.account import _local


def test_csrf_token_is_bound_to_the_session_and_the_secret():
    sid = sessions.new_sid()
    token = csrf.token("s" * 32, sid)
    assert csrf.valid("s" * 32, sid, token)
    assert not csrf.valid("s" * 32, sessions.new_sid(), token)
    assert not csrf.valid("t" * 32, sid, token)
    assert not csrf.valid("s" * 32, sid, None)
    assert not csrf.valid("s" * 32, sid, "")


def test_session_ids_are_random_and_checked():
    sid = sessions.new_sid()
    assert sessions.valid_sid(sid) and sid != sessions.new_sid()
    assert not sessions.valid_sid("short") and not sessions.valid_sid(None)
    assert not sessions.valid_sid(sid[:-1] + ";")


def test_settings_refuse_bad_values_with_one_line():
    with pytest.raises(BadConfig, match="WEB_PORT"):
        settings({"WEB_PORT": "eighty", "WEB_SECRET": "x" * 16})
    with pytest.raises(BadConfig, match="WEB_SECRET"):
        settings({"WEB_SECRET": "short"})
    with pytest.raises(BadConfig, match="WEB_SECURE_COOKIES"):
        settings({"WEB_SECRET": "x" * 16, "WEB_SECURE_COOKIES": "maybe"})
    config = settings({"WEB_SECRET": "x" * 16, "WEB_API_URL": "http://gw:8000/"})
    assert config.api_url == "http://gw:8000" and config.port == 8080
    assert len(settings({}).secret) >= 32  # none set: a random one


def _client(secure: bool) -> TestClient:
    async def page(request):
        return PlainTextResponse(request.state.request_id)

    app = Starlette(routes=[Route("/", page), Route("/static/x.css", page)])
    return TestClient(Edge(app, secure=secure, session_ttl=60), base_url="https://testserver")


def test_edge_sets_security_headers_a_request_id_and_a_session_cookie():
    client = _client(secure=True)
    first = client.get("/")
    assert first.headers["content-security-policy"] == CSP
    assert "script-src 'self'" in CSP and "unsafe-inline" not in CSP
    assert first.headers["x-frame-options"] == "DENY"
    assert first.headers["x-content-type-options"] == "nosniff"
    assert first.headers["cache-control"] == "no-store"
    assert first.headers["x-request-id"] == first.text
    cookie = first.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" in cookie
    assert "strict-transport-security" in first.headers
    # The cookie is kept: no new one; a client's sane request id is used.
    again = client.get("/", headers={"X-Request-ID": "abcdef12-3456"})
    assert "set-cookie" not in again.headers and again.text == "abcdef12-3456"
    static = client.get("/static/x.css")
    assert "cache-control" not in static.headers and "set-cookie" not in static.headers


def test_edge_replaces_a_malformed_cookie_and_request_id():
    client = _client(secure=False)
    client.cookies.set(sessions.COOKIE, "not-a-session-id")
    answer = client.get("/", headers={"X-Request-ID": "bad id!"})
    assert "Secure" not in answer.headers["set-cookie"]
    assert answer.text != "bad id" and len(answer.text) == 36


def test_money_is_minor_units_as_text():
    assert money(1999, "USD") == "19.99 USD"
    assert money(5, "EUR") == "0.05 EUR"
    assert money(123456789) == "1,234,567.89 USD"
    assert money(-250) == "-2.50 USD"
    assert money(None) == "-"


@pytest.mark.parametrize(("target", "expected"), [
    ("/cart", "/cart"), ("/admin/ops?x=1", "/admin/ops?x=1"), ("//evil.example", "/"),
    ("https://evil.example", "/"), ("/\\evil.example", "/"), (None, "/"), ("", "/")])
def test_sign_in_only_redirects_to_local_paths(target, expected):
    assert _local(target) == expected
