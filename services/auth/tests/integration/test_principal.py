"""shared.nameko.principal.Principal in a service other than auth: the JWKS comes from
`auth.get_jwks` over RPC, the identity only from a token auth signed.

auth and a test-only service (whoami_service.py) run in one `nameko run` subprocess (eventlet
patches that process, not this one), on a vhost and an auth database of their own; the test
speaks nameko's RPC wire format with a plain AMQP client.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pika
import pytest

from tests.security.test_forged_amqp import PlainRpc
from tests.support import infra

PASSWORD = "correct horse battery staple"
GUEST = "guest"  # the tests' broker user (tests/support/infra.create_vhost)
HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[3]
NAMEKO = Path(sys.executable).parent / "nameko"
SERVICES = ("auth", "whoami")


def _consumed(amqp_uri: str, queue: str) -> bool:
    connection = pika.BlockingConnection(pika.URLParameters(amqp_uri))
    try:
        return connection.channel().queue_declare(queue, passive=True).method.consumer_count > 0
    except pika.exceptions.ChannelClosedByBroker:
        return False  # not declared yet
    finally:
        connection.close()


def _wait_until_serving(amqp_uri: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60
    while not all(_consumed(amqp_uri, f"rpc-{name}") for name in SERVICES):
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"auth and whoami did not start:\n{log.read_text()[-4000:]}")
        time.sleep(0.2)


@pytest.fixture(scope="module")
def amqp(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    vhost, database = infra.unique("principal"), infra.unique("test_principal")
    amqp_uri, database_url = infra.create_vhost(vhost), infra.create_database(database)
    infra.migrate("auth", database_url)
    # One broker user for everything here: say so, so that auth accepts calls that name the
    # gateway as their caller and whoami believes auth's key set (shared.messaging.identity).
    env = {**os.environ, "AMQP_URI": amqp_uri, "AUTH_DATABASE_URL": database_url,
           "AUTH_BUS_USER": GUEST, "GATEWAY_BUS_USER": GUEST, "METRICS_PORT": "0",
           "PYTHONPATH": os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")])}
    for name in ("ADMIN_EMAIL", "ADMIN_PASSWORD", "AUTH_SIGNING_KEYS"):
        env.pop(name, None)
    log = tmp_path_factory.mktemp("principal") / "nameko.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [str(NAMEKO), "run", "--config", str(ROOT / "services/auth/config.yaml"),
             "auth.service:AuthService", "whoami_service:WhoAmIService"],
            env=env, cwd=HERE, stdout=out, stderr=subprocess.STDOUT)
    try:
        _wait_until_serving(amqp_uri, process, log)
        yield amqp_uri
    finally:
        process.terminate()
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        infra.delete_vhost(vhost)
        infra.drop_database(database)


@pytest.fixture
def rpc(amqp: str) -> Iterator[PlainRpc]:
    client = PlainRpc(amqp)
    yield client
    client.close()


def _result(reply: dict) -> object:
    assert reply["error"] is None, reply
    return reply["result"]


def _error(reply: dict) -> str:
    assert reply["result"] is None and reply["error"] is not None, reply
    return str(reply["error"]["exc_type"])


@pytest.fixture
def token(rpc: PlainRpc) -> tuple[dict, str]:
    email = f"p-{uuid.uuid4().hex[:10]}@example.com"
    user = _result(rpc.call("auth", "register", {}, email=email, password=PASSWORD))
    pair = _result(rpc.call("auth", "login", {}, email=email, password=PASSWORD))
    assert isinstance(user, dict) and isinstance(pair, dict)
    return user, pair["access_token"]


def _bearer(access: str) -> dict[str, str]:
    return {"nameko.authorization": access}


def test_identity_from_the_forwarded_token(rpc, token):
    user, access = token
    assert _result(rpc.call("whoami", "whoami", _bearer(access))) == {
        "user_id": user["id"], "roles": ["customer"]}


def test_no_token_or_forged_headers_are_unauthorized(rpc, token):
    user, access = token
    for headers in ({}, {"nameko.user_id": user["id"], "nameko.roles": ["admin"]},
                    _bearer(access[:-3] + "AAA"), _bearer("x")):
        assert _error(rpc.call("whoami", "whoami", headers)) == "Unauthorized"


def test_roles_are_enforced(rpc, token):
    _, access = token
    assert _error(rpc.call("whoami", "admin_only", _bearer(access))) == "Forbidden"


def test_the_token_travels_on_to_nested_calls(rpc, token):
    user, access = token
    assert _result(rpc.call("whoami", "me_via_auth", _bearer(access)))["id"] == user["id"]
