"""Races that matter for security, through the whole suite over HTTP."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor


def _parallel(n, fn):
    with ThreadPoolExecutor(n) as pool:
        return list(pool.map(lambda _: fn(), range(n)))


def test_concurrent_refresh_with_one_token_lets_one_win_and_revokes_the_family(
        http, register, login):
    user = register()
    pair = login(user["email"])
    responses = _parallel(4, lambda: http.post("/auth/refresh",
                                               json={"refresh_token": pair["refresh_token"]}))
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200, 401, 401, 401], statuses
    (winner,) = [r.json() for r in responses if r.status_code == 200]
    # No grace window: a duplicate presentation is treated as reuse, so the family is dead.
    assert http.post("/auth/refresh", json={"refresh_token": winner["refresh_token"]}
                     ).status_code == 401


def test_concurrent_failed_logins_never_exceed_five_checks(http, register):
    user = register()
    body = {"email": user["email"], "password": "definitely wrong"}
    responses = _parallel(10, lambda: http.post("/auth/login", json=body))
    statuses = [r.status_code for r in responses]
    assert statuses.count(401) <= 5, statuses
    assert set(statuses) <= {401, 429, 503}, statuses
    assert http.post("/auth/login", json=body).status_code == 429
