"""Start-up problems are one line each, naming the variable and the fix: no tracebacks."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from chaos.infra import PG_BIN, PrivatePostgres
from tests.support import infra
from tests.support.suite import free_port

PREPARE = str(infra.ROOT / "deploy" / "local" / "prepare.py")
NAMEKO = str(Path(sys.executable).parent / "nameko")
PASSWORD = "right-horse-battery"


class ScramPostgres(PrivatePostgres):
    """A stock PostgreSQL: every connection must present a password (scram-sha-256)."""

    def init(self) -> None:
        pwfile = self.dir / "pwfile"
        pwfile.write_text(PASSWORD + "\n")
        prefix = []
        if self.user:
            shutil.chown(pwfile, self.user, self.user)
            prefix = ["runuser", "-u", self.user, "--"]
        subprocess.run([*prefix, str(PG_BIN / "initdb"), "-D", str(self.dir / "data"),
                        "-U", "postgres", "-A", "scram-sha-256", f"--pwfile={pwfile}",
                        "--no-sync", "-E", "UTF8"],
                       check=True, capture_output=True, timeout=120, cwd=self.dir)


@pytest.fixture(scope="module")
def scram_postgres() -> Iterator[ScramPostgres]:
    base = Path(tempfile.mkdtemp(prefix="scram-pg-"))  # not under pytest's 0700 directory
    try:
        server = ScramPostgres(base)
        server.init()
        server.start()
        try:
            yield server
        finally:
            server.stop()
    finally:
        shutil.rmtree(base, ignore_errors=True)


def run(argv: list[str], **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, env={**os.environ, **env}, capture_output=True, text=True,
                          timeout=120, check=False)


def error_lines(result: subprocess.CompletedProcess[str]) -> list[str]:
    assert "Traceback" not in result.stderr, result.stderr
    return [line for line in result.stderr.splitlines() if line.startswith("error: ")]


def test_every_unreachable_server_is_named_at_once() -> None:
    dead_pg, dead_amqp, dead_redis = free_port(), free_port(), free_port()
    result = run([sys.executable, PREPARE],
                 AMQP_URI=f"amqp://guest:guest@127.0.0.1:{dead_amqp}/",
                 REDIS_URL=f"redis://127.0.0.1:{dead_redis}/0",
                 AUTH_DATABASE_URL=f"postgresql://postgres@127.0.0.1:{dead_pg}/auth",
                 CATALOG_DATABASE_URL=f"postgres://postgres@127.0.0.1:{dead_pg}/catalog",
                 PAYMENTS_DATABASE_URL="mysql://shop@127.0.0.1/payments")
    assert result.returncode == 2
    lines = error_lines(result)
    assert len(lines) == 4, result.stderr
    assert lines[0].startswith("error: PAYMENTS_DATABASE_URL: 'mysql' is not PostgreSQL")
    assert lines[1].startswith("error: AUTH_DATABASE_URL/CATALOG_DATABASE_URL: PostgreSQL is "
                               f"not reachable at 127.0.0.1:{dead_pg}; start it with")
    assert lines[2].startswith("error: AMQP_URI: RabbitMQ is not reachable")
    assert lines[3].startswith("error: REDIS_URL: Redis is not reachable")


def test_a_wrong_password_on_a_stock_postgresql_is_one_line(scram_postgres: ScramPostgres) -> None:
    url = f"postgresql://postgres:not-it@127.0.0.1:{scram_postgres.port}"
    result = run([sys.executable, PREPARE], AUTH_DATABASE_URL=f"{url}/auth",
                 CATALOG_DATABASE_URL=f"{url}/catalog", PAYMENTS_DATABASE_URL=f"{url}/payments")
    assert result.returncode == 2
    assert error_lines(result) == [
        "error: AUTH_DATABASE_URL/CATALOG_DATABASE_URL/PAYMENTS_DATABASE_URL: PostgreSQL at "
        f"127.0.0.1:{scram_postgres.port} refused the password of user 'postgres'; put the right "
        "one in AUTH_DATABASE_URL/CATALOG_DATABASE_URL/PAYMENTS_DATABASE_URL "
        "(postgresql://user:PASSWORD@host/database)"]
    assert "not-it" not in result.stderr


def test_a_service_started_alone_names_its_wrong_password(scram_postgres: ScramPostgres) -> None:
    result = run([NAMEKO, "run", "--config", str(infra.ROOT / "services/auth/config.yaml"),
                  "auth.service:AuthService"], AUTH_DATABASE_URL=(
                      f"postgresql://postgres:not-it@127.0.0.1:{scram_postgres.port}/auth"),
                 AMQP_URI=f"amqp://guest:guest@127.0.0.1:{free_port()}/")
    assert result.returncode == 2
    assert "Traceback" not in result.stderr, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.startswith(("error", "warn"))]
    assert lines[0].startswith("error: AUTH_DATABASE_URL: PostgreSQL at ")
    assert "refused the password of user 'postgres'" in lines[0]
    # A broker that is down may come back: named, but not a reason to stop on its own.
    assert lines[1].startswith("warning: AMQP_URI: RabbitMQ is not reachable")
    assert len(lines) == 2


def test_a_service_started_alone_names_its_missing_database() -> None:
    missing = infra.unique("missing")
    server = infra.PG_SERVER.replace("postgresql+psycopg2://", "postgresql://")
    result = run([NAMEKO, "run", "--config", str(infra.ROOT / "services/catalog/config.yaml"),
                  "catalog.service:CatalogService"], CATALOG_DATABASE_URL=f"{server}/{missing}")
    assert result.returncode == 2
    [line] = error_lines(result)
    assert line.startswith(f"error: CATALOG_DATABASE_URL: database '{missing}' does not exist")


def test_the_gateway_names_each_unreachable_server_and_starts_anyway() -> None:
    env = {**os.environ, "AMQP_URI": f"amqp://guest:guest@127.0.0.1:{free_port()}/",
           "REDIS_URL": f"redis://127.0.0.1:{free_port()}/0", "GATEWAY_PORT": str(free_port())}
    gateway = subprocess.Popen([sys.executable, "-m", "gateway"], env=env, text=True,
                               stderr=subprocess.PIPE, stdout=subprocess.DEVNULL)
    try:
        assert gateway.stderr is not None
        lines = [gateway.stderr.readline() for _ in range(2)]
        assert lines[0].startswith("warning: AMQP_URI: RabbitMQ is not reachable")
        assert lines[1].startswith("warning: REDIS_URL: Redis is not reachable")
        assert all("starts anyway" in line for line in lines)
        assert gateway.poll() is None
    finally:
        gateway.terminate()
        gateway.wait(15)
