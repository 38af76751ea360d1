"""GET /admin/users and GET /admin/ops against the whole suite (session `suite` fixture)."""

from __future__ import annotations

import uuid

import httpx
import pytest

PASSWORD = "correct horse battery staple"


@pytest.fixture
def http(suite):
    with httpx.Client(base_url=suite.url, timeout=20) as client:
        yield client


def _token(http, email, password=PASSWORD):
    response = http.post("/auth/login", json={"email": email, "password": password})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


@pytest.fixture
def admin(http, suite_env):
    return _token(http, suite_env["ADMIN_EMAIL"], suite_env["ADMIN_PASSWORD"])


def _register(http, tag, name=None):
    email = f"{tag}-{uuid.uuid4().hex[:10]}@example.com"
    body = {"email": email, "password": PASSWORD, **({"display_name": name} if name else {})}
    assert http.post("/auth/register", json=body).status_code == 201
    return email


def test_admin_searches_users_and_pages_by_cursor(http, admin):
    tag = f"dir{uuid.uuid4().hex[:6]}"
    emails = [_register(http, tag) for _ in range(3)]
    named = _register(http, "other", name=f"Ada {tag}_x")
    first = http.get("/admin/users", params={"q": tag.upper(), "limit": 2}, headers=admin)
    assert first.status_code == 200, first.text
    page = first.json()
    assert len(page["items"]) == 2 and page["next_cursor"]
    rest = http.get("/admin/users", params={"q": tag, "limit": 2, "cursor": page["next_cursor"]},
                    headers=admin).json()
    found = [u["email"] for u in page["items"] + rest["items"]]
    # Newest first; the display name matches too; LIKE wildcards in q are literal.
    assert found == [named, *reversed(emails)]
    assert rest["next_cursor"] is None
    assert http.get("/admin/users", params={"q": f"{tag}%"}, headers=admin).json()["items"] == []
    assert set(page["items"][0]) == {"id", "email", "display_name", "roles", "created_at"}


def test_admin_users_refuses_customers_and_bad_cursors(http, admin):
    customer = _token(http, _register(http, "cust"))
    assert http.get("/admin/users", headers=customer).status_code == 403
    assert http.get("/admin/users").status_code == 401
    bad = http.get("/admin/users", params={"cursor": "not-a-cursor"}, headers=admin)
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "cursor"
    assert http.get("/admin/users", params={"limit": 101}, headers=admin).status_code == 422


def test_ops_reports_services_queues_outbox_and_pending(http, admin):
    customer = _token(http, _register(http, "ops"))
    assert http.get("/admin/ops", headers=customer).status_code == 403
    response = http.get("/admin/ops", headers=admin)
    assert response.status_code == 200, response.text
    ops = response.json()
    assert ops["broker"] == "up"
    assert ops["services"] == {"auth": "up", "catalog": "up", "payments": "up"}
    names = {q["queue"]: q for q in ops["queues"]}
    assert names["rpc-catalog"]["exists"] and names["rpc-catalog"]["consumers"] >= 1
    assert "rpc-catalog.dlq" in names
    assert [row["service"] for row in ops["outbox"]] == ["auth", "catalog", "payments"]
    assert all(isinstance(row["pending"], int) for row in ops["outbox"])
    assert isinstance(ops["pending_count"], int) and isinstance(ops["pending_payments"], list)
