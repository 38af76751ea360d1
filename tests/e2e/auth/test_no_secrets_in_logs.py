"""Passwords, tokens and keys never reach a log line of any process of the suite."""

from __future__ import annotations

import time

from sqlalchemy import text


def test_secrets_stay_out_of_the_logs(http, suite, register, login, password, auth_db,
                                      suite_env):
    user = register()
    pair = login(user["email"])
    http.get("/auth/me", headers={"Authorization": f"Bearer {pair['access_token']}"})
    http.post("/auth/refresh", json={"refresh_token": pair["refresh_token"]})
    http.post("/auth/refresh", json={"refresh_token": pair["refresh_token"]})  # reuse: warned
    http.post("/auth/login", json={"email": user["email"], "password": "a wrong password"})
    http.get("/auth/me", headers={"Authorization": "Bearer forged.token.value"})
    time.sleep(1.0)  # let the log pumps flush
    log = suite.log()
    with auth_db.connect() as conn:
        pem = conn.execute(text("SELECT private_key_pem FROM signing_keys")).scalars().first()
    secrets = {"password": password, "wrong password": "a wrong password",
               "admin password": suite_env["ADMIN_PASSWORD"],
               "access token": pair["access_token"].split(".")[2],
               "refresh token": pair["refresh_token"], "forged token": "forged.token.value",
               "private key": pem.splitlines()[1]}
    leaked = [name for name, value in secrets.items() if value in log]
    assert not leaked, f"leaked into the logs: {leaked}"
    assert "spent refresh token presented" in log
