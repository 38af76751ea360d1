"""Fuzz the running gateway against its own `/openapi.json` with schemathesis, every check on.

The session `suite` (the whole suite as `make run` starts it) is the target: every operation of
the document gets generated requests, valid and invalid, and every response is checked against
the document (status codes, content types, headers, schemas), for server errors, for invalid
data it accepts or valid data it refuses, and for auth the route ignores. It runs twice, signed
in as the suite's admin and as a customer: what an admin route answers a customer (403) must be
in the document too.

Bounded: FUZZ_EXAMPLES examples per operation and identity (default 25, about two minutes in
all), derandomised: every run tries the same cases, so a CI failure reproduces. Explore further
with e.g. `FUZZ_EXAMPLES=300 make test PYTEST_ARGS=tests/fuzz`.

The document is built from the app at collection time and compared with the served one, rather
than loaded from the fixture with `schemathesis.pytest.from_fixture`: that loader sets pytest's
private `Node._nodeid`, which pytest 9.2 no longer has.
"""

from __future__ import annotations

import logging
import os
import uuid
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.config import SchemathesisConfig
from schemathesis.core.parameters import ParameterLocation
from schemathesis.specs.openapi.checks import positive_data_acceptance

from gateway.app import create_app
from gateway.config import GatewaySettings

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "25"))
PASSWORD = "fuzzing customer password"


def _document() -> dict[str, Any]:
    """The gateway's OpenAPI document, built from the app without serving it (collection time,
    before the suite runs); `test_the_fuzzed_document_is_the_served_one` checks it is the
    document the running gateway serves at /openapi.json."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    try:
        return create_app(GatewaySettings()).openapi()
    finally:  # create_app configures the process's logging for a gateway; keep pytest's
        root.handlers[:], root.level = handlers, level


# Every check on. Where http-api.md answers 422 for a condition no JSON Schema can state (the
# body is well-formed but names things that do not exist or do not add up), a schema-valid
# request may be refused with 422 without that being a contract bug:
# - POST /payments: an unknown product, several currencies, an unsupported payment method, or
#   the key reused with another body (generated product ids never exist);
# - POST /payments/{id}/refunds: more than what is left, or restock on a partial refund.
# Everything else about these operations is still checked (statuses, schemas, negative data).
DATA_DEPENDENT_422 = ["POST /payments", "POST /payments/{payment_id}/refunds"]
CONFIG = SchemathesisConfig.from_dict({
    "checks": {"enabled": True},
    "operations": [{"include-name": name, "checks": {"positive_data_acceptance": {
        "expected-statuses": ["2xx", "3xx", "401", "403", "404", "409", "422", "429", "5xx"]}}}
        for name in DATA_DEPENDENT_422],
})
DOCUMENT = _document()
schema = schemathesis.openapi.from_dict(DOCUMENT, config=CONFIG)


def _integral_float(value: Any) -> bool:
    if isinstance(value, float):
        return value.is_integer()
    if isinstance(value, dict):
        return any(_integral_float(v) for v in value.values())
    if isinstance(value, list):
        return any(_integral_float(v) for v in value)
    return False


@schema.hook
def filter_body(context: Any, body: Any) -> bool:
    """No bodies with numbers like 1999.0. JSON Schema's "integer" includes them, but http-api.md
    says money is integer minor units, never floats, and the gateway refuses a number written
    with a fraction in every integer field (strict ints; gateway/tests/unit/
    test_payments_routes.py::test_checkout_bodies_are_strict). The document cannot say that.
    Every other number, valid or not (19.99, strings, huge values), is still generated."""
    return not _integral_float(body)


def _auth(case: Any, token: dict[str, str]) -> dict[str, str]:
    """The identity's token, except in a negative case that dropped the required Authorization
    header (the security scheme): adding it back would undo the case, which is about no token."""
    generated = {name.lower() for name in (case.headers or {})}
    header = case.meta.components.get(ParameterLocation.HEADER) if case.meta else None
    if header is not None and header.mode.is_negative and "authorization" not in generated:
        return {}
    return token


def _call(case: Any, url: str, token: dict[str, str]) -> None:
    # A listing cursor is opaque: a string the server did not issue is 422 by contract (bad
    # params) and no schema can tell the ones it issued. Only for requests that send one, the
    # "schema-valid data accepted" check is left out; every other check still runs.
    excluded = [positive_data_acceptance] if "cursor" in (case.query or {}) else []
    case.call_and_validate(base_url=url, headers=_auth(case, token), excluded_checks=excluded,
                           timeout=30)


def test_the_fuzzed_document_is_the_served_one(suite: Any) -> None:
    served = httpx.get(f"{suite.url}/openapi.json", timeout=30)
    assert served.status_code == 200
    assert served.json() == DOCUMENT


def _login(url: str, email: str, password: str) -> dict[str, str]:
    response = httpx.post(f"{url}/auth/login", json={"email": email, "password": password},
                          timeout=30)
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


@pytest.fixture(scope="module")
def admin_headers(suite: Any, suite_env: dict[str, str]) -> dict[str, str]:
    # The admin the suite bootstraps from ADMIN_EMAIL / ADMIN_PASSWORD (root conftest).
    return _login(suite.url, suite_env["ADMIN_EMAIL"], suite_env["ADMIN_PASSWORD"])


@pytest.fixture(scope="module")
def customer_headers(suite: Any) -> dict[str, str]:
    email = f"fuzz-{uuid.uuid4().hex[:12]}@example.com"
    registered = httpx.post(f"{suite.url}/auth/register",
                            json={"email": email, "password": PASSWORD}, timeout=30)
    assert registered.status_code == 201, registered.text
    return _login(suite.url, email, PASSWORD)


BOUNDED = settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
                   suppress_health_check=list(HealthCheck))


@schema.parametrize()
@BOUNDED
def test_as_admin(case: Any, suite: Any, admin_headers: dict[str, str]) -> None:
    _call(case, suite.url, admin_headers)


@schema.parametrize()
@BOUNDED
def test_as_customer(case: Any, suite: Any, customer_headers: dict[str, str]) -> None:
    _call(case, suite.url, customer_headers)
