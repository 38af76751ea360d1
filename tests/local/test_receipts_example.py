"""examples/receipts, an outside consumer with its own broker user, gets payment_succeeded
exactly once per checkout from the running suite."""

from __future__ import annotations

import os
import secrets
import signal
import sqlite3
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from tests.support import infra

pytestmark = pytest.mark.e2e
EXAMPLE = infra.ROOT / "examples" / "receipts"
QUEUE = "receipts.payments.payment_succeeded"


def rabbitmqctl(*args: str) -> str:
    return subprocess.run(["rabbitmqctl", "-q", *args], capture_output=True, text=True,
                          timeout=60, check=True).stdout


@pytest.fixture
def receipts_user(amqp_uri: str) -> Iterator[str]:
    """The provisioning docs/extending.md describes: its own user, its own queues, binding to
    the public payment_succeeded events only."""
    parts = urlsplit(amqp_uri)
    vhost, user, password = parts.path.lstrip("/"), infra.unique("receipts"), secrets.token_hex(12)
    rabbitmqctl("add_user", user, password)
    try:
        rabbitmqctl("set_permissions", "-p", vhost, user, r"^receipts\.", r"^receipts\.",
                    r"^(receipts\..*|payments\.events)$")
        rabbitmqctl("set_topic_permissions", "-p", vhost, user, "payments.events", "^$",
                    "^payment_succeeded$")
        yield f"amqp://{user}:{password}@{parts.hostname}:{parts.port}/{vhost}"
    finally:
        rabbitmqctl("delete_user", user)
        rabbitmqctl("delete_queue", "-p", vhost, QUEUE)


@pytest.fixture
def receipts(receipts_user: str, amqp_uri: str, tmp_path: Path) -> Iterator[Path]:
    db = tmp_path / "receipts.sqlite3"
    env = {**os.environ, "RECEIPTS_AMQP_URI": receipts_user, "RECEIPTS_DB": str(db),
           "PYTHONPATH": str(EXAMPLE)}
    log = (tmp_path / "receipts.log").open("wb")
    process = subprocess.Popen([str(Path(sys.executable).parent / "nameko"), "run", "--config",
                                "config.yaml", "receipts.service:ReceiptsService"], cwd=EXAMPLE,
                               env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_for_consumer(urlsplit(amqp_uri).path.lstrip("/"), process, tmp_path)
        yield db
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(30)
        log.close()


def wait_for_consumer(vhost: str, process: subprocess.Popen[bytes], tmp_path: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert process.poll() is None, (tmp_path / "receipts.log").read_text()
        for line in rabbitmqctl("list_queues", "-p", vhost, "name", "consumers").splitlines():
            if line.split() == [QUEUE, "1"]:
                return
        time.sleep(0.5)
    raise AssertionError((tmp_path / "receipts.log").read_text())


def rows(db: Path) -> list[tuple[str, int]]:
    with sqlite3.connect(db) as conn:
        return list(conn.execute("SELECT payment_id, deliveries FROM receipts"))


def test_each_checkout_reaches_the_outside_consumer_exactly_once(
        suite: object, receipts: Path, suite_env: dict[str, str]) -> None:
    url = suite.url  # type: ignore[attr-defined]
    with httpx.Client(base_url=url, timeout=30) as http:
        admin = bearer(http, suite_env["ADMIN_EMAIL"], suite_env["ADMIN_PASSWORD"])
        product = http.post("/products", headers=admin, json={
            "sku": f"RCPT-{uuid.uuid4().hex[:8]}", "name": "Receipt paper", "price": 450,
            "currency": "EUR", "stock": 50}).json()["id"]
        email = f"{uuid.uuid4().hex[:10]}@receipts.test"
        http.post("/auth/register", json={"email": email, "password": "paper-trail-2026"})
        customer = bearer(http, email, "paper-trail-2026")
        paid = []
        for card, key in [("tok_visa", "a"), ("tok_visa", "b"), ("tok_chargeDeclined", "c"),
                          ("tok_visa", "a"), ("tok_visa", "d")]:  # "a" again: a replay
            answer = http.post("/payments", headers={**customer, "Idempotency-Key": key},
                               json={"items": [{"product_id": product, "quantity": 1}],
                                     "payment_method": card})
            if answer.status_code == 201 and answer.headers.get("Idempotent-Replayed") is None:
                paid.append(answer.json()["id"])
    assert len(paid) == 3
    deadline = time.monotonic() + 30
    while len(rows(receipts)) < len(paid) and time.monotonic() < deadline:
        time.sleep(0.3)
    time.sleep(2)  # a duplicate would arrive now
    assert sorted(rows(receipts)) == sorted((payment, 1) for payment in paid)


def bearer(http: httpx.Client, email: str, password: str) -> dict[str, str]:
    token = http.post("/auth/login", json={"email": email, "password": password})
    assert token.status_code == 200, token.text
    return {"Authorization": f"Bearer {token.json()['access_token']}"}
