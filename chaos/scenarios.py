"""Targeted faults that need the client's help (nemesis kind `reorder`).

refund_before_sale: a payment succeeds, the catalog is frozen (SIGSTOP) before it applied the
payment_succeeded event, the admin refunds the payment with restock, and the catalog is killed
(SIGKILL): on restart both events wait in their own queues and either may be handled first.
Regression for the restock that was dropped when the refund came first (docs/reliability.md).
The checkout and the refund are recorded in the history like any other operation.
"""

from __future__ import annotations

import asyncio
import signal
import time
import uuid
from typing import Any

from chaos.client import post_until_definite
from chaos.state import Databases
from chaos.suite import Suite
from chaos.workload import Workload

TRIES = 10  # checkouts to catch one whose sale the catalog has not applied yet
ROUNDS = 3  # which event the restarted catalog takes first is a coin toss: toss it thrice
FIRST = ("restock refused", "not applied yet")  # the catalog's log when the refund came first


async def refund_before_sale(workload: Workload, suite: Suite, db: Databases) -> dict[str, Any]:
    payments: list[str] = []
    for _ in range(ROUNDS):
        payment_id = await _round(workload, suite, db)
        if payment_id is None:
            break
        payments.append(payment_id)
        await asyncio.to_thread(suite.wait_ready, 120.0)
    await asyncio.sleep(3)  # the last restart's deliveries
    log = (suite.supervisor.logdir / "catalog.log").read_text(errors="replace").splitlines()
    first = [p for p in payments if any(p in line and any(f in line for f in FIRST)
                                        for line in log)]
    return {"payments": len(payments), "refund_first": len(first), "killed": "catalog"}


async def _round(workload: Workload, suite: Suite, db: Databases) -> str | None:
    """One payment refunded (with restock) while the catalog is frozen before its sale, then
    the catalog killed; the payment id, or None if the workload ended first."""
    world, history = workload.world, workload.history
    customer, admin = world.customers[0], world.admin
    product = max(world.products, key=lambda p: world.products[p])  # one that does not run out
    for _ in range(TRIES):
        op = history.new("checkout", user=customer.email, key=str(uuid.uuid4()), request={
            "items": [{"product_id": product, "quantity": 1}], "payment_method": "tok_visa"})
        status, body = await post_until_definite(workload.client, op, "/payments", customer,
                                                 workload.stopping, workload.rng)
        if status is None:
            return None
        if status != 201:
            op.unexpected = f"HTTP {status}: {str(body)[:200]}"
            history.complete(op, "fail", status)
            continue
        op.payment_id, op.result = body["id"], {k: body.get(k) for k in ("id", "amount")}
        history.complete(op, "ok", status)
        suite.supervisor.kill("catalog", signal.SIGSTOP)
        if await asyncio.to_thread(_reservation, db, body["id"]) == "active":
            break
        suite.supervisor.kill("catalog", signal.SIGCONT)  # it was quicker: try again
    else:
        return None
    refund = history.new("refund", user=admin.email, key=str(uuid.uuid4()),
                         request={"restock": True}, payment_id=body["id"])
    status, answer = await post_until_definite(
        workload.client, refund, f"/payments/{body['id']}/refunds", admin, workload.stopping,
        workload.rng)
    if status is not None:
        refund.result = {k: answer.get(k) for k in ("id", "amount", "restock")}
        refund.unexpected = None if status == 201 else f"HTTP {status}: {str(answer)[:200]}"
        history.complete(refund, "ok" if status == 201 else "fail", status)
    await asyncio.to_thread(_outbox_drained, db)
    suite.supervisor.kill("catalog", signal.SIGKILL)  # both events go back to their queues
    return str(body["id"])


def _reservation(db: Databases, payment_id: str) -> str | None:
    status: str | None = db.scalar("catalog", "SELECT status FROM reservations WHERE id = :i",
                                   i=payment_id)
    return status


def _outbox_drained(db: Databases, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and db.scalar(
            "payments", "SELECT count(*) FROM outbox WHERE published_at IS NULL"):
        time.sleep(0.1)
