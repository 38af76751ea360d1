"""Auth end to end: the whole suite (session `suite` fixture) over HTTP, plus the auth database
it writes to."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, create_engine, text

PASSWORD = "correct horse battery staple"


def unique_email(prefix: str = "user") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}@example.com"


@pytest.fixture
def new_email() -> Callable[..., str]:
    return unique_email


@pytest.fixture
def password() -> str:
    return PASSWORD


@pytest.fixture
def http(suite: Any) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=suite.url, timeout=20) as client:
        yield client


@pytest.fixture(scope="session")
def auth_db(database_urls: dict[str, str]) -> Iterator[Engine]:
    engine = create_engine(database_urls["auth"])
    yield engine
    engine.dispose()


@pytest.fixture
def register(http: httpx.Client) -> Callable[..., dict[str, Any]]:
    def _register(email: str | None = None, password: str = PASSWORD, **extra: Any
                  ) -> dict[str, Any]:
        body = {"email": email or unique_email(), "password": password, **extra}
        response = http.post("/auth/register", json=body)
        assert response.status_code == 201, response.text
        return dict(response.json())

    return _register


@pytest.fixture
def login(http: httpx.Client) -> Callable[..., dict[str, Any]]:
    def _login(email: str, password: str = PASSWORD) -> dict[str, Any]:
        response = http.post("/auth/login", json={"email": email, "password": password})
        assert response.status_code == 200, response.text
        return dict(response.json())

    return _login


@pytest.fixture
def admin_token(login: Callable[..., dict[str, Any]], suite_env: dict[str, str]) -> str:
    # The admin the suite bootstraps from ADMIN_EMAIL / ADMIN_PASSWORD.
    return str(login(suite_env["ADMIN_EMAIL"], suite_env["ADMIN_PASSWORD"])["access_token"])


def outbox_events(engine: Engine, event_type: str, user_id: str) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        rows = conn.execute(text(
            "SELECT payload FROM outbox WHERE event_type = :t AND payload->>'user_id' = :u "
            "ORDER BY id"), {"t": event_type, "u": user_id}).all()
    return [dict(row.payload) for row in rows]


@pytest.fixture
def events(auth_db: Engine) -> Callable[[str, str], list[dict[str, Any]]]:
    return lambda event_type, user_id: outbox_events(auth_db, event_type, user_id)
