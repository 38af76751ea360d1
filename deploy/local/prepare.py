"""Before the suite starts: reach the broker and PostgreSQL, create databases, migrate."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import broker_users
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parents[2]
SERVICES = ("auth", "catalog", "payments")
DEFAULT_AMQP_URI = "amqp://guest:guest@127.0.0.1:5672/"


class NotReachable(Exception):
    """A backing server is down; the message says which and how to start it."""


def database_url(service: str, env: dict[str, str]) -> str:
    default = f"postgresql+psycopg2://postgres@127.0.0.1:5432/{service}"
    return env.get(f"{service.upper()}_DATABASE_URL", default)


def check_broker(env: dict[str, str]) -> None:
    from kombu import Connection

    uri = env.get("AMQP_URI", DEFAULT_AMQP_URI)
    try:
        with Connection(uri, connect_timeout=3) as conn:
            conn.ensure_connection(max_retries=1, timeout=3)
    except Exception as exc:
        reason = type(exc).__name__
        if reason in ("AccessRefused", "NotAllowed"):  # it runs: starting it would not help
            raise NotReachable(
                f"RabbitMQ at {_masked(uri)} refused the connection ({reason}); "
                "check the user, password and vhost in AMQP_URI") from None
        raise NotReachable(
            f"RabbitMQ is not reachable at {_masked(uri)} ({reason}); "
            "start it with `rabbitmq-server -detached` or set AMQP_URI") from None


def declare_topology(env: dict[str, str]) -> None:
    """Every event exchange and queue, before any service runs: no event is routed nowhere."""
    from kombu import Connection

    from shared.messaging.topology import declare_topology as declare

    with Connection(env.get("AMQP_URI", DEFAULT_AMQP_URI), connect_timeout=3) as conn:
        declare(conn)


def ensure_database(url: str) -> None:
    target = make_url(url)
    server = target.set(database="postgres")
    try:
        engine = create_engine(server, isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            exists = conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"),
                                  {"n": target.database}).scalar()
            if not exists:
                conn.execute(text(f'CREATE DATABASE "{target.database}"'))
        engine.dispose()
    except Exception as exc:
        if "could not connect" in str(exc) or "Connection refused" in str(exc):
            raise NotReachable(
                f"PostgreSQL is not reachable at {server.render_as_string(hide_password=True)}; "
                "start it with `pg_ctlcluster --skip-systemctl-redirect "
                "$(ls /etc/postgresql) main start` or set the *_DATABASE_URL variables") from None
        raise


def migrate(service: str, env: dict[str, str]) -> None:
    ini = ROOT / "services" / service / "alembic.ini"
    result = subprocess.run([sys.executable, "-m", "alembic", "-c", str(ini), "upgrade", "head"],
                            env=env, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        sys.stderr.write(result.stderr)
        raise RuntimeError(f"migrating {service} failed")


def prepare(env: dict[str, str]) -> None:
    check_broker(env)
    # One broker user per component (docs/security.md): sets <COMPONENT>_AMQP_URI in env.
    broker_users.provision(env, env.get("AMQP_URI", DEFAULT_AMQP_URI))
    declare_topology(env)
    for service in SERVICES:
        ensure_database(database_url(service, env))
        migrate(service, env)


def _masked(uri: str) -> str:
    try:
        return make_url(uri.replace("amqp://", "postgresql://", 1)).render_as_string(
            hide_password=True).replace("postgresql://", "amqp://", 1)
    except Exception:
        return "the configured AMQP_URI"


if __name__ == "__main__":
    try:
        prepare(dict(os.environ))
    except NotReachable as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)
