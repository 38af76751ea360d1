"""Throwaway RabbitMQ vhosts and PostgreSQL databases, so tests never touch a developer's data."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "deploy" / "local"))
import broker_users  # noqa: E402

SERVICES = ("auth", "catalog", "payments")
BROKER_HOST = os.environ.get("TEST_AMQP_HOST", "127.0.0.1:5672")
PG_SERVER = os.environ.get("TEST_PG_SERVER", "postgresql+psycopg2://postgres@127.0.0.1:5432")


def unique(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:10]}"


def _rabbitmqctl(*args: str) -> None:
    result = subprocess.run(["rabbitmqctl", "-q", *args], capture_output=True, text=True,
                            timeout=60, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"rabbitmqctl {' '.join(args)} failed: {result.stderr.strip()}")


def create_vhost(name: str) -> str:
    """A vhost where `guest` (the tests' own tooling, never a component) may do anything."""
    _rabbitmqctl("add_vhost", name)
    _rabbitmqctl("set_permissions", "-p", name, "guest", ".*", ".*", ".*")
    return f"amqp://guest:guest@{BROKER_HOST}/{name}"


def component_uris(amqp_uri: str) -> dict[str, str]:
    """{component: AMQP URI}: each component's own user, with the permissions of
    deploy/rabbitmq/permissions.json on the vhost of `amqp_uri` (as `make run` makes them)."""
    env: dict[str, str] = {k: v for k, v in os.environ.items() if not k.endswith("_AMQP_URI")}
    broker_users.provision(env, amqp_uri)
    return {name: env[f"{name.upper()}_AMQP_URI"] for name in broker_users.components()}


def vhost_env(name: str) -> dict[str, str]:
    """A new vhost: AMQP_URI (the tests' guest) and every component's own URI on it."""
    uri = create_vhost(name)
    return {"AMQP_URI": uri, **component_env(component_uris(uri))}


def component_env(uris: dict[str, str]) -> dict[str, str]:
    """`<COMPONENT>_AMQP_URI` for each component: what run.py hands each child as AMQP_URI."""
    return {f"{name.upper()}_AMQP_URI": uri for name, uri in uris.items()}


def delete_vhost(name: str) -> None:
    _rabbitmqctl("delete_vhost", name)


def _server_engine():  # type: ignore[no-untyped-def]
    return create_engine(make_url(PG_SERVER).set(database="postgres"),
                         isolation_level="AUTOCOMMIT")


def create_database(name: str) -> str:
    engine = _server_engine()
    with engine.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    return str(make_url(PG_SERVER).set(database=name).render_as_string(hide_password=False))


def drop_database(name: str) -> None:
    engine = _server_engine()
    with engine.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    engine.dispose()


def migrate(service: str, url: str) -> None:
    env = {**os.environ, f"{service.upper()}_DATABASE_URL": url}
    ini = ROOT / "services" / service / "alembic.ini"
    subprocess.run([sys.executable, "-m", "alembic", "-c", str(ini), "upgrade", "head"],
                   env=env, check=True, capture_output=True, timeout=120)
