"""Refunds: each one the client was told about is recorded, and a restocking refund put every
unit of its payment back exactly once (its payment_refunded event applied by the catalog)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from chaos.history import Op
from chaos.state import Snapshot

if TYPE_CHECKING:
    from chaos.checker import Verdict


def refunded(verdict: Verdict, pid: str, where: str, snap: Snapshot,
              reservation: dict[str, Any] | None) -> None:
    refunds, events = snap.refunds.get(pid, []), snap.refunded_events.get(pid, [])
    if len(events) != len(refunds):
        verdict.add("duplicated" if len(events) > len(refunds) else "lost",
                    f"{where}: {len(refunds)} refunds, {len(events)} payment_refunded events")
    for event_id in events:
        if event_id not in snap.inbox:
            verdict.add("lost", f"{where}: refund event {event_id} never applied by catalog")
    restocks = snap.restock_movements.get(pid, 0)
    if not any(r.restock for r in refunds):
        if restocks:
            verdict.add("unexpected", f"{where}: restocked without a restock refund")
        return
    items = len(reservation["items"]) if reservation else 0
    if reservation is None or not reservation["restocked"] or restocks != items:
        verdict.add("duplicated" if restocks > items else "lost",
                    f"{where}: refunded with restock, reservation "
                    f"{reservation and reservation['status']} restocked "
                    f"{reservation and reservation['restocked']}, {restocks} restock movements "
                    f"for {items} items")



def refund_ops(verdict: Verdict, refunds: list[Op], snap: Snapshot) -> None:
    for op in refunds:
        key, where = snap.keys.get(op.key or ""), f"refund #{op.id} of {op.payment_id}"
        if key is not None and key.state != "completed":
            verdict.add("invariant", f"{where}: key still {key.state}")
        if op.outcome != "ok":
            continue
        rows = snap.refunds.get(op.payment_id or "", [])
        payment = snap.payments.get(op.payment_id or "")
        if key is None or str(key.resource_id) != op.result.get("id") or \
                op.result.get("id") not in {str(r.id) for r in rows} or \
                payment is None or payment.status != "refunded":
            verdict.add("lost", f"{where}: 201 but refund {op.result.get('id')} rows "
                                f"{len(rows)}, payment {payment and payment.status}")
