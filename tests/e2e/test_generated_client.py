"""A client generated from the served /openapi.json by openapi-python-client works against the
running suite: register, login, checkout (paid, replayed, declined), refund and overview, each
answer parsed into the generated models the document promised."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest

PACKAGE = "suite_generated_client"
PASSWORD = "generated client password"


@pytest.fixture(scope="module")
def generated(suite: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ModuleType]:
    """The generated package, built in a temp dir from the document the gateway serves."""
    root = tmp_path_factory.mktemp("client")
    spec = root / "openapi.json"
    spec.write_text(json.dumps(httpx.get(f"{suite.url}/openapi.json", timeout=10).json()))
    config = root / "config.json"
    config.write_text(json.dumps({"post_hooks": []}))  # no formatter run on the output
    result = subprocess.run(
        [str(Path(sys.executable).with_name("openapi-python-client")), "generate",
         "--path", str(spec), "--meta", "none", "--config", str(config),
         "--output-path", str(root / PACKAGE)],
        capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Warning" not in result.stdout, result.stdout  # every piece generated
    sys.path.insert(0, str(root))
    try:
        yield importlib.import_module(PACKAGE)
    finally:
        sys.path.remove(str(root))
        for name in [name for name in sys.modules if name.startswith(PACKAGE)]:
            del sys.modules[name]


def part(name: str) -> Any:
    return importlib.import_module(f"{PACKAGE}.{name}")


def signed_in(generated: ModuleType, url: str, email: str, password: str) -> Any:
    models = part("models")
    answer = part("api.auth.login").sync_detailed(
        client=generated.Client(base_url=url), body=models.Credentials(email, password))
    assert answer.status_code == 200, answer.content
    assert answer.headers["cache-control"] == "no-store"
    return generated.AuthenticatedClient(base_url=url, token=answer.parsed.access_token)


def test_register_login_checkout_refund_overview(generated: ModuleType, suite: Any,
                                                 suite_env: dict[str, str]):
    models, url = part("models"), suite.url
    # The admin the suite bootstraps from ADMIN_EMAIL / ADMIN_PASSWORD (root conftest).
    admin = signed_in(generated, url, suite_env["ADMIN_EMAIL"], suite_env["ADMIN_PASSWORD"])
    created = part("api.catalog.create_product").sync_detailed(client=admin, body=models.NewProduct(
        sku=f"GEN-{uuid.uuid4().hex[:8]}", name="Generated mug", price=1250, currency="EUR",
        stock=5))
    assert created.status_code == 201, created.content
    product = created.parsed
    assert isinstance(product, models.Product)
    assert created.headers["etag"] == f'"{product.version}"'
    assert created.headers["location"] == f"/products/{product.id}"

    email = f"gen-{uuid.uuid4().hex[:8]}@example.com"
    registered = part("api.auth.register").sync_detailed(
        client=generated.Client(base_url=url),
        body=models.Registration(email=email, password=PASSWORD, display_name="Gen"))
    assert registered.status_code == 201, registered.content
    assert isinstance(registered.parsed, models.User)
    assert registered.headers["x-request-id"]
    customer = signed_in(generated, url, email, PASSWORD)

    checkout = part("api.payments.checkout")
    order = models.CheckoutRequest(
        items=[models.CheckoutItem(product_id=product.id, quantity=2)], payment_method="tok_visa")
    key = uuid.uuid4().hex
    paid = checkout.sync_detailed(client=customer, body=order, idempotency_key=key)
    assert paid.status_code == 201, paid.content
    payment = paid.parsed
    assert isinstance(payment, models.Payment)
    assert (payment.status, payment.amount, payment.currency) == ("succeeded", 2500, "EUR")
    assert paid.headers["location"] == f"/payments/{payment.id}"

    replayed = checkout.sync_detailed(client=customer, body=order, idempotency_key=key)
    assert replayed.status_code == 201
    assert replayed.headers["idempotent-replayed"] == "true"
    assert replayed.parsed.id == payment.id

    declined = checkout.sync_detailed(client=customer, body=models.CheckoutRequest(
        items=order.items, payment_method="tok_chargeDeclined"), idempotency_key=uuid.uuid4().hex)
    assert declined.status_code == 402
    assert isinstance(declined.parsed, models.Declined)
    assert declined.parsed.decline_code == "card_declined"

    refunded = part("api.payments.refund_payment").sync_detailed(
        str(payment.id), client=admin, body=models.RefundRequest(amount=1000),
        idempotency_key=uuid.uuid4().hex)
    assert refunded.status_code == 201, refunded.content
    assert isinstance(refunded.parsed, models.Refund)
    assert refunded.parsed.amount == 1000

    overview = part("api.composite.get_overview").sync_detailed(client=customer)
    assert overview.status_code == 200
    assert isinstance(overview.parsed, models.Overview)
    assert overview.parsed.degraded == []
    assert [(m.amount, m.currency) for m in overview.parsed.total_spent] == [(1500, "EUR")]
    statuses = [p.status for p in overview.parsed.recent_payments]
    assert statuses == ["failed", "partially_refunded"]


def test_errors_parse_as_problems(generated: ModuleType, suite: Any):
    models = part("models")
    missing = part("api.catalog.get_product").sync_detailed(
        "not-a-uuid", client=generated.Client(base_url=suite.url))
    assert missing.status_code == 404
    assert isinstance(missing.parsed, models.Problem)
    assert missing.parsed.request_id == missing.headers["x-request-id"]

    anonymous = part("api.composite.get_overview").sync_detailed(
        client=generated.AuthenticatedClient(base_url=suite.url, token="not a token"))
    assert anonymous.status_code == 401
    assert isinstance(anonymous.parsed, models.Problem)
