"""Reach the backing servers once at start and say, one line each, what is wrong and the fix.

Every problem is collected before anything is reported, so an operator with three servers down
reads three lines, not one and then another on each retry.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import create_engine, pool
from sqlalchemy.engine import URL, make_url

from shared.settings import DEFAULT_AMQP_URI, default_database_url, normalise_database_url

DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"
TIMEOUT = 3  # seconds per server: a firewalled host must not hold the start for minutes
START_POSTGRES = "`pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start`"
START_RABBITMQ = "`rabbitmq-server -detached`"
START_REDIS = "`redis-server --daemonize yes`"

Check = Callable[[], str | None]


def database_variable(service: str) -> str:
    return f"{service.upper()}_DATABASE_URL"


def service_database_url(service: str, env: dict[str, str]) -> str:
    return normalise_database_url(env.get(database_variable(service))
                                  or default_database_url(service))


def postgres_problem(variable: str, url: str) -> str | None:
    """None when `url` accepts a connection; else the one line that names the fix."""
    target = make_url(url)
    where = f"{target.host or 'localhost'}:{target.port or 5432}"
    try:
        engine = create_engine(target, poolclass=pool.NullPool,
                               connect_args={"connect_timeout": TIMEOUT})
        with engine.connect():
            pass
        engine.dispose()
        return None
    except Exception as exc:  # the driver's own words, sorted into what the operator must do
        reason = _first_line(exc)
    return _postgres_advice(variable, target, where, reason)


def _postgres_advice(variable: str, target: URL, where: str, reason: str) -> str:
    if "password authentication failed" in reason or "no password supplied" in reason:
        return (f"{variable}: PostgreSQL at {where} refused the password of user "
                f"{target.username!r}; put the right one in {variable} "
                "(postgresql://user:PASSWORD@host/database)")
    if "database" in reason and "does not exist" in reason:
        return (f"{variable}: database {target.database!r} does not exist at {where}; create "
                f"it (`make run` does: deploy/local/prepare.py) or fix the name in {variable}")
    if "role" in reason and "does not exist" in reason:
        return (f"{variable}: PostgreSQL at {where} has no user {target.username!r}; create "
                f"it (`createuser`) or fix the user in {variable}")
    if any(word in reason for word in ("could not connect", "Connection refused", "timeout",
                                       "could not translate", "No route")):
        return (f"{variable}: PostgreSQL is not reachable at {where}; start it with "
                f"{START_POSTGRES} or fix {variable}")
    return f"{variable}: PostgreSQL at {where} failed: {reason}"


def amqp_problem(uri: str) -> str | None:
    from kombu.connection import Connection

    try:
        with Connection(uri, connect_timeout=TIMEOUT) as conn:  # type: ignore[no-untyped-call]
            conn.ensure_connection(max_retries=1, timeout=TIMEOUT)
        return None
    except Exception as exc:
        reason = type(exc).__name__
    where = masked_amqp(uri)
    if reason == "AccessRefused":
        return (f"AMQP_URI: RabbitMQ at {where} refused the user or password; "
                "fix them in AMQP_URI (amqp://user:password@host:5672/vhost)")
    if reason == "NotAllowed":
        return (f"AMQP_URI: RabbitMQ at {where} does not let this user into the vhost; "
                "grant it (`rabbitmqctl set_permissions`) or fix the vhost in AMQP_URI")
    return (f"AMQP_URI: RabbitMQ is not reachable at {where} ({reason}); start it with "
            f"{START_RABBITMQ} or fix AMQP_URI")


def redis_problem(url: str) -> str | None:
    import redis

    client = redis.Redis.from_url(url, socket_connect_timeout=TIMEOUT, socket_timeout=TIMEOUT)
    try:
        client.ping()
        return None
    except redis.AuthenticationError:
        return "REDIS_URL: Redis refused the password; fix it in REDIS_URL"
    except redis.RedisError as exc:
        return (f"REDIS_URL: Redis is not reachable ({_first_line(exc)}); start it with "
                f"{START_REDIS} or fix REDIS_URL")
    finally:
        client.close()


def problems(checks: list[Check]) -> list[str]:
    return [line for line in (check() for check in checks) if line]


def service_checks(service: str, env: dict[str, str], database: bool = True) -> list[Check]:
    amqp = env.get("AMQP_URI") or DEFAULT_AMQP_URI
    checks: list[Check] = [lambda: amqp_problem(amqp)]
    if database:
        url = service_database_url(service, env)
        checks.insert(0, lambda: postgres_problem(database_variable(service), url))
    return checks


def transient(problem: str) -> bool:
    """A server that is down may come back by itself; a refused password will not."""
    return "is not reachable" in problem


def check_at_start(service: str, database: bool = True) -> None:
    """In a `nameko run` process only (not when tests import the service module). A server
    that is down is a warning (the service waits for it as before); anything that no restart
    can fix stops the process."""
    if Path(sys.argv[0]).name != "nameko" or "run" not in sys.argv[1:2]:
        return
    found = problems(service_checks(service, dict(os.environ), database))
    for line in found:
        print(f"{'warning' if transient(line) else 'error'}: {line}", file=sys.stderr,
              flush=True)
    if not all(transient(line) for line in found):
        raise SystemExit(2)


def masked_amqp(uri: str) -> str:
    try:
        return make_url(uri.replace("amqp://", "postgresql://", 1)).render_as_string(
            hide_password=True).replace("postgresql://", "amqp://", 1)
    except Exception:
        return "the configured AMQP_URI"


def _first_line(exc: BaseException) -> str:
    text = str(getattr(exc, "orig", None) or exc).strip()
    return text.splitlines()[0].removeprefix("FATAL:").strip() if text else type(exc).__name__
