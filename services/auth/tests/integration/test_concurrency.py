"""Races that matter for security, on the real auth database (the suite-wide ones over HTTP are
in tests/e2e/auth/test_races.py)."""

from __future__ import annotations

import datetime as dt
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import text

from auth.config import OWASP_MEMORY_KIB
from auth.passwords import Argon2Passwords
from auth.postgres import PostgresStore, dev_signing_keys
from auth.use_cases import Deps, ensure_admin
from shared.db import UnitOfWorkFactory, make_engine
from tests.support import infra


def _parallel(n, fn):
    with ThreadPoolExecutor(n) as pool:
        return list(pool.map(lambda _: fn(), range(n)))


class _NoTokens:
    def issue(self, user_id, roles):
        raise AssertionError("not used")


def test_concurrent_admin_bootstrap_creates_one_admin_and_one_set_of_events(database_urls):
    engine = make_engine(database_urls["auth"], pool_size=4)
    deps = Deps(store=PostgresStore(UnitOfWorkFactory(engine)),
                passwords=Argon2Passwords(OWASP_MEMORY_KIB, 2, 1), tokens=_NoTokens(),
                refresh_ttl=dt.timedelta(days=1))
    email = f"root-{uuid.uuid4().hex[:10]}@example.com"
    _parallel(4, lambda: ensure_admin(deps, email, "an admin password"))
    ensure_admin(deps, email.upper(), "an admin password")  # a restart: nothing changes
    with engine.connect() as conn:
        users = conn.execute(text("SELECT id, roles FROM users WHERE email_key = :e"),
                             {"e": email}).all()
        assert len(users) == 1 and users[0].roles == ["customer", "admin"]
        kinds = conn.execute(text("SELECT event_type FROM outbox WHERE payload->>'user_id' = :u"
                                  " ORDER BY id"), {"u": str(users[0].id)}).scalars().all()
    engine.dispose()
    assert kinds == ["user_registered", "user_roles_changed"]


@pytest.fixture
def fresh_auth_db():
    name = infra.unique("test_authkeys")
    url = infra.create_database(name)
    infra.migrate("auth", url)
    yield url
    infra.drop_database(name)


def test_replicas_starting_together_agree_on_one_generated_key(fresh_auth_db):
    engine = make_engine(fresh_auth_db, pool_size=4)
    factory = UnitOfWorkFactory(engine)
    rings = _parallel(4, lambda: dev_signing_keys(factory))
    engine.dispose()
    assert len({ring.signing.kid for ring in rings}) == 1
    assert all(len(ring.keys) == 1 for ring in rings)
