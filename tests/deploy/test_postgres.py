"""deploy/postgres/init-roles.sql on the local server (throwaway role and database names): one
login role per service owning its database, able to run its own migrations (the compose
migration step's command, as that role) and unable to open another service's database."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
from collections.abc import Iterator
from urllib.parse import quote

import psycopg2
import pytest
from sqlalchemy import create_engine, text

from tests.deploy.parity import base_env
from tests.deploy.support import SERVICES, compose_config, local_argv
from tests.support import infra

SQL = infra.ROOT / "deploy/postgres/init-roles.sql"
PSQL = shutil.which("psql")
SERVER = {"host": "127.0.0.1", "port": "5432"}


def psql(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    # As the postgres image's entrypoint runs it.
    assert PSQL, "psql (PostgreSQL's client) is needed to check the init script"
    inherited = {k: v for k, v in os.environ.items()
                 if not k.endswith(("_DB_PASSWORD", "_DB_NAME"))}
    argv = [PSQL, "-v", "ON_ERROR_STOP=1", "--no-psqlrc", "-h", SERVER["host"], "-p",
            SERVER["port"], "-U", "postgres", "-d", "postgres", "-f", str(SQL)]
    return subprocess.run(argv, env={**inherited, **env}, capture_output=True, text=True,
                          timeout=120, check=False)


def _cleanup(names: dict[str, str]) -> None:
    engine = create_engine("postgresql+psycopg2://postgres@127.0.0.1:5432/postgres",
                           isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        for name in names.values():
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            conn.execute(text(f'DROP ROLE IF EXISTS "{name}"'))
    engine.dispose()


@pytest.fixture
def roles() -> Iterator[dict[str, tuple[str, str]]]:
    """{service: (role = database name, password)} created by the init script."""
    prefix = infra.unique("deployrole")
    names = {s: f"{prefix}_{s}" for s in SERVICES}
    env = {f"{s.upper()}_DB_NAME": names[s] for s in SERVICES}
    env |= {f"{s.upper()}_DB_PASSWORD": f"pw-{s}-it's" for s in SERVICES}
    try:
        result = psql(env)
        assert result.returncode == 0, result.stderr
        yield {s: (names[s], env[f"{s.upper()}_DB_PASSWORD"]) for s in SERVICES}
    finally:
        _cleanup(names)


def url(role: str, password: str) -> str:
    return f"postgresql+psycopg2://{role}:{quote(password, safe='')}@127.0.0.1:5432/{role}"


def test_each_service_role_migrates_its_own_database(roles) -> None:
    for service, (role, password) in roles.items():
        step = compose_config()["services"][f"migrate-{service}"]
        env = {**base_env(infra.ROOT), f"{service.upper()}_DATABASE_URL": url(role, password)}
        result = subprocess.run(local_argv(step["command"]), cwd=infra.ROOT, env=env,
                                capture_output=True, text=True, timeout=300, check=False)
        assert result.returncode == 0, f"{service}: {result.stderr[-3000:]}"
        with contextlib.closing(psycopg2.connect(dbname=role, user=role, **SERVER)) as conn:
            cursor = conn.cursor()
            cursor.execute("SELECT rolsuper, rolcreatedb, rolcreaterole FROM pg_roles "
                           "WHERE rolname = current_user")
            assert cursor.fetchone() == (False, False, False)
            cursor.execute("SELECT count(*) FROM pg_tables WHERE schemaname = 'public' "
                           "AND tableowner <> current_user")
            assert cursor.fetchone() == (0,)
            cursor.execute("SELECT version_num FROM alembic_version")
            assert cursor.fetchone()


def test_no_service_can_open_another_services_database(roles) -> None:
    for service, (role, _) in roles.items():
        for other, (database, _) in roles.items():
            if other == service:
                continue
            with pytest.raises(psycopg2.OperationalError, match="permission denied"):
                psycopg2.connect(dbname=database, user=role, **SERVER).close()


def test_a_missing_password_stops_the_init() -> None:
    prefix = infra.unique("deployrole")
    names = {s: f"{prefix}_{s}" for s in SERVICES}
    env = {f"{s.upper()}_DB_NAME": names[s] for s in SERVICES} | {"AUTH_DB_PASSWORD": "x"}
    env |= {"CATALOG_DB_PASSWORD": "", "PAYMENTS_DB_PASSWORD": "y"}
    try:
        result = psql({k: v for k, v in env.items() if v})
        assert result.returncode != 0
        assert "CATALOG_DB_PASSWORD is not set" in result.stderr
    finally:
        _cleanup(names)
