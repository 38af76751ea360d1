"""Admin role changes, the admin bootstrap, and the events each change leaves in the outbox."""

from __future__ import annotations

import uuid


def _auth(token):
    return {"Authorization": f"Bearer {token}"}


def test_bootstrapped_admin_exists(http, admin_token, suite_env):
    me = http.get("/auth/me", headers=_auth(admin_token)).json()
    assert me["email"] == suite_env["ADMIN_EMAIL"]
    assert set(me["roles"]) == {"customer", "admin"}


def test_admin_changes_roles_and_one_event_is_recorded(http, register, admin_token, events):
    user = register()
    assert len(events("user_registered", user["id"])) == 1
    assert events("user_registered", user["id"])[0]["email"] == user["email"]
    url = f"/auth/users/{user['id']}/roles"
    response = http.put(url, json={"roles": ["customer", "admin"]}, headers=_auth(admin_token))
    assert response.status_code == 200, response.text
    assert response.json()["roles"] == ["customer", "admin"]
    # The same roles again is no change: no second event.
    assert http.put(url, json={"roles": ["admin", "customer"]},
                    headers=_auth(admin_token)).status_code == 200
    changed = events("user_roles_changed", user["id"])
    assert len(changed) == 1
    assert changed[0]["roles"] == ["customer", "admin"]
    assert {"event_id", "occurred_at", "schema_version"} <= set(changed[0])
    assert len(events("user_registered", user["id"])) == 1


def test_customer_on_an_admin_route_is_403(http, register, login):
    user = register()
    token = login(user["email"])["access_token"]
    response = http.put(f"/auth/users/{user['id']}/roles", json={"roles": ["admin"]},
                        headers=_auth(token))
    assert response.status_code == 403, response.text
    assert response.headers["content-type"].startswith("application/problem+json")


def test_role_change_errors(http, register, admin_token):
    user = register()
    response = http.put(f"/auth/users/{user['id']}/roles", json={"roles": ["superuser"]},
                        headers=_auth(admin_token))
    assert response.status_code == 422 and response.json()["errors"]
    response = http.put(f"/auth/users/{uuid.uuid4()}/roles", json={"roles": ["customer"]},
                        headers=_auth(admin_token))
    assert response.status_code == 404
    response = http.put(f"/auth/users/{user['id']}/roles", json={"roles": ["customer"]})
    assert response.status_code == 401


def test_new_roles_reach_the_next_access_token(http, register, login, admin_token):
    user = register()
    pair = login(user["email"])
    http.put(f"/auth/users/{user['id']}/roles", json={"roles": ["customer", "admin"]},
             headers=_auth(admin_token))
    refreshed = http.post("/auth/refresh", json={"refresh_token": pair["refresh_token"]}).json()
    response = http.put(f"/auth/users/{user['id']}/roles", json={"roles": ["customer"]},
                        headers=_auth(refreshed["access_token"]))
    assert response.status_code == 200
