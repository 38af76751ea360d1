"""Session fixtures for every test: a throwaway vhost and throwaway, migrated databases.

One pytest process, never eventlet-patched: a test that needs running nameko containers starts
them with `nameko run` in a subprocess (docs/architecture.md, "Test tiers").
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from typing import Any

import pytest

from tests.support import infra

# The admin account the suite bootstraps from ADMIN_EMAIL / ADMIN_PASSWORD in every test run.
ADMIN_EMAIL = "admin@suite.test"
ADMIN_PASSWORD = secrets.token_urlsafe(18)


@pytest.fixture(scope="session")
def amqp_uri() -> Iterator[str]:
    name = infra.unique("test")
    uri = infra.create_vhost(name)
    yield uri
    infra.delete_vhost(name)


@pytest.fixture(scope="session")
def component_uris(amqp_uri: str) -> dict[str, str]:
    """{component: AMQP URI} with that component's own broker user on the test vhost."""
    return infra.component_uris(amqp_uri)


@pytest.fixture(scope="session")
def database_urls() -> Iterator[dict[str, str]]:
    """One migrated throwaway database per service: {"auth": url, ...}."""
    prefix = infra.unique("test")
    urls: dict[str, str] = {}
    try:
        for service in infra.SERVICES:
            urls[service] = infra.create_database(f"{prefix}_{service}")
            infra.migrate(service, urls[service])
        yield urls
    finally:
        for service in infra.SERVICES:
            infra.drop_database(f"{prefix}_{service}")


@pytest.fixture(scope="session")
def suite_env(amqp_uri: str, component_uris: dict[str, str],
              database_urls: dict[str, str]) -> dict[str, str]:
    """The environment a test passes to processes it starts (services, gateway, run.py).
    AMQP_URI is the tests' own (guest) identity; run.py gives each component its own
    (`<COMPONENT>_AMQP_URI`), and a test that starts one component alone passes
    `infra.component_env` or that component's URI as AMQP_URI."""
    env = dict(os.environ)
    env.update(infra.component_env(component_uris))
    env.update({"AMQP_URI": amqp_uri, "RATE_LIMIT_ENABLED": "false", "PYTHONUNBUFFERED": "1",
                "PYTHONWARNINGS": "ignore::Warning:nameko.cli.commands",
                "ADMIN_EMAIL": ADMIN_EMAIL, "ADMIN_PASSWORD": ADMIN_PASSWORD,
                # Suites run side by side: no fixed metrics ports (tests that scrape pick free
                # ones with <SERVICE>_METRICS_PORT).
                "METRICS_PORT": "0",
                # Several suites may run at once in one session (crash and parity tests start
                # their own): small pools keep them all under PostgreSQL's 100 connections.
                "DB_POOL_SIZE": "4"})
    for service, url in database_urls.items():
        env[f"{service.upper()}_DATABASE_URL"] = url
    return env


@pytest.fixture(scope="session")
def suite(suite_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """The whole suite, started once per test session like `make run`; `suite.url` is the
    gateway. Tests that break things (kill, stop the broker) start their own with
    `tests.support.suite.running_suite` instead."""
    from tests.support.suite import running_suite

    with running_suite(suite_env, tmp_path_factory.mktemp("suite") / "suite.log") as running:
        yield running
