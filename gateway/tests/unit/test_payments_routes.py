"""Payments routes and /me/overview against a scripted RPC client (no broker, no services)."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest
from fastapi import FastAPI
from starlette.testclient import TestClient

from gateway.security import current_admin, current_user
from shared.errors import NotFound, ServiceUnavailable, UpstreamTimeout
from shared.tokens import Identity

ME = Identity(user_id=str(uuid.uuid4()), roles=("customer", "admin"))
PAYMENT = {"id": str(uuid.uuid4()), "user_id": ME.user_id, "status": "succeeded", "amount": 2000,
           "currency": "USD", "refunded_amount": 0, "decline_code": None,
           "created_at": "2026-11-22T05:45:13.123456Z",
           "items": [{"product_id": str(uuid.uuid4()), "sku": "S1", "name": "Old name",
                      "unit_price": 1000, "quantity": 2}]}
BODY = {"items": [{"product_id": PAYMENT["items"][0]["product_id"], "quantity": 2}],
        "payment_method": "tok_visa"}


class ScriptedRpc:
    connected = True

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, tuple[Any, ...], dict[str, Any]]] = []
        self.answers: dict[tuple[str, str], Any] = {}

    async def call(self, service: str, method: str, *args: Any, context: Any = None,
                   timeout: float | None = None, **kwargs: Any) -> Any:
        self.calls.append((service, method, args, kwargs))
        answer = self.answers[(service, method)]
        if isinstance(answer, BaseException):
            raise answer
        if answer == "hang":
            await asyncio.sleep(timeout or 5)
            raise UpstreamTimeout("too slow")
        return answer


@pytest.fixture
def fake_rpc() -> ScriptedRpc:
    return ScriptedRpc()


@pytest.fixture
def rpc(app: FastAPI, fake_rpc: ScriptedRpc) -> ScriptedRpc:
    app.dependency_overrides[current_user] = lambda: ME
    app.dependency_overrides[current_admin] = lambda: ME
    return fake_rpc


@pytest.fixture
def http(app: FastAPI, rpc: ScriptedRpc) -> TestClient:
    return TestClient(app, raise_server_exceptions=False)


@pytest.mark.parametrize("headers", [{}, {"Idempotency-Key": ""},
                                     {"Idempotency-Key": "k" * 256}])
def test_checkout_needs_a_sane_key(http, rpc, headers):
    response = http.post("/payments", json=BODY, headers=headers)
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/problem+json"
    assert rpc.calls == []


@pytest.mark.parametrize("body", [
    {**BODY, "items": [{**BODY["items"][0], "unit_price": 1}]},  # no client prices
    {**BODY, "items": [{**BODY["items"][0], "quantity": 1.0}]},
    {**BODY, "amount": 1}, {"items": [], "payment_method": "tok_visa"},
])
def test_checkout_bodies_are_strict(http, rpc, body):
    response = http.post("/payments", json=body, headers={"Idempotency-Key": "k"})
    assert response.status_code == 422 and rpc.calls == []


def test_checkout_forwards_key_and_body_and_answers_the_outcome(http, rpc):
    rpc.answers[("payments", "checkout")] = {"status": 201, "body": PAYMENT, "replayed": False}
    response = http.post("/payments", json=BODY, headers={"Idempotency-Key": "k" * 255})
    assert (response.status_code, response.json()) == (201, PAYMENT)
    assert "idempotent-replayed" not in response.headers
    assert response.headers["location"] == f"/payments/{PAYMENT['id']}"
    assert rpc.calls == [("payments", "checkout", ("k" * 255, BODY), {})]


def test_a_replayed_decline_is_a_402_problem_with_the_replay_header(http, rpc):
    problem = {"type": "t", "title": "Payment Required", "status": 402, "detail": "d",
               "request_id": "first", "decline_code": "card_declined",
               "payment_id": PAYMENT["id"]}
    rpc.answers[("payments", "checkout")] = {"status": 402, "body": problem, "replayed": True}
    response = http.post("/payments", json=BODY, headers={"Idempotency-Key": "k"})
    assert (response.status_code, response.json()) == (402, problem)
    assert response.headers["idempotent-replayed"] == "true"
    assert response.headers["content-type"] == "application/problem+json"


def test_refund_without_a_body_refunds_what_is_left(http, rpc):
    refund = {"id": str(uuid.uuid4()), "payment_id": PAYMENT["id"], "amount": 2000,
              "currency": "USD", "restock": False, "created_at": PAYMENT["created_at"]}
    rpc.answers[("payments", "refund")] = {"status": 201, "body": refund, "replayed": False}
    response = http.post(f"/payments/{PAYMENT['id']}/refunds", headers={"Idempotency-Key": "r"})
    assert (response.status_code, response.json()) == (201, refund)
    assert rpc.calls[-1][2] == (PAYMENT["id"], "r", {"amount": None, "restock": False})
    with_body = http.post(f"/payments/{PAYMENT['id']}/refunds", json={"amount": 5},
                          headers={"Idempotency-Key": "r2"})
    assert with_body.status_code == 201
    assert rpc.calls[-1][2] == (PAYMENT["id"], "r2", {"amount": 5, "restock": False})
    not_json = http.post(f"/payments/{PAYMENT['id']}/refunds", content=b"amount=5",
                         headers={"Idempotency-Key": "r3", "content-type": "text/plain"})
    assert not_json.status_code == 415


def test_reads_pass_ids_and_paging_through(http, rpc):
    rpc.answers[("payments", "list_payments")] = {"items": [PAYMENT], "next_cursor": None}
    rpc.answers[("payments", "get_payment")] = NotFound("No such payment.")
    assert http.get("/payments?limit=5&cursor=abc").json()["items"] == [PAYMENT]
    assert rpc.calls[-1][3] == {"limit": 5, "cursor": "abc", "user_id": None}
    assert http.get("/payments?limit=101").status_code == 422
    assert http.get("/payments/not-a-uuid").status_code == 404


def test_overview_fills_in_names_and_totals(http, rpc):
    user = {"id": ME.user_id, "email": "a@b.c", "display_name": None, "roles": ["customer"],
            "created_at": "2026-11-22T05:45:13Z"}
    rpc.answers.update({
        ("auth", "get_user"): user,
        ("payments", "list_payments"): {"items": [PAYMENT], "next_cursor": None},
        ("payments", "spent_totals"): [{"amount": 2000, "currency": "USD"}],
        ("catalog", "get_products"): [{"id": PAYMENT["items"][0]["product_id"],
                                       "name": "New name"}]})
    body = http.get("/me/overview").json()
    assert body["degraded"] == [] and body["user"]["email"] == "a@b.c"
    assert body["recent_payments"][0]["items"][0]["name"] == "New name"
    assert body["total_spent"] == [{"amount": 2000, "currency": "USD"}]
    assert ("payments", "list_payments", (), {"limit": 5}) in rpc.calls


def test_overview_degrades_instead_of_failing(http, rpc):
    rpc.answers.update({
        ("auth", "get_user"): "hang",
        ("payments", "list_payments"): ServiceUnavailable("down"),
        ("payments", "spent_totals"): UpstreamTimeout("slow")})
    response = http.get("/me/overview")
    assert response.status_code == 200
    assert response.json() == {"user": None, "recent_payments": None, "total_spent": None,
                               "degraded": ["auth", "payments"]}
