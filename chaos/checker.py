"""The checker: the client's history against what every service's database ended up with.

Violations fall in four classes, each must be 0:
- lost: the client was told 201 (or 200 for a login) but an effect is missing (payment, charge,
  ledger, committed reservation, stock movement, the event applied, the refresh token);
- duplicated: an effect happened more than once (charges for one key, stock sold twice for one
  payment, an event applied twice, two payment_succeeded events for one payment);
- unexpected: an answer or a state the contract does not allow (a declined payment that was
  charged, a payment nobody asked for, 422 for a valid request, a negative `available`);
- invariant: stock conservation per product, the ledger reconciliation, every payment terminal,
  nothing still reserved or in flight, DLQs holding exactly the injected poison.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from chaos.history import Op
from chaos.invariants import CHARGED, TERMINAL, stock
from chaos.refund_checks import refund_ops, refunded
from chaos.state import Snapshot


@dataclass
class Verdict:
    violations: dict[str, list[str]] = field(default_factory=lambda: {
        "lost": [], "duplicated": [], "unexpected": [], "invariant": []})
    stats: dict[str, Any] = field(default_factory=dict)

    def add(self, kind: str, message: str) -> None:
        self.violations[kind].append(message)

    @property
    def ok(self) -> bool:
        return not any(self.violations.values())


def check(ops: list[Op], snap: Snapshot, initial: dict[str, int], parked: list[dict[str, Any]],
          poison_ids: set[str]) -> Verdict:
    verdict = Verdict()
    _checkouts(verdict, [op for op in ops if op.kind == "checkout"], snap)
    for op in ops:
        if op.unexpected:
            verdict.add("unexpected", f"{op.kind} #{op.id}: {op.unexpected}")
        if op.kind == "login" and op.outcome == "ok" and \
                op.result.get("refresh_token_sha256") not in snap.refresh_hashes:
            verdict.add("lost", f"login #{op.id}: 200 but its refresh token is not stored")
    refund_ops(verdict, [op for op in ops if op.kind == "refund"], snap)
    _payments(verdict, {op.key for op in ops if op.kind in ("checkout", "refund")}, snap)
    stock(verdict, snap, initial)
    for mismatch in snap.reconcile:
        verdict.add("invariant", f"ledger reconcile: {mismatch}")
    found = Counter(p["id"] for p in parked)
    if found != Counter(poison_ids):
        verdict.add("invariant", f"DLQs hold {sorted(found.items())}, expected exactly the "
                                 f"poison {sorted(poison_ids)}: {parked[:5]}")
    return verdict


def _checkouts(verdict: Verdict, checkouts: list[Op], snap: Snapshot) -> None:
    recovered: Counter[str] = Counter()
    for op in checkouts:
        key = snap.keys.get(op.key or "")
        where = f"checkout #{op.id} (key {op.key})"
        if key is not None and key.state != "completed":
            verdict.add("invariant", f"{where}: key still {key.state}")
        if op.outcome == "indeterminate":
            recovered["completed " + str(key.status_code) if key is not None
                      else "never took effect"] += 1
            continue
        if op.unexpected:
            continue
        if key is None or key.status_code != op.status:
            verdict.add("lost" if op.status == 201 else "unexpected",
                        f"{where}: client got {op.status}, stored outcome "
                        f"{None if key is None else key.status_code}")
            continue
        payment = snap.payments.get(str(key.resource_id))
        if op.status == 201:
            if op.payment_id != str(key.resource_id) or payment is None or \
                    payment.status not in CHARGED or payment.amount != op.result.get("amount"):
                verdict.add("lost", f"{where}: 201 for {op.payment_id}, payment row "
                                    f"{None if payment is None else payment.status}")
        elif op.status == 402 and (payment is None or payment.status != "failed"):
            verdict.add("unexpected", f"{where}: 402 but the payment is "
                                      f"{None if payment is None else payment.status}")
        elif op.status == 409 and payment is not None:
            verdict.add("unexpected", f"{where}: 409 out of stock but payment {payment.id} exists")
    verdict.stats["indeterminate_checkouts"] = dict(recovered)


def _payments(verdict: Verdict, client_keys: set[str | None], snap: Snapshot) -> None:
    owners = {str(k.resource_id): key for key, k in snap.keys.items()}
    for charge_key in snap.stray_charges:
        verdict.add("unexpected", f"charge {charge_key} for no payment")
    for pid, payment in snap.payments.items():
        where = f"payment {pid}"
        if owners.get(pid) not in client_keys:
            verdict.add("unexpected", f"{where}: no client request created it")
        if payment.status not in TERMINAL:
            verdict.add("invariant", f"{where}: not terminal ({payment.status})")
        charges = snap.charges.get(pid, [])
        won = [c for c in charges if c.status == "succeeded"]
        if len(charges) > 1 or len(won) > 1:
            verdict.add("duplicated", f"{where}: {len(charges)} charges")
        events = snap.succeeded_events.get(pid, [])
        reservation = snap.reservations.get(pid)
        sold = snap.sold_movements.get(pid, 0)
        if payment.status in CHARGED:
            _charged(verdict, where, snap, won, events, reservation, sold)
            refunded(verdict, pid, where, snap, reservation)
        else:
            if won:
                verdict.add("unexpected", f"{where}: {payment.status} but charged")
            if sold or (reservation is not None and reservation["status"] == "committed"):
                verdict.add("unexpected", f"{where}: {payment.status} but stock was sold")


def _charged(verdict: Verdict, where: str, snap: Snapshot, won: list[Any], events: list[str],
             reservation: dict[str, Any] | None, sold: int) -> None:
    if not won:
        verdict.add("lost", f"{where}: succeeded without a captured charge")
    if len(events) != 1:
        verdict.add("duplicated" if events else "lost",
                    f"{where}: {len(events)} payment_succeeded events")
    for event_id in events:
        if event_id not in snap.inbox:
            verdict.add("lost", f"{where}: event {event_id} never applied by catalog")
    if reservation is None or reservation["status"] != "committed":
        verdict.add("lost", f"{where}: reservation "
                            f"{None if reservation is None else reservation['status']}")
    elif sold != len(reservation["items"]):
        verdict.add("duplicated" if sold > len(reservation["items"]) else "lost",
                    f"{where}: {sold} sold movements for {len(reservation['items'])} items")
