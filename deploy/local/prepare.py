"""Before the suite starts: reach every backing server, create databases, migrate.

Every unreachable server, refused password or bad URL is reported at once, one line each,
naming the variable to fix; nothing is created until all of them answer.
"""

from __future__ import annotations

import os
import subprocess
import sys
from functools import partial
from pathlib import Path

import broker_users
from sqlalchemy import create_engine, pool, text
from sqlalchemy.engine import make_url

from shared import preflight
from shared.settings import DEFAULT_AMQP_URI

ROOT = Path(__file__).resolve().parents[2]
SERVICES = ("auth", "catalog", "payments")


class NotReachable(Exception):
    """Backing servers are down or refuse us; the message has one line per problem."""


def database_url(service: str, env: dict[str, str]) -> str:
    return preflight.service_database_url(service, env)


def check_servers(env: dict[str, str]) -> None:
    """Each PostgreSQL server (through its `postgres` database: ours may not exist yet),
    RabbitMQ and Redis, all before reporting. Databases sharing a server are checked once."""
    found: list[str] = []
    servers: dict[str, list[str]] = {}
    for service in SERVICES:
        variable = preflight.database_variable(service)
        try:
            server = make_url(database_url(service, env)).set(database="postgres")
        except ValueError as exc:
            found.append(f"{variable}: {exc}")
            continue
        servers.setdefault(server.render_as_string(hide_password=False), []).append(variable)
    checks: list[preflight.Check] = [
        partial(preflight.postgres_problem, "/".join(names), url)
        for url, names in servers.items()]
    checks.append(partial(preflight.amqp_problem, env.get("AMQP_URI") or DEFAULT_AMQP_URI))
    if env.get("RATE_LIMIT_ENABLED", "true").strip().lower() not in ("false", "0", "no"):
        # The gateway needs Redis only for its rate limits (make chaos runs without either).
        checks.append(partial(preflight.redis_problem,
                              env.get("REDIS_URL") or preflight.DEFAULT_REDIS_URL))
    found += preflight.problems(checks)
    if found:
        raise NotReachable("\n".join(found))


def declare_topology(env: dict[str, str]) -> None:
    """Every event exchange and queue, before any service runs: no event is routed nowhere."""
    from kombu import Connection

    from shared.messaging.topology import declare_topology as declare

    with Connection(env.get("AMQP_URI", DEFAULT_AMQP_URI), connect_timeout=3) as conn:
        declare(conn)


def ensure_database(service: str, url: str) -> None:
    target = make_url(url)
    engine = create_engine(target.set(database="postgres"), poolclass=pool.NullPool,
                           isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            exists = conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"),
                                  {"n": target.database}).scalar()
            if not exists:
                conn.execute(text(f'CREATE DATABASE "{target.database}"'))
    except Exception as exc:
        variable = preflight.database_variable(service)
        raise NotReachable(f"{variable}: could not create database {target.database!r} "
                           f"({str(getattr(exc, 'orig', exc)).strip().splitlines()[0]}); "
                           f"create it yourself or give the user in {variable} CREATEDB") from None
    finally:
        engine.dispose()


def migrate(service: str, env: dict[str, str]) -> None:
    ini = ROOT / "services" / service / "alembic.ini"
    result = subprocess.run([sys.executable, "-m", "alembic", "-c", str(ini), "upgrade", "head"],
                            env=env, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        sys.stderr.write(result.stderr)
        raise RuntimeError(f"migrating {service} failed")


def prepare(env: dict[str, str]) -> None:
    check_servers(env)
    # One broker user per component (docs/security.md): sets <COMPONENT>_AMQP_URI in env.
    broker_users.provision(env, env.get("AMQP_URI", DEFAULT_AMQP_URI))
    declare_topology(env)
    for service in SERVICES:
        ensure_database(service, database_url(service, env))
        migrate(service, env)



def main() -> int:
    try:
        prepare(dict(os.environ))
    except NotReachable as exc:
        for line in str(exc).splitlines():
            print(f"error: {line}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
